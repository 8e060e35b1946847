"""User-defined networks, the rest of issue 11: ports published from a container on one (-p, -P,
the SDK's `ports=`) reached through 127.0.0.1 and the host's own address, `docker port`, their release
on rm, stop and disconnect and their return after a daemon crash; and IPv6 networks (--ipv6, --ip6,
addresses over the ULA between containers, AAAA answers of the embedded DNS), through our CLI, the
docker CLI 28 and the docker SDK for Python 7. Every rule the daemon made, ip6tables too, goes."""

from __future__ import annotations

import json
import os
import random
import re
import socket
import subprocess
import sys
import urllib.request

import pytest

from lib.clients import cli28
from lib.daemon import Daemon
from lib.poll import poll
from lib.require import require_module, require_tools
from lib.usernets import create_network as create
from lib.usernets import free_subnet6, free_subnets, nets_cleaned_after

require_tools("ip", "iptables", "iptables-save", "ip6tables", "ip6tables-save", module=True)

DOCKER_CLI = "/usr/local/bin/docker"
HTTPD = "mkdir -p /www && echo hello-from-$(hostname) > /www/index.html && exec httpd -f -v -p 80 -h /www"


@pytest.fixture
def nets():
    yield from nets_cleaned_after("ldp", ("iptables", "ip6tables"))


@pytest.fixture
def pdaemon(daemon_factory, busybox_tar, test_bridge):
    return daemon_factory("-b", test_bridge).start().import_busybox(busybox_tar)


def fetch(host: str, port: int | str) -> str:
    def get() -> str:
        try:
            with urllib.request.urlopen(f"http://{host}:{port}/index.html", timeout=5) as r:
                return r.read().decode()
        except OSError:
            return ""

    return poll(get, timeout=20, what=f"http://{host}:{port}/")


def host_address(bridge: str) -> str:
    """A non-loopback address of this host (the test bridge's), so the DNAT path is taken."""
    out = subprocess.run(["ip", "-4", "-o", "addr", "show", "dev", bridge], capture_output=True, text=True)
    return out.stdout.split()[3].split("/")[0]


# -- published ports ---------------------------------------------------------------------------------


def test_publish_on_a_user_network_with_our_cli(pdaemon, nets, test_bridge):
    bridge = create(pdaemon, nets, "pubnet", "--subnet", free_subnets(1)[0])
    cid = pdaemon.out(
        "run", "-d", "--name", "web", "--net", "pubnet", "-p", "80", "busybox", "sh", "-c", HTTPD
    )
    cid = cid.strip()
    port = pdaemon.out("port", "web", "80").strip().rsplit(":", 1)[1]
    assert fetch("127.0.0.1", port).startswith("hello-from-")
    assert fetch(host_address(test_bridge), port).startswith("hello-from-")
    settings = json.loads(pdaemon.out("inspect", "web"))[0]["NetworkSettings"]
    assert settings["Ports"] == {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": port}]}
    (member,) = json.loads(pdaemon.out("network", "inspect", "pubnet"))[0]["Containers"].values()
    ip = member["IPv4Address"].split("/")[0]
    rules = [line for _, _, line in nets.tagged_rules()]
    assert any(f"--to-destination {ip}:80" in r and f"--dport {port}" in r for r in rules)
    assert any(f"-d {ip}/32" in r and "-j ACCEPT" in r for r in rules)
    ps = pdaemon.out("ps")
    assert f"0.0.0.0:{port}->80/tcp" in ps
    # Stopping frees the port and its rules; the next start publishes again.
    pdaemon.out("stop", "-t", "1", "web")
    assert not any("DNAT" in line for _, _, line in nets.tagged_rules())
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", int(port)), timeout=2).close()
    pdaemon.out("start", "web")
    port2 = pdaemon.out("port", "web", "80").strip().rsplit(":", 1)[1]
    assert fetch("127.0.0.1", port2).startswith("hello-from-")
    pdaemon.out("rm", "-f", "web")
    assert not any("DNAT" in line or "ACCEPT" in line and ip in line for _, _, line in nets.tagged_rules())
    pdaemon.out("network", "rm", "pubnet")
    assert nets.tagged_rules() == [] and not os.path.exists(f"/sys/class/net/{bridge}")
    # -p on an internal network: test_internal_network_ports.py.


def test_fixed_port_disconnect_and_a_daemon_crash(daemon_factory, busybox_tar, test_bridge, nets):
    d = daemon_factory("-b", test_bridge).start()
    d.cli("import", "-", "busybox", input=open(busybox_tar, "rb").read(), check=True)
    create(d, nets, "crashpub", "--subnet", free_subnets(1)[0])
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    d.out(
        "run",
        "-d",
        "--name",
        "web",
        "--net",
        "crashpub",
        "-p",
        f"127.0.0.1:{port}:80",
        "busybox",
        "sh",
        "-c",
        HTTPD,
    )
    assert fetch("127.0.0.1", port).startswith("hello-from-")
    taken = d.cli("run", "-d", "--net", "crashpub", "-p", f"127.0.0.1:{port}:80", "busybox", "true")
    assert taken.returncode != 0 and b"already" in taken.stderr
    # Live restore: the container outlives the daemon's kill -9 and its port comes back with it.
    d.kill()
    d.start()
    assert d.out("port", "web").strip() == f"80/tcp -> 127.0.0.1:{port}"
    assert fetch("127.0.0.1", port).startswith("hello-from-")
    assert any("DNAT" in line for _, _, line in nets.tagged_rules())
    d.out("network", "disconnect", "crashpub", "web")
    assert not any("DNAT" in line for _, _, line in nets.tagged_rules())
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    # Connected again to the network of its NetworkMode, it publishes again.
    d.out("network", "connect", "crashpub", "web")
    assert fetch("127.0.0.1", port).startswith("hello-from-")
    d.out("rm", "-f", "web")
    d.out("network", "rm", "crashpub")
    d.stop()
    assert nets.tagged_rules() == [] and nets.links() == []


@pytest.fixture
def outside():
    """A network namespace of the test's own, routed to the host over a veth: a client from outside."""
    routes = subprocess.run(["ip", "-4", "route"], capture_output=True, text=True, check=True).stdout
    a = next(a for a in random.sample(range(100, 180), 80) if f"10.{a}." not in routes)
    b = random.randrange(1, 250)
    tag = f"{random.randrange(16**6):06x}"
    ns, host_side = f"ldpns{tag}", f"ldpo{tag}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        script = f"""
            ip link add {host_side} type veth peer name eth0 netns {ns}
            ip addr add 10.{a}.{b}.1/30 dev {host_side} && ip link set {host_side} up
            ip -n {ns} addr add 10.{a}.{b}.2/30 dev eth0 && ip -n {ns} link set eth0 up
            ip -n {ns} link set lo up && ip -n {ns} route add default via 10.{a}.{b}.1
        """
        subprocess.run(["sh", "-ec", script], check=True)
        yield ns, f"10.{a}.{b}.1"
    finally:
        subprocess.run(["ip", "link", "del", host_side], check=False, capture_output=True)
        subprocess.run(["ip", "netns", "del", ns], check=False)


def fetch_from(ns: str, host: str, port: str) -> str:
    url = f"http://{host}:{port}/index.html"
    code = f"import urllib.request as u; print(u.urlopen({url!r}, timeout=3).read().decode())"

    def get() -> str:
        r = subprocess.run(
            ["ip", "netns", "exec", ns, sys.executable, "-c", code], capture_output=True, text=True
        )
        return r.stdout

    return poll(get, timeout=20, what=f"http://{host}:{port}/ from namespace {ns}")


def test_published_port_from_outside_through_dnat(pdaemon, nets, outside):
    # From another interface the DNAT and the FORWARD accept are the way in (no proxy on that path
    # past the kernel), and the accept must stay above the isolation drop when another network comes up.
    ns, host_ip = outside
    create(pdaemon, nets, "outpub", "--subnet", free_subnets(1)[0])
    pdaemon.out("run", "-d", "--name", "web", "--net", "outpub", "-p", "80", "busybox", "sh", "-c", HTTPD)
    port = pdaemon.out("port", "web", "80").strip().rsplit(":", 1)[1]
    assert fetch_from(ns, host_ip, port).startswith("hello-from-")
    create(pdaemon, nets, "later", "--subnet", free_subnets(1)[0])
    assert fetch_from(ns, host_ip, port).startswith("hello-from-")
    # The DNAT took it there, not the proxy: httpd saw the namespace's own address as its peer.
    peer = host_ip.rsplit(".", 1)[0] + ".2"
    logs = pdaemon.cli("logs", "web", check=True)
    assert peer in (logs.stdout + logs.stderr).decode()
    pdaemon.out("rm", "-f", "web")
    pdaemon.out("network", "rm", "outpub", "later")
    assert nets.tagged_rules() == []


def docker28(d: Daemon):
    return cli28(d.host, text=True)


def test_publish_with_docker_cli_28(pdaemon, nets):
    docker = docker28(pdaemon)
    bridge = nets.bridge()
    docker(
        "network",
        "create",
        "--subnet",
        free_subnets(1)[0],
        "-o",
        f"com.docker.network.bridge.name={bridge}",
        "p28",
    )
    docker(
        "run",
        "-d",
        "--name",
        "web28",
        "--network",
        "p28",
        "-p",
        "127.0.0.1::80",
        "busybox",
        "sh",
        "-c",
        HTTPD,
    )
    out = docker("port", "web28", "80/tcp").stdout.strip()
    assert out.startswith("127.0.0.1:")
    assert fetch("127.0.0.1", out.rsplit(":", 1)[1]).startswith("hello-from-")
    docker("rm", "-f", "web28")
    docker("network", "rm", "p28")
    assert nets.tagged_rules() == []


def test_publish_with_the_docker_sdk(pdaemon, nets):
    docker = require_module("docker", "pip install docker; scripts/setup-dev.sh installs it")
    client = docker.DockerClient(base_url=pdaemon.host, version="1.24", timeout=60)
    bridge = nets.bridge()
    ipam = docker.types.IPAMConfig(pool_configs=[docker.types.IPAMPool(subnet=free_subnets(1)[0])])
    net = client.networks.create("psdk", ipam=ipam, options={"com.docker.network.bridge.name": bridge})
    c = client.containers.run(
        "busybox", ["sh", "-c", HTTPD], detach=True, network="psdk", ports={"80/tcp": ("127.0.0.1", None)}
    )
    try:
        c.reload()
        (binding,) = c.ports["80/tcp"]
        assert binding["HostIp"] == "127.0.0.1"
        assert fetch("127.0.0.1", binding["HostPort"]).startswith("hello-from-")
    finally:
        c.remove(force=True)
    net.remove()
    assert nets.tagged_rules() == [] and nets.links() == []


# -- IPv6 networks ------------------------------------------------------------------------------------

needs_ipv6 = pytest.mark.skipif(
    open("/proc/sys/net/ipv6/conf/all/disable_ipv6").read().strip() != "0"
    if os.path.exists("/proc/sys/net/ipv6/conf/all/disable_ipv6")
    else True,
    reason="IPv6 is disabled in this kernel",
)


def bridge_ipv6(bridge: str) -> list[str]:
    out = subprocess.run(["ip", "-6", "-o", "addr", "show", "dev", bridge], capture_output=True, text=True)
    return [line.split()[3] for line in out.stdout.splitlines() if " scope global " in line]


@needs_ipv6
def test_ipv6_network_with_our_cli(pdaemon, nets):
    sub6 = free_subnet6()
    prefix = sub6.split("::")[0]
    sub4 = free_subnets(1)[0]
    bridge = create(pdaemon, nets, "six", "--ipv6", "--subnet", sub4, "--subnet", sub6)
    fixed = sub4.replace(".0/24", ".50")
    assert f"inet {fixed}/24" in pdaemon.out(
        "run", "--net", "six", "--ip", fixed, "busybox", "ip", "addr", "show", "eth0"
    )
    doc = json.loads(pdaemon.out("network", "inspect", "six"))[0]
    assert doc["EnableIPv6"] is True
    assert doc["IPAM"]["Config"][1] == {"Subnet": sub6, "Gateway": f"{prefix}::1"}
    assert bridge_ipv6(bridge) == [f"{prefix}::1/64"]
    pdaemon.out("run", "-d", "--name", "six1", "--net", "six", "--ip6", f"{prefix}::10", "--network-alias",
                "sixalias", "busybox", "sh", "-c", HTTPD)  # fmt: skip
    (member,) = json.loads(pdaemon.out("network", "inspect", "six"))[0]["Containers"].values()
    assert member["IPv6Address"] == f"{prefix}::10/64"
    # Another container reaches it over the ULA: ICMPv6, and TCP by the name's AAAA record.
    out = pdaemon.out("run", "--net", "six", "busybox", "ping6", "-c1", "-W5", f"{prefix}::10")
    assert "1 packets received" in out
    page = pdaemon.out("run", "--net", "six", "busybox", "wget", "-qO-", f"http://[{prefix}::10]/index.html")
    assert page.startswith("hello-from-")
    looked = pdaemon.out("run", "--net", "six", "busybox", "nslookup", "-type=aaaa", "sixalias")
    assert f"{prefix}::10" in looked
    addrs = pdaemon.out("run", "--net", "six", "busybox", "ip", "-6", "addr", "show", "eth0")
    # Allocated from the pool, moving forward (::2 went to the first of the containers above).
    assert re.search(rf"inet6 {prefix}::[3-9a-f]/64 scope global", addrs)
    assert any(cmd == "ip6tables" for cmd, _, _ in nets.tagged_rules())
    taken = pdaemon.cli("run", "--net", "six", "--ip6", f"{prefix}::10", "busybox", "true")
    assert taken.returncode != 0 and b"already allocated" in taken.stderr
    pdaemon.out("rm", "-f", "six1")
    pdaemon.out("network", "rm", "six")
    assert nets.tagged_rules() == [] and nets.links() == []


@needs_ipv6
def test_ipv6_with_docker_cli_28(pdaemon, nets):
    docker = docker28(pdaemon)
    sub6 = free_subnet6()
    prefix = sub6.split("::")[0]
    bridge = nets.bridge()
    docker(
        "network",
        "create",
        "--ipv6",
        "--subnet",
        sub6,
        "-o",
        f"com.docker.network.bridge.name={bridge}",
        "six28",
    )
    doc = json.loads(docker("network", "inspect", "six28").stdout)[0]
    assert doc["EnableIPv6"] is True and sub6 in [c["Subnet"] for c in doc["IPAM"]["Config"]]
    docker(
        "run",
        "-d",
        "--name",
        "s28",
        "--network",
        "six28",
        "--ip6",
        f"{prefix}::beef",
        "busybox",
        "sh",
        "-c",
        HTTPD,
    )
    net = json.loads(docker("inspect", "s28").stdout)[0]["NetworkSettings"]["Networks"]["six28"]
    assert net["GlobalIPv6Address"] == f"{prefix}::beef" and net["GlobalIPv6PrefixLen"] == 64
    assert net["IPv6Gateway"] == f"{prefix}::1" and net["IPAMConfig"]["IPv6Address"] == f"{prefix}::beef"
    page = docker("run", "--rm", "--network", "six28", "busybox", "wget", "-qO-", "http://s28/index.html")
    assert page.stdout.startswith("hello-from-")
    docker("rm", "-f", "s28")
    docker("network", "rm", "six28")
    assert nets.tagged_rules() == [] and nets.links() == []


@needs_ipv6
def test_ipv6_with_the_docker_sdk(pdaemon, nets):
    docker = require_module("docker", "pip install docker; scripts/setup-dev.sh installs it")
    client = docker.DockerClient(base_url=pdaemon.host, version="1.24", timeout=60)
    sub6 = free_subnet6()
    prefix = sub6.split("::")[0]
    ipam = docker.types.IPAMConfig(
        pool_configs=[docker.types.IPAMPool(subnet=sub6, gateway=f"{prefix}::ffff")]
    )
    bridge = nets.bridge()
    net = client.networks.create(
        "sixsdk", enable_ipv6=True, ipam=ipam, options={"com.docker.network.bridge.name": bridge}
    )
    assert net.attrs["EnableIPv6"] is True
    assert bridge_ipv6(bridge) == [f"{prefix}::ffff/64"]
    c = client.containers.run("busybox", ["sleep", "600"], detach=True, name="sixbox")
    try:
        net.connect(c, ipv6_address=f"{prefix}::f00d")
        c.reload()
        ep = c.attrs["NetworkSettings"]["Networks"]["sixsdk"]
        assert ep["GlobalIPv6Address"] == f"{prefix}::f00d" and ep["IPv6Gateway"] == f"{prefix}::ffff"
        out = client.containers.run(
            "busybox", ["ping6", "-c1", "-W5", f"{prefix}::f00d"], network="sixsdk", remove=True
        )
        assert b"1 packets received" in out
        net.disconnect(c)
    finally:
        c.remove(force=True)
    net.remove()
    assert nets.tagged_rules() == [] and nets.links() == []


@needs_ipv6
def test_ipv6_network_across_a_crash_and_a_restart(daemon_factory, busybox_tar, test_bridge, nets):
    d = daemon_factory("-b", test_bridge).start()
    d.cli("import", "-", "busybox", input=open(busybox_tar, "rb").read(), check=True)
    sub6 = free_subnet6()
    prefix = sub6.split("::")[0]
    bridge = create(d, nets, "sixcrash", "--ipv6", "--subnet", sub6)
    d.out("run", "-d", "--name", "keep6", "--net", "sixcrash", "busybox", "sleep", "600")
    (member,) = json.loads(d.out("network", "inspect", "sixcrash"))[0]["Containers"].values()
    kept = member["IPv6Address"].split("/")[0]
    assert kept.startswith(prefix)
    d.kill()
    d.start()
    # The survivor keeps its address (nobody else is given it) and is reached by name over AAAA.
    out = d.out(
        "run", "--net", "sixcrash", "busybox", "sh", "-c", f"ip -6 addr show eth0; ping6 -c1 -W5 {kept}"
    )
    assert "1 packets received" in out and f"inet6 {kept}/64" not in out
    assert kept in d.out("run", "--net", "sixcrash", "busybox", "nslookup", "-type=aaaa", "keep6")
    d.out("rm", "-f", "keep6")
    # A clean stop takes the bridge and every rule; the next start brings both back, IPv6 included.
    d.stop()
    assert nets.tagged_rules() == [] and nets.links() == []
    d.start()
    assert bridge_ipv6(bridge) == [f"{prefix}::1/64"]
    assert any(cmd == "ip6tables" for cmd, _, _ in nets.tagged_rules())
    d.out("network", "rm", "sixcrash")
    # A subnet the host already routes is refused, as for IPv4.
    taken6 = free_subnet6()
    dummy = nets.bridge()
    subprocess.run(["ip", "link", "add", dummy, "type", "bridge"], check=True)
    address = taken6.replace("::/64", "::1/64")
    subprocess.run(["ip", "addr", "add", address, "dev", dummy, "nodad"], check=True)
    subprocess.run(["ip", "link", "set", dummy, "up"], check=True)
    refused = d.cli("network", "create", "--ipv6", "--subnet", taken6, "clash")
    assert refused.returncode != 0 and b"overlaps" in refused.stderr
    subprocess.run(["ip", "link", "del", dummy], check=True)
    d.stop()
    assert nets.tagged_rules() == [] and nets.links() == []


def test_publish_on_a_daemon_without_a_default_bridge(daemon_factory, busybox_tar, nets):
    # -b none: no default bridge and none of its chains, yet a user-defined network publishes.
    d = daemon_factory().start()
    d.cli("import", "-", "busybox", input=open(busybox_tar, "rb").read(), check=True)
    create(d, nets, "nobr", "--subnet", free_subnets(1)[0])
    d.out("run", "-d", "--name", "web", "--net", "nobr", "-p", "127.0.0.1::80", "busybox", "sh", "-c", HTTPD)
    port = d.out("port", "web", "80").strip().rsplit(":", 1)[1]
    assert fetch("127.0.0.1", port).startswith("hello-from-")
    d.out("rm", "-f", "web")
    d.out("network", "rm", "nobr")
    assert nets.tagged_rules() == [] and nets.links() == []
