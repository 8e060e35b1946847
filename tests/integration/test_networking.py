"""Container networking through the daemon on a test bridge: addresses, published ports, links."""

from __future__ import annotations

import json
import time
import urllib.request

from lib.poll import poll

HTTPD = "mkdir -p /www && echo hello from $(hostname) > /www/index.html && exec httpd -f -p 8080 -h /www"


def wait_http(url: str, timeout: float = 10.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                return resp.read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_eth0_address_and_route(net_daemon, test_bridge):
    out = net_daemon.out("run", "busybox", "sh", "-c", "ip -4 addr show eth0; ip route")
    assert "inet 10." in out and "default via 10." in out
    doc = json.loads(net_daemon.out("inspect", net_daemon.out("ps", "-l", "-q").strip()))[0]
    settings = doc["NetworkSettings"]
    assert settings["IPAddress"].startswith("10.") and settings["Bridge"] == test_bridge
    assert settings["Gateway"].endswith(".1") and settings["IPPrefixLen"] == 24
    assert net_daemon.out("run", "-n=false", "busybox", "cat", "/proc/net/dev").count(":") == 1


def test_published_port_from_host_and_port_command(net_daemon):
    cid = net_daemon.out("run", "-d", "-p", "8080", "busybox", "sh", "-c", HTTPD).strip()
    try:
        mapping = net_daemon.out("port", cid, "8080").strip()
        host_ip, _, host_port = mapping.rpartition(":")
        assert host_ip == "0.0.0.0" and 49153 <= int(host_port) <= 65535
        assert "hello from" in wait_http(f"http://127.0.0.1:{host_port}/index.html")
        assert f"0.0.0.0:{host_port}->8080/tcp" in net_daemon.out("ps")
        missing = net_daemon.cli("port", cid, "9999")
        assert missing.returncode != 0 and b"No public port '9999' published" in missing.stderr
    finally:
        net_daemon.out("rm", "-f", cid)


def test_port_conflict_is_a_clear_error(net_daemon):
    import socket

    with socket.socket() as busy:
        busy.bind(("0.0.0.0", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        result = net_daemon.cli("run", "-p", f"{port}:8080", "busybox", "true")
        assert result.returncode != 0
        assert b"port is already allocated" in result.stderr or b"in use" in result.stderr
    assert "Up" not in net_daemon.out("ps")


def test_links_env_hosts_and_names(net_daemon):
    net_daemon.out(
        "run", "-d", "--name", "db", "--expose", "8080", "-e", "SECRET=s3", "busybox", "sh", "-c", HTTPD
    ).strip()
    try:
        db_ip = json.loads(net_daemon.out("inspect", "db"))[0]["NetworkSettings"]["IPAddress"]
        env = net_daemon.out("run", "--link", "db:db", "busybox", "env").splitlines()
        assert "DB_NAME=/" in "".join(e[:9] for e in env) or any(e.startswith("DB_NAME=/") for e in env)
        assert f"DB_PORT=tcp://{db_ip}:8080" in env
        assert f"DB_PORT_8080_TCP_ADDR={db_ip}" in env and "DB_PORT_8080_TCP_PROTO=tcp" in env
        assert "DB_ENV_SECRET=s3" in env
        hosts = net_daemon.out("run", "--link", "db:db", "busybox", "cat", "/etc/hosts")
        assert f"{db_ip}\tdb" in hosts
        page = net_daemon.out(
            "run", "--link", "db:db", "busybox", "wget", "-qO-", "http://db:8080/index.html"
        )
        assert page.startswith("hello from")
        web = net_daemon.out(
            "run", "-d", "--name", "webapp", "--link", "db:db", "busybox", "sleep", "60"
        ).strip()
        assert "webapp/db" in net_daemon.out("ps")
        net_daemon.out("rm", "--link", "/webapp/db")
        assert "webapp/db" not in net_daemon.out("ps")
        net_daemon.out("rm", "-f", web)
        net_daemon.out("run", "--name", "stopped_db", "busybox", "true")
        bad = net_daemon.cli("run", "--link", "stopped_db:x", "busybox", "true")
        assert bad.returncode != 0
        missing = net_daemon.cli("run", "--link", "ghost_db:x", "busybox", "true")
        assert missing.returncode != 0
    finally:
        net_daemon.cli("rm", "-f", "db", "webapp", "stopped_db")


def test_container_to_container_over_the_bridge(net_daemon):
    server = net_daemon.out("run", "-d", "busybox", "sh", "-c", HTTPD).strip()
    try:
        ip = json.loads(net_daemon.out("inspect", server))[0]["NetworkSettings"]["IPAddress"]

        def fetch() -> str:
            out = net_daemon.cli("run", "busybox", "wget", "-qO-", f"http://{ip}:8080/index.html").stdout
            return out.decode() if b"hello" in out else ""

        out = poll(fetch, what="the web server answering another container")
        assert "hello from" in out
    finally:
        net_daemon.out("rm", "-f", server)


def test_mac_address_of_eth0(net_daemon):
    """Config.MacAddress (`--mac-address`, API 1.15+) is eth0's address; a malformed one is a 400."""
    from lib.unixhttp import api

    body = {
        "Image": "busybox",
        "Cmd": ["cat", "/sys/class/net/eth0/address"],
        "MacAddress": "02:42:AC:11:00:0A",
    }
    status, created = api(net_daemon, "POST", "/v1.24/containers/create", body)
    assert status == 201, created
    cid = json.loads(created)["Id"]
    try:
        net_daemon.out("start", cid)
        assert net_daemon.out("wait", cid).strip() == "0"
        assert net_daemon.out("logs", cid) == "02:42:ac:11:00:0a\n"
        body["MacAddress"] = "02:42:ac:11:00"
        status, refused = api(net_daemon, "POST", "/v1.24/containers/create", body)
        assert status == 400 and b"is not a valid mac address" in refused, refused
    finally:
        net_daemon.out("rm", cid)
