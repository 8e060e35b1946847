"""The networking layer against the real kernel: bridges, veths, network namespaces, iptables, proxies.

A fake container is `unshare --net sleep`: a process alone in a fresh network namespace. Traffic goes
only to 127.0.0.1, to the test bridge and to addresses inside those namespaces. Each test run has
its own bridge name, subnet and iptables chain, and removes all of them.
"""

from __future__ import annotations

import ipaddress
import os
import random
import re
import secrets
import shlex
import socket
import statistics
import subprocess
import sys
import threading
import time

import pytest

from lib.poll import wait_for
from lib.require import require, require_tools
from lxc_docker.errors import SystemError_
from lxc_docker.network import NetworkManager, PortAlreadyAllocated, disabled_settings
from lxc_docker.network import bridge as br

require_tools("iptables", "unshare", "ip", hint="apt-get install -y iptables iproute2", module=True)

pytestmark = pytest.mark.root

# Inside a namespace: TCP and UDP echo on the given ports. TCP first sends "peer_ip:peer_port\n",
# so a test can tell DNAT (the client's own source port) from the proxy (another one).
ECHO = r"""
import socket, sys, threading
def tcp(s):
    while True:
        c, a = s.accept()
        def serve(c=c, a=a):
            c.sendall(("%s:%d\n" % a).encode())
            while True:
                d = c.recv(65536)
                if not d: break
                c.sendall(d)
            c.close()
        threading.Thread(target=serve, daemon=True).start()
def udp(s):
    while True:
        d, a = s.recvfrom(65535); s.sendto(("%s:%d " % a).encode() + d, a)
# Bound and listening before "ready": a thread that had not reached listen() yet made a connection
# right after "ready" refused (a CI run under load).
for p in sys.argv[1:]:
    t = socket.socket(); t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    t.bind(("0.0.0.0", int(p))); t.listen(64)
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("0.0.0.0", int(p)))
    threading.Thread(target=tcp, args=(t,), daemon=True).start()
    threading.Thread(target=udp, args=(u,), daemon=True).start()
print("ready", flush=True)
sys.stdin.read()
"""

# Inside a namespace: try a TCP connection, print "ok" or the error.
PROBE = r"""
import socket, sys
try:
    c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=float(sys.argv[3]))
    c.recv(100); print("ok")
except OSError as e:
    print("fail", e)
"""


def sh(*args: str, check: bool = True) -> str:
    return subprocess.run(args, check=check, capture_output=True, text=True).stdout


def read(path: str) -> str:
    with open(path) as f:
        return f.read().strip()


class FakeContainer:
    """A process alone in a new network namespace, plus helpers running programs inside it."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(["unshare", "--net", "sleep", "600"])
        own = os.readlink("/proc/self/ns/net")
        assert wait_for(lambda: _netns(self.proc.pid) not in (None, own)), "unshare did not start"
        self.pid = self.proc.pid
        self.servers: list[subprocess.Popen] = []

    def run(self, *args: str, check: bool = True) -> str:
        return sh("nsenter", "-t", str(self.pid), "-n", *args, check=check)

    def echo(self, *ports: int) -> None:
        server = subprocess.Popen(
            ["nsenter", "-t", str(self.pid), "-n", sys.executable, "-c", ECHO, *map(str, ports)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert server.stdout.readline().strip() == "ready"
        self.servers.append(server)

    def probe(self, ip: str, port: int, timeout: float = 1.0) -> bool:
        out = self.run(sys.executable, "-c", PROBE, ip, str(port), str(timeout))
        return out.startswith("ok")

    def stop(self) -> None:
        for server in self.servers:
            server.kill()
            server.wait()
        self.proc.kill()
        self.proc.wait()


def _netns(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/net")
    except OSError:
        return None


def free_subnet() -> ipaddress.IPv4Network:
    used = br.host_networks()
    for _ in range(200):
        net = ipaddress.IPv4Network(f"10.{random.randint(200, 250)}.{random.randint(0, 255)}.0/24")
        if not any(net.overlaps(u) for u in used):
            return net
    raise RuntimeError("no free test subnet")


def free_port(proto: str = "tcp") -> int:
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("0.0.0.0", 0))
        return s.getsockname()[1]


def tcp_talk(host: str, port: int, payload: bytes = b"hello") -> tuple[str, int, bytes]:
    """Connect, read the peer line, echo `payload`; returns (peer seen by server, our port, echo)."""
    with socket.create_connection((host, port), timeout=5) as c:
        f = c.makefile("rb")
        peer = f.readline().decode().strip()
        c.sendall(payload)
        got = b""
        while len(got) < len(payload):
            chunk = c.recv(65536)
            if not chunk:
                break
            got += chunk
        return peer, c.getsockname()[1], got


def udp_talk(host: str, port: int, payload: bytes = b"ping") -> bytes:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(5)
        s.sendto(payload, (host, port))
        return s.recvfrom(65535)[0]


OUR_COMMENT = re.compile(r' -m comment --comment "?lxc-docker:([^" ]+)"?')


def iptables_dump(*needles: str) -> list[str]:
    """iptables-save lines naming any of `needles`, without our owner comment.

    Every rule naming the test's bridge or chain must carry our comment.
    """
    lines = sh("iptables-save").splitlines()
    found = [ln for ln in lines if not ln.startswith("#") and any(n in ln for n in needles)]
    for ln in found:
        if ln.startswith("-A "):
            assert OUR_COMMENT.search(ln), f"a rule without our comment: {ln}"
    return [OUR_COMMENT.sub("", ln) for ln in found]


def crash(mgr: NetworkManager) -> None:
    """What a daemon's death does: its proxies die with it, the kernel drops its bridge lock; its
    rules stay."""
    mgr.proxy.close()
    mgr.host.lock.release()
    mgr.host.lock = None


class Env:
    """One test's names: bridge, chain, subnet; and every manager and fake container it made."""

    def __init__(self) -> None:
        tag = secrets.token_hex(3)
        self.bridge = f"ldt{tag}"
        self.chain = f"LDT{tag.upper()}"
        self.subnet = free_subnet()
        self.gateway = f"{self.subnet.network_address + 1}/{self.subnet.prefixlen}"
        self.managers: list[NetworkManager] = []
        self.containers: list[FakeContainer] = []
        self.bridges = [self.bridge]
        self.chains = [self.chain]

    def manager(self, **kw) -> NetworkManager:
        kw.setdefault("bridge_ip", "" if "bridge" in kw else self.gateway)
        kw.setdefault("default_bridge", self.bridge)
        kw.setdefault("chain", self.chain)
        mgr = NetworkManager(**kw)
        self.managers.append(mgr)
        return mgr

    def container(self) -> FakeContainer:
        c = FakeContainer()
        self.containers.append(c)
        return c

    def cleanup(self) -> None:
        for mgr in self.managers:
            mgr.shutdown()
        for c in self.containers:
            c.stop()
        for name in self.bridges:
            if br.link_exists(name):
                sh("ip", "link", "del", name, check=False)
        # Whatever a failed test left: every rule naming our chains or bridges, then the chains.
        table = ""
        for line in sh("iptables-save").splitlines():
            if line.startswith("*"):
                table = line[1:]
            elif line.startswith("-A ") and any(n in line for n in self.chains + self.bridges):
                sh("iptables", "-w", "-t", table, "-D", *shlex.split(line)[1:], check=False)
        for chain in self.chains:
            for table in ("nat", "filter"):
                sh("iptables", "-w", "-t", table, "-F", chain, check=False)
                sh("iptables", "-w", "-t", table, "-X", chain, check=False)


@pytest.fixture(scope="module", autouse=True)
def keep_ip_forward():
    with open("/proc/sys/net/ipv4/ip_forward") as f:
        before = f.read()
    yield
    with open("/proc/sys/net/ipv4/ip_forward", "w") as f:
        f.write(before)


@pytest.fixture
def env():
    e = Env()
    yield e
    e.cleanup()
    assert not iptables_dump(*e.chains, *e.bridges), "rules left behind"
    for name in e.bridges:
        assert not br.link_exists(name)


def test_setup_creates_bridge_and_rules_once(env):
    mgr = env.manager(mtu=1450)
    mgr.setup()
    addr = br.interface_ipv4(env.bridge)
    assert str(addr) == env.gateway and br.is_bridge(env.bridge)
    assert read(f"/sys/class/net/{env.bridge}/mtu") == "1450"
    assert read("/proc/sys/net/ipv4/ip_forward") == "1"
    info = mgr.info()
    assert info["Bridge"] == env.bridge and info["Address"] == env.gateway and info["MTU"] == 1450
    rules = iptables_dump(env.chain, env.bridge)
    assert f"-A POSTROUTING -s {env.subnet} ! -o {env.bridge} -j MASQUERADE" in rules
    assert f"-A PREROUTING -m addrtype --dst-type LOCAL -j {env.chain}" in rules
    assert f"-A FORWARD -o {env.bridge} -j {env.chain}" in rules
    assert f"-A {env.chain} -i {env.bridge} -o {env.bridge} -j ACCEPT" in rules
    mgr.setup()
    again = env.manager(mtu=1450)
    with pytest.raises(SystemError_, match=f"bridge {env.bridge} is in use by another lxc-docker daemon"):
        again.setup()  # a second daemon on the same bridge
    assert iptables_dump(env.chain, env.bridge) == rules
    crash(mgr)
    again.setup()  # a start after a crash: nothing duplicated
    assert iptables_dump(env.chain, env.bridge) == rules
    again.shutdown()
    assert iptables_dump(env.chain, env.bridge) == []
    assert br.link_exists(env.bridge), "the bridge stays after shutdown"


def test_container_interface(env):
    mgr = env.manager(mtu=1400)
    mgr.setup()
    c = env.container()
    s = mgr.allocate("c1", exposed={}, port_bindings={}, publish_all=False)
    assert s["Bridge"] == env.bridge and s["Gateway"] == str(env.subnet.network_address + 1)
    assert s["IPPrefixLen"] == 24 and s["Ports"] == {} and s["PortMapping"] is None
    assert ipaddress.IPv4Address(s["IPAddress"]) in env.subnet
    mgr.configure(s, c.pid)
    link = c.run("ip", "-o", "link", "show", "eth0")
    assert "mtu 1400" in link and "UP" in link and s["MacAddress"] in link
    assert f"inet {s['IPAddress']}/24" in c.run("ip", "-o", "-4", "addr", "show", "eth0")
    assert f"default via {s['Gateway']} dev eth0" in c.run("ip", "route")
    assert "UP" in c.run("ip", "-o", "link", "show", "lo")
    host_end = s["_veth_host"]
    assert host_end.startswith("veth") and len(host_end) == 10
    assert os.path.exists(f"/sys/class/net/{env.bridge}/brif/{host_end}")
    assert read(f"/sys/class/net/{host_end}/mtu") == "1400"
    mgr.release("c1", s)
    assert not br.link_exists(host_end)
    assert "eth0" not in c.run("ip", "-o", "link")
    mgr.release("c1", s)  # idempotent


def test_default_mtu_is_the_default_route_interface(env):
    mgr = env.manager()
    mgr.setup()
    assert mgr.mtu == br.default_route_mtu()


def test_published_ports_tcp_and_udp(env):
    mgr = env.manager()
    mgr.setup()
    c = env.container()
    fixed = free_port("udp")
    s = mgr.allocate(
        "web",
        exposed={"80/tcp": {}, "53/udp": {}, "443/tcp": {}},
        port_bindings={
            "80/tcp": [{"HostIp": "", "HostPort": ""}],
            "53/udp": [{"HostIp": "", "HostPort": str(fixed)}],
        },
        publish_all=False,
    )
    tcp_port = int(s["Ports"]["80/tcp"][0]["HostPort"])
    assert 49153 <= tcp_port <= 65535
    assert s["Ports"]["80/tcp"] == [{"HostIp": "0.0.0.0", "HostPort": str(tcp_port)}]
    assert s["Ports"]["53/udp"] == [{"HostIp": "0.0.0.0", "HostPort": str(fixed)}]
    assert s["Ports"]["443/tcp"] is None
    mgr.configure(s, c.pid)
    c.echo(80, 53)
    gw = s["Gateway"]
    # 127.0.0.1: through the userland proxy (the server sees another source port).
    peer, local_port, echoed = tcp_talk("127.0.0.1", tcp_port)
    assert echoed == b"hello" and peer.startswith(gw + ":") and peer != f"{gw}:{local_port}"
    # The bridge address: DNAT in OUTPUT (the server sees our own source port).
    peer, local_port, echoed = tcp_talk(gw, tcp_port)
    assert echoed == b"hello" and peer == f"{gw}:{local_port}"
    assert udp_talk("127.0.0.1", fixed).endswith(b" ping")
    assert udp_talk(gw, fixed).endswith(b" ping")
    # A container reaches another's published port through the host (hairpin via the proxy).
    other = env.container()
    s2 = mgr.allocate("client", exposed={}, port_bindings={}, publish_all=False)
    mgr.configure(s2, other.pid)
    assert other.probe(gw, tcp_port)
    mgr.release("web", s)
    mgr.release("client", s2)
    with pytest.raises(OSError):
        tcp_talk("127.0.0.1", tcp_port)
    assert not [ln for ln in iptables_dump(env.chain) if "DNAT" in ln]


def test_busybox_httpd_through_the_proxy(env, tmp_path):
    require(os.path.exists("/bin/busybox"), "busybox-static is not installed")
    mgr = env.manager()
    mgr.setup()
    c = env.container()
    host_port = free_port()
    s = mgr.allocate(
        "httpd", exposed={}, port_bindings={"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(host_port)}]},
        publish_all=False,
    )  # fmt: skip
    assert s["Ports"] == {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(host_port)}]}
    mgr.configure(s, c.pid)
    (tmp_path / "index.html").write_text("hello from busybox\n")
    server = subprocess.Popen(
        ["nsenter", "-t", str(c.pid), "-n", "/bin/busybox", "httpd", "-f", "-p", "80", "-h", str(tmp_path)]
    )
    c.servers.append(server)
    assert wait_for(lambda: "0.0.0.0:80" in c.run("ss", "-ltn", check=False) or ":80 " in c.run("ss", "-ltn"))
    with socket.create_connection(("127.0.0.1", host_port), timeout=5) as conn:
        conn.sendall(b"GET /index.html HTTP/1.0\r\nHost: x\r\n\r\n")
        reply = b""
        while chunk := conn.recv(65536):
            reply += chunk
    assert reply.startswith(b"HTTP/1.") and b"hello from busybox" in reply
    mgr.release("httpd", s)


def test_publish_all_and_default_ip(env):
    mgr = env.manager(default_ip="127.0.0.1")
    mgr.setup()
    s = mgr.allocate("p", exposed={"80/tcp": {}, "81/udp": {}}, port_bindings={}, publish_all=True)
    for key in ("80/tcp", "81/udp"):
        (binding,) = s["Ports"][key]
        assert binding["HostIp"] == "127.0.0.1" and int(binding["HostPort"]) >= 49153
    mgr.release("p", s)


def test_busy_host_port_fails_cleanly(env):
    mgr = env.manager()
    mgr.setup()
    threads = threading.active_count()
    holder = socket.socket()
    holder.bind(("0.0.0.0", 0))
    holder.listen()
    busy = holder.getsockname()[1]
    try:
        with pytest.raises(PortAlreadyAllocated) as info:
            mgr.allocate(
                "c",
                exposed={},
                port_bindings={
                    "81/tcp": [{"HostPort": ""}],
                    "80/tcp": [{"HostIp": "", "HostPort": str(busy)}],
                },
                publish_all=False,
            )
        assert str(info.value) == f"Bind for 0.0.0.0:{busy} failed: port is already allocated"
    finally:
        holder.close()
    # Nothing half-configured: no address, port, rule or proxy thread left.
    assert mgr.ips.allocated() == {} and mgr.ports.allocated() == []
    assert not [ln for ln in iptables_dump(env.chain) if "DNAT" in ln or "--dport" in ln]
    assert wait_for(lambda: threading.active_count() == threads)
    # Two containers asking for the same port: the second is refused until the first releases it.
    port = free_port()
    binding = {"80/tcp": [{"HostIp": "", "HostPort": str(port)}]}
    s1 = mgr.allocate("one", exposed={}, port_bindings=binding, publish_all=False)
    with pytest.raises(PortAlreadyAllocated):
        mgr.allocate("two", exposed={}, port_bindings=binding, publish_all=False)
    mgr.release("one", s1)
    s2 = mgr.allocate("two", exposed={}, port_bindings=binding, publish_all=False)
    mgr.release("two", s2)


def test_container_to_container_with_icc(env):
    mgr = env.manager()
    mgr.setup()
    a, b = env.container(), env.container()
    sa = mgr.allocate("a", exposed={}, port_bindings={}, publish_all=False)
    sb = mgr.allocate("b", exposed={"80/tcp": {}}, port_bindings={}, publish_all=False)
    assert sa["IPAddress"] != sb["IPAddress"]
    mgr.configure(sa, a.pid)
    mgr.configure(sb, b.pid)
    b.echo(80, 81)
    assert a.probe(sb["IPAddress"], 80) and a.probe(sb["IPAddress"], 81)
    assert a.probe(sb["Gateway"], 1, timeout=0.5) is False  # nothing listens there: refused, not hung


def test_icc_false_allows_only_linked_exposed_ports(env):
    mgr = env.manager(icc=False)
    mgr.setup()
    assert f"-A {env.chain} -i {env.bridge} -o {env.bridge} -j DROP" in iptables_dump(env.chain)
    parent, child, stranger = env.container(), env.container(), env.container()
    sp = mgr.allocate("parent", exposed={}, port_bindings={}, publish_all=False)
    sc = mgr.allocate("child", exposed={"80/tcp": {}}, port_bindings={}, publish_all=False)
    ss = mgr.allocate("stranger", exposed={}, port_bindings={}, publish_all=False)
    for fake, s in ((parent, sp), (child, sc), (stranger, ss)):
        mgr.configure(s, fake.pid)
    child.echo(80, 81)
    child_ip = sc["IPAddress"]
    assert not parent.probe(child_ip, 80, timeout=0.5)
    mgr.link(sp, sc, ["80/tcp"], True)
    assert parent.probe(child_ip, 80)
    assert not parent.probe(child_ip, 81, timeout=0.5), "only the exposed port of the link"
    assert not stranger.probe(child_ip, 80, timeout=0.5), "only the linked parent"
    mgr.link(sp, sc, ["80/tcp"], True)  # a second link to the same port: rules not duplicated
    assert len([ln for ln in iptables_dump(env.chain) if child_ip in ln]) == 2
    mgr.link(sp, sc, ["80/tcp"], False)
    assert parent.probe(child_ip, 80)
    mgr.link(sp, sc, ["80/tcp"], False)
    assert not parent.probe(child_ip, 80, timeout=0.5)
    mgr.link(sp, sc, ["80/tcp"], True)
    mgr.release("child", sc)  # stopping the child drops its link rules
    assert not [ln for ln in iptables_dump(env.chain) if child_ip in ln]
    mgr.release("parent", sp)
    mgr.release("stranger", ss)


def test_bridge_none(env):
    mgr = env.manager(bridge="none", bridge_ip="")
    mgr.setup()
    assert not mgr.enabled and not br.link_exists(env.bridge)
    c = env.container()
    s = mgr.allocate("x", exposed={"80/tcp": {}}, port_bindings={}, publish_all=True)
    assert s == disabled_settings()
    mgr.configure(s, c.pid)  # only lo, as with -n=false
    assert "UP" in c.run("ip", "-o", "link", "show", "lo") and "eth0" not in c.run("ip", "-o", "link")
    mgr.release("x", s)
    assert iptables_dump(env.chain) == []


def test_existing_bridge_with_b_keeps_its_address(env):
    sh("ip", "link", "add", env.bridge, "type", "bridge")
    sh("ip", "addr", "add", env.gateway, "dev", env.bridge)
    sh("ip", "link", "set", env.bridge, "up")
    mgr = env.manager(bridge=env.bridge)
    mgr.setup()
    assert mgr.info()["Address"] == env.gateway
    c = env.container()
    s = mgr.allocate("c", exposed={}, port_bindings={}, publish_all=False)
    mgr.configure(s, c.pid)
    c.echo(80)
    assert tcp_talk(s["IPAddress"], 80)[2] == b"hello"
    mgr.release("c", s)
    mgr.shutdown()
    assert str(br.interface_ipv4(env.bridge)) == env.gateway
    with pytest.raises(Exception, match="not found"):
        env.manager(bridge=f"{env.bridge}x").setup()


def test_existing_default_bridge_must_match_bip(env):
    first = env.manager()
    first.setup()
    first.shutdown()
    other = ipaddress.IPv4Interface(env.gateway).ip + 1
    with pytest.raises(Exception, match="does not match"):
        env.manager(bridge_ip=f"{other}/24").setup()


def test_automatic_range_overlaps_nothing(env):
    used = br.host_networks()
    mgr = env.manager(bridge_ip="")
    mgr.setup()
    chosen = ipaddress.IPv4Interface(mgr.info()["Address"])
    assert str(chosen) in br.BRIDGE_CANDIDATES
    assert not any(chosen.network.overlaps(u) for u in used)


def test_iptables_false_adds_no_rules(env):
    before = sh("iptables-save")
    mgr = env.manager(iptables=False)
    mgr.setup()
    c = env.container()
    s = mgr.allocate("c", exposed={}, port_bindings={"80/tcp": [{}]}, publish_all=False)
    mgr.configure(s, c.pid)
    c.echo(80)
    assert tcp_talk("127.0.0.1", int(s["Ports"]["80/tcp"][0]["HostPort"]))[2] == b"hello"
    assert iptables_dump(env.chain, env.bridge) == []
    mgr.release("c", s)
    mgr.shutdown()
    strip = lambda text: [ln for ln in text.splitlines() if not ln.startswith("#")]  # noqa: E731
    assert strip(sh("iptables-save")) == strip(before)


def test_restart_restores_without_duplicates(env, tmp_path):
    state = str(tmp_path / "network.json")
    first = env.manager(state_path=state)
    first.setup()
    c = env.container()
    s = first.allocate("c", exposed={}, port_bindings={"80/tcp": [{}], "53/udp": [{}]}, publish_all=False)
    first.configure(s, c.pid)
    c.echo(80, 53)
    rules = iptables_dump(env.chain, env.bridge)
    crash(first)
    env.managers.remove(first)
    second = env.manager(state_path=state)
    second.setup()
    second.restore({"c": s})
    assert iptables_dump(env.chain, env.bridge) == rules
    port = int(s["Ports"]["80/tcp"][0]["HostPort"])
    assert tcp_talk("127.0.0.1", port)[2] == b"hello"
    assert udp_talk("127.0.0.1", int(s["Ports"]["53/udp"][0]["HostPort"])).endswith(b"ping")
    second.restore({"c": s})
    second.setup()
    assert iptables_dump(env.chain, env.bridge) == rules
    # The restored address and ports are not handed out again.
    s2 = second.allocate("d", exposed={}, port_bindings={"80/tcp": [{}]}, publish_all=False)
    assert s2["IPAddress"] != s["IPAddress"] and s2["Ports"]["80/tcp"][0]["HostPort"] != str(port)
    second.release("d", s2)
    second.release("c", s)
    second.shutdown()
    assert iptables_dump(env.chain) == []


def test_allocate_release_cycles_leave_nothing_behind(env):
    mgr = env.manager()
    mgr.setup()
    c = env.container()
    base_rules = iptables_dump(env.chain, env.bridge)
    threads = threading.active_count()
    start_ms, release_ms, hosts = [], [], set()
    for i in range(200):
        t0 = time.perf_counter()
        s = mgr.allocate(f"c{i}", exposed={}, port_bindings={"80/tcp": [{}]}, publish_all=False)
        mgr.configure(s, c.pid)
        t1 = time.perf_counter()
        mgr.release(f"c{i}", s)
        release_ms.append((time.perf_counter() - t1) * 1000)
        start_ms.append((t1 - t0) * 1000)
        hosts.add(s["_veth_host"])
    assert len(hosts) == 200
    assert os.listdir(f"/sys/class/net/{env.bridge}/brif") == []
    assert not [h for h in hosts if br.link_exists(h)]
    assert "eth0" not in c.run("ip", "-o", "link")
    assert iptables_dump(env.chain, env.bridge) == base_rules
    assert mgr.ips.allocated() == {} and mgr.ports.allocated() == []
    assert wait_for(lambda: not mgr.proxy.thread_alive() and threading.active_count() == threads)
    print(
        f"\n200 cycles, one published port each: allocate+configure median "
        f"{statistics.median(start_ms):.1f} ms, release median {statistics.median(release_ms):.1f} ms"
    )


def test_start_latency_without_ports(env):
    """The issue's budget: networking adds at most 30 ms (median) to a container start."""
    mgr = env.manager()
    mgr.setup()
    c = env.container()
    times = []
    for i in range(30):
        t0 = time.perf_counter()
        s = mgr.allocate(f"c{i}", exposed={}, port_bindings={}, publish_all=False)
        mgr.configure(s, c.pid)
        times.append((time.perf_counter() - t0) * 1000)
        mgr.release(f"c{i}", s)
    median = statistics.median(times)
    print(f"\nallocate+configure median {median:.1f} ms over {len(times)} starts")
    assert median <= 30


def test_stop_keeps_what_another_engine_put_in_our_chain(env):
    mgr = env.manager()
    mgr.setup()
    # Someone else adds a rule to our filter chain while we run: never flushed, the chain stays.
    sh("iptables", "-w", "-t", "filter", "-A", env.chain, "-s", "192.0.2.1/32", "-j", "RETURN")
    mgr.shutdown()
    left = [ln for ln in sh("iptables-save").splitlines() if env.chain in ln or env.bridge in ln]
    assert left == [f":{env.chain} - [0:0]", f"-A {env.chain} -s 192.0.2.1/32 -j RETURN"]
    # And the next start refuses a chain with a rule it did not add.
    with pytest.raises(SystemError_, match=f"iptables chain {env.chain}, .* is another engine's"):
        env.manager().setup()


def test_crashed_run_on_another_bridge_is_cleaned_at_start(env, tmp_path):
    state = str(tmp_path / "network.json")
    first = env.manager(state_path=state)
    first.setup()
    assert iptables_dump(env.chain, env.bridge)
    crash(first)
    env.managers.remove(first)
    # The same root restarted with another bridge and chain: the dead run's rules and chains go.
    tag = secrets.token_hex(3)
    bridge, chain = f"ldt{tag}", f"LDT{tag.upper()}"
    env.bridges.append(bridge)
    env.chains.append(chain)
    gateway = f"{free_subnet().network_address + 1}/24"
    moved = env.manager(state_path=state, bridge_ip=gateway, default_bridge=bridge, chain=chain)
    moved.setup()
    assert iptables_dump(env.chain, env.bridge) == []
    assert iptables_dump(chain, bridge)
    moved.shutdown()
    assert iptables_dump(chain, bridge) == []
