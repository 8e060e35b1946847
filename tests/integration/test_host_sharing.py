"""Sharing the host with another engine: our daemon adds, and removes, only its own iptables rules.

Each test writes with iptables a fake "other engine" of its own: a bridge, a DOCKER-style chain in
nat and filter, the jumps to it, a MASQUERADE for its subnet and a published port, as Docker lays
them out for docker0. The names are the test's own (never docker0 or DOCKER), and the fixture
removes all of it, and whatever our daemon left, even when a test fails. No traffic is sent at all.
"""

from __future__ import annotations

import ipaddress
import random
import secrets
import shlex
import subprocess
from dataclasses import dataclass, field

import pytest

from lib.require import require_tools

require_tools("iptables", "iptables-save", "ip", hint="apt-get install -y iptables iproute2", module=True)

pytestmark = pytest.mark.root


def sh(*args: str, check: bool = True) -> str:
    return subprocess.run(args, check=check, capture_output=True, text=True).stdout


def free_subnet() -> ipaddress.IPv4Network:
    routes = sh("ip", "-4", "route") + sh("ip", "-4", "addr")
    for _ in range(200):
        net = ipaddress.IPv4Network(f"10.{random.randint(100, 250)}.{random.randint(0, 255)}.0/24")
        if str(net.network_address).rsplit(".", 1)[0] + "." not in routes:
            return net
    raise RuntimeError("no free test subnet")


def chain_of(bridge: str) -> str:
    """The chain our daemon uses with -b BRIDGE."""
    return f"DOCKER-{bridge}"[:28]


def save_lines(*needles: str) -> list[str]:
    """iptables-save lines (with their table) naming any of `needles`, chain counters dropped."""
    table, found = "", []
    for line in sh("iptables-save").splitlines():
        if line.startswith("*"):
            table = line[1:]
        elif line.startswith(":") and any(n == line[1:].split()[0] for n in needles):
            found.append(f"{table} {line.split()[0]}")
        elif line.startswith("-A ") and any(n in shlex.split(line) for n in needles):
            found.append(f"{table} {line}")
    return found


def ours(bridge: str) -> list[str]:
    """Every rule carrying the comment of our daemon on `bridge`."""
    return [ln for ln in save_lines(f"lxc-docker:{bridge}") if " -A " in ln]


@dataclass
class Host:
    """The names a test made: bridges, chains, the foreign engine's rules; cleaned up at the end."""

    bridges: list[str] = field(default_factory=list)
    chains: list[str] = field(default_factory=list)

    def bridge(self) -> tuple[str, ipaddress.IPv4Network]:
        name = f"ldt{secrets.token_hex(4)}"
        net = free_subnet()
        self.bridges.append(name)
        self.chains.append(chain_of(name))
        sh("ip", "link", "add", name, "type", "bridge")
        sh("ip", "addr", "add", f"{net.network_address + 1}/{net.prefixlen}", "dev", name)
        sh("ip", "link", "set", name, "up")
        return name, net

    def other_engine(self, chain: str | None = None) -> ForeignEngine:
        """Another engine's bridge and rules; its chain is the one our daemon would use for its bridge,
        unless `chain` names another (as Docker's DOCKER is our default chain's name)."""
        name, net = self.bridge()
        engine = ForeignEngine(name, chain or chain_of(name), net)
        self.chains.append(engine.chain)
        engine.install()
        return engine

    def cleanup(self) -> None:
        names = self.bridges + self.chains + [f"lxc-docker:{b}" for b in self.bridges]
        table = ""
        for line in sh("iptables-save").splitlines():
            if line.startswith("*"):
                table = line[1:]
            elif line.startswith("-A ") and any(n in shlex.split(line) for n in names):
                sh("iptables", "-w", "-t", table, "-D", *shlex.split(line)[1:], check=False)
        for chain in self.chains:
            for table in ("nat", "filter"):
                sh("iptables", "-w", "-t", table, "-X", chain, check=False)
        for name in self.bridges:
            sh("ip", "link", "del", name, check=False)


@dataclass
class ForeignEngine:
    bridge: str
    chain: str
    subnet: ipaddress.IPv4Network

    def rules(self) -> list[tuple[str, list[str]]]:
        br, ch, net = self.bridge, self.chain, str(self.subnet)
        ip = str(self.subnet.network_address + 2)
        port = str(random.randint(20000, 30000))
        local = ["-m", "addrtype", "--dst-type", "LOCAL", "-j", ch]
        return [
            ("nat", ["-N", ch]),
            ("nat", ["-A", "PREROUTING", *local]),
            ("nat", ["-A", "OUTPUT", "!", "-d", "127.0.0.0/8", *local]),
            ("nat", ["-A", "POSTROUTING", "-s", net, "!", "-o", br, "-j", "MASQUERADE"]),
            ("nat", ["-A", ch, "-i", br, "-j", "RETURN"]),
            ("nat", ["-A", ch, "!", "-i", br, "-p", "tcp", "-m", "tcp", "--dport", port,
                     "-j", "DNAT", "--to-destination", f"{ip}:80"]),
            ("filter", ["-N", ch]),
            ("filter", ["-A", "FORWARD", "-o", br, "-j", ch]),
            ("filter", ["-A", "FORWARD", "-o", br, "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED",
                        "-j", "ACCEPT"]),
            ("filter", ["-A", "FORWARD", "-i", br, "!", "-o", br, "-j", "ACCEPT"]),
            ("filter", ["-A", ch, "-d", f"{ip}/32", "!", "-i", br, "-o", br, "-p", "tcp", "-m", "tcp",
                        "--dport", "80", "-j", "ACCEPT"]),
        ]  # fmt: skip

    def install(self) -> None:
        for table, args in self.rules():
            sh("iptables", "-w", "-t", table, *args)

    def snapshot(self) -> list[str]:
        """Its rules and chains as iptables-save prints them, in order."""
        lines = save_lines(self.bridge, self.chain)
        assert len([ln for ln in lines if " -A " in ln]) == 9, lines
        return lines


@pytest.fixture
def host():
    h = Host()
    try:
        yield h
    finally:
        h.cleanup()


def refused(daemon) -> str:
    """Start `daemon`, which must refuse; returns its log."""
    with pytest.raises(RuntimeError) as info:
        daemon.start()
    text = str(info.value)
    assert "Traceback" not in text, text
    return text


def test_foreign_rules_survive_our_start_containers_and_stop(host, daemon_factory, busybox_tar):
    other = host.other_engine()
    before = other.snapshot()
    bridge, _ = host.bridge()
    d = daemon_factory("-b", bridge).start()
    d.cli("import", "-", "busybox", input=open(busybox_tar, "rb").read(), check=True)
    cid = d.out("run", "-d", "-p", "80", "-p", "127.0.0.1::81/udp", "busybox", "sleep", "300").strip()
    mine = ours(bridge)
    assert any("DNAT" in ln for ln in mine) and any("MASQUERADE" in ln for ln in mine), mine
    # Every rule naming our bridge or chain carries our comment: the only way to tell it from theirs.
    named = [ln for ln in save_lines(bridge, chain_of(bridge)) if " -A " in ln]
    assert named and sorted(named) == sorted(mine)
    assert other.snapshot() == before
    d.cli("rm", "-f", cid, check=True)
    assert other.snapshot() == before
    assert d.stop() == 0
    assert other.snapshot() == before, "another engine's rules changed"
    assert ours(bridge) == [] and save_lines(bridge, chain_of(bridge)) == []


def test_daemon_refuses_a_bridge_another_engine_manages(host, daemon_factory):
    other = host.other_engine()
    before = other.snapshot()
    log = refused(daemon_factory("-b", other.bridge))
    assert f"bridge {other.bridge} is managed by another engine" in log
    assert "-b/--bridge" in log and "-b none" in log
    assert other.snapshot() == before
    assert ours(other.bridge) == []


def test_daemon_refuses_a_chain_another_engine_uses(host, daemon_factory):
    # Docker's chain is DOCKER, the name of ours on the default bridge: here the other engine's chain
    # has the name our daemon would use for a bridge that nobody manages.
    bridge, _ = host.bridge()
    other = host.other_engine(chain=chain_of(bridge))
    before = other.snapshot()
    log = refused(daemon_factory("-b", bridge))
    assert f"iptables chain {chain_of(bridge)}, which this daemon uses for bridge {bridge}" in log
    assert "-b/--bridge" in log
    assert other.snapshot() == before


def test_second_daemon_on_the_same_bridge_is_refused(host, daemon_factory):
    bridge, _ = host.bridge()
    first = daemon_factory("-b", bridge).start()
    mine = ours(bridge)
    log = refused(daemon_factory("-b", bridge))
    assert f"bridge {bridge} is in use by another lxc-docker daemon (pid {first.proc.pid}" in log
    assert ours(bridge) == mine, "the refused daemon touched the first one's rules"
    assert first.stop() == 0 and ours(bridge) == []


def test_sigkill_then_restart_cleans_only_our_stale_rules(host, daemon_factory):
    other = host.other_engine()
    before = other.snapshot()
    bridge, _ = host.bridge()
    d = daemon_factory("-b", bridge).start()
    mine = ours(bridge)
    assert mine
    d.proc.kill()
    d.proc.wait(10)
    assert ours(bridge) == mine, "a SIGKILL leaves the rules behind"
    d.start()  # the same root and bridge: the stale rules are replaced, never duplicated
    assert sorted(ours(bridge)) == sorted(mine)
    assert other.snapshot() == before
    d.proc.kill()
    d.proc.wait(10)
    # Restarted on another bridge: the crashed run's rules and chain for the first one go too.
    second, _ = host.bridge()
    moved = daemon_factory("-b", second, base=d.base).start()
    assert ours(bridge) == [] and save_lines(chain_of(bridge)) == []
    assert ours(second) and other.snapshot() == before
    assert moved.stop() == 0
    assert ours(second) == [] and save_lines(chain_of(second)) == []
    assert other.snapshot() == before
