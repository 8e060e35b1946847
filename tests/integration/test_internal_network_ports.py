"""-p/-P with a container on an internal network (`network create --internal`), as Docker 1.12 to 28:
the run is accepted and publishes nothing (no host port bound, no rule naming the container, inspect's
NetworkSettings.Ports empty while HostConfig.PortBindings keeps what was asked, `docker port` prints
nothing). Connected later to a network that is not internal, the container publishes there, as the
first non-internal endpoint gets the port options in Docker; connected to an internal network later,
a container publishing from another network keeps its ports where they are. Our CLI and the docker
CLI 28 (Remote API 1.24)."""

from __future__ import annotations

import json
import socket
import subprocess

import pytest

from lib.clients import cli28
from lib.daemon import Daemon
from lib.poll import poll
from lib.require import require_tools
from lib.unixhttp import request
from lib.usernets import create_network as create
from lib.usernets import free_subnets, nets_cleaned_after

require_tools("ip", "iptables", "iptables-save", module=True)

pytestmark = pytest.mark.root

HTTPD = "mkdir -p /www && echo hello-from-$(hostname) > /www/index.html && exec httpd -f -v -p 80 -h /www"


@pytest.fixture
def nets():
    yield from nets_cleaned_after("ldi")


@pytest.fixture
def idaemon(daemon_factory, busybox_tar, test_bridge):
    return daemon_factory("-b", test_bridge).start().import_busybox(busybox_tar)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


def fetch(port: int) -> str:
    def get() -> str:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                s.sendall(b"GET /index.html HTTP/1.0\r\n\r\n")
                page = s.makefile("rb").read().decode(errors="replace")
        except OSError:
            return ""
        return page if "hello-from-" in page else ""

    return poll(get, timeout=20, what=f"a page from 127.0.0.1:{port}")


def rules_naming(ip: str) -> list[str]:
    """Every iptables rule (any table) with `ip` as an address or DNAT destination."""
    dump = subprocess.run(["iptables-save"], capture_output=True, text=True, check=True).stdout
    return [
        line
        for line in dump.splitlines()
        if any(word.split("/")[0].split(":")[0] == ip for word in line.split())
    ]


def inspect(d: Daemon, name: str) -> dict:
    """The container as API 1.24 shows it (our CLI speaks an older version, without Networks)."""
    status, _, body = request(d.sock, "GET", f"/v1.24/containers/{name}/json")
    assert status == 200, body
    return json.loads(body)


def ip_on(doc: dict, network: str) -> str:
    return doc["NetworkSettings"]["Networks"][network]["IPAddress"]


def test_internal_network_publishes_nothing_with_our_cli(idaemon, nets):
    create(idaemon, nets, "inner", "--internal", "--subnet", free_subnets(1)[0])
    port = free_port()
    idaemon.out(
        "run", "-d", "--name", "web", "--net", "inner", "-p", f"127.0.0.1:{port}:80", "-P", "--expose", "81",
        "busybox", "sh", "-c", HTTPD,
    )  # fmt: skip
    doc = inspect(idaemon, "web")
    assert doc["State"]["Running"] is True
    assert doc["HostConfig"]["PortBindings"] == {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(port)}]}
    assert doc["HostConfig"]["PublishAllPorts"] is True
    assert doc["NetworkSettings"]["Ports"] == {}
    assert json.loads(idaemon.out("inspect", "web"))[0]["NetworkSettings"]["Ports"] == {}
    ip = ip_on(doc, "inner")
    assert ip and rules_naming(ip) == []
    assert refused(port)
    shown = idaemon.cli("port", "web", check=True)
    assert shown.stdout == b""
    assert "->" not in idaemon.out("ps")
    # Its neighbours on the network still reach it: the network is internal, not the container cut off.
    page = idaemon.out("run", "--rm", "--net", "inner", "busybox", "wget", "-qO-", f"http://{ip}/index.html")
    assert page.startswith("hello-from-")
    idaemon.out("rm", "-f", "web")
    idaemon.out("network", "rm", "inner")
    assert nets.tagged_rules() == [] and nets.links() == []


def test_internal_network_publishes_nothing_with_docker_cli_28(idaemon, nets):
    docker = cli28(idaemon.host, text=True)
    create(idaemon, nets, "inner28", "--internal", "--subnet", free_subnets(1)[0])
    port = free_port()
    docker("run", "-d", "--name", "w28", "--network", "inner28", "-p", f"127.0.0.1:{port}:80",
           "busybox", "sh", "-c", HTTPD)  # fmt: skip
    doc = json.loads(docker("inspect", "w28").stdout)[0]
    assert doc["State"]["Running"] is True
    assert doc["HostConfig"]["PortBindings"] == {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(port)}]}
    assert doc["NetworkSettings"]["Ports"] == {}
    out = docker("port", "w28")
    assert out.returncode == 0 and out.stdout == ""
    assert rules_naming(ip_on(doc, "inner28")) == [] and refused(port)
    docker("rm", "-f", "w28")
    docker("network", "rm", "inner28")
    assert nets.tagged_rules() == [] and nets.links() == []


def test_connect_to_a_non_internal_network_publishes_there(idaemon, nets):
    inner, outer = free_subnets(2)
    create(idaemon, nets, "inner", "--internal", "--subnet", inner)
    create(idaemon, nets, "outer", "--subnet", outer)
    port = free_port()
    idaemon.out("run", "-d", "--name", "web", "--net", "inner", "-p", f"127.0.0.1:{port}:80",
                "busybox", "sh", "-c", HTTPD)  # fmt: skip
    assert refused(port)
    idaemon.out("network", "connect", "outer", "web")
    doc = inspect(idaemon, "web")
    assert doc["NetworkSettings"]["Ports"] == {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(port)}]}
    assert fetch(port)
    # The ports go to its address on the non-internal network, never to the internal one.
    assert rules_naming(ip_on(doc, "inner")) == []
    assert any("DNAT" in r for r in rules_naming(ip_on(doc, "outer")))
    # Disconnected from there, it publishes nothing again.
    idaemon.out("network", "disconnect", "outer", "web")
    assert inspect(idaemon, "web")["NetworkSettings"]["Ports"] == {}
    assert rules_naming(ip_on(doc, "outer")) == [] and refused(port)
    # Connected while stopped: the next start publishes on it (its NetworkMode network is internal).
    idaemon.out("network", "connect", "outer", "web")
    idaemon.out("stop", "-t", "1", "web")
    assert refused(port)
    idaemon.out("start", "web")
    assert idaemon.out("port", "web").strip() == f"80/tcp -> 127.0.0.1:{port}"
    assert fetch(port)
    idaemon.out("rm", "-f", "web")
    idaemon.out("network", "rm", "inner", "outer")
    assert nets.tagged_rules() == [] and nets.links() == []


def test_connect_to_an_internal_network_keeps_the_ports_where_they_are(idaemon, nets):
    outer, inner = free_subnets(2)
    create(idaemon, nets, "outer", "--subnet", outer)
    create(idaemon, nets, "inner", "--internal", "--subnet", inner)
    port = free_port()
    idaemon.out("run", "-d", "--name", "web", "--net", "outer", "-p", f"127.0.0.1:{port}:80",
                "busybox", "sh", "-c", HTTPD)  # fmt: skip
    assert fetch(port)
    idaemon.out("network", "connect", "inner", "web")
    doc = inspect(idaemon, "web")
    assert doc["NetworkSettings"]["Ports"] == {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(port)}]}
    assert rules_naming(ip_on(doc, "inner")) == []
    assert fetch(port)
    # Off the network it published from, with only the internal one left: nothing is published.
    idaemon.out("network", "disconnect", "outer", "web")
    assert inspect(idaemon, "web")["NetworkSettings"]["Ports"] == {}
    assert refused(port) and rules_naming(ip_on(doc, "inner")) == []
    idaemon.out("rm", "-f", "web")
    idaemon.out("network", "rm", "inner", "outer")
    assert nets.tagged_rules() == [] and nets.links() == []
