"""What the user-defined network tests (test_user_networks.py, test_user_network_ports_v6.py) share:
free subnets, the names of the bridges a test's networks get, the rules tagged for them, and the
cleanup of whatever a failing test left (its bridges and tagged rules only)."""

from __future__ import annotations

import os
import random
import shlex
import subprocess
from collections.abc import Iterator, Sequence


def free_subnets(count: int) -> list[str]:
    """/24s in 10.x that no route of the host touches (as tests/lib/bridge.py picks them)."""
    routes = subprocess.run(["ip", "-4", "route"], capture_output=True, text=True, check=True).stdout
    found = []
    for a in random.sample(range(100, 180), 80):
        b = random.randrange(1, 250)
        if f"10.{a}." not in routes:
            found.append(f"10.{a}.{b}.0/24")
        if len(found) == count:
            return found
    raise AssertionError("no free 10.x subnet")


def free_subnet6() -> str:
    """A ULA /64 that no route of the host touches."""
    routes = subprocess.run(["ip", "-6", "route"], capture_output=True, text=True, check=True).stdout
    while True:
        prefix = f"fd00:{random.randrange(16**4):x}:{random.randrange(16**4):x}:{random.randrange(16**4):x}"
        if prefix not in routes:
            return f"{prefix}::/64"


class Nets:
    """Names of the test's bridges, so that every network it makes has a bridge it can find and check.
    `commands` are the firewall commands whose rules it looks at (iptables; ip6tables for IPv6)."""

    def __init__(self, prefix: str, commands: Sequence[str] = ("iptables",)) -> None:
        self.prefix, self.commands = prefix, tuple(commands)
        self.bridges: list[str] = []

    def bridge(self) -> str:
        name = f"{self.prefix}{random.randrange(16**6):06x}"
        self.bridges.append(name)
        return name

    def tagged_rules(self) -> list[tuple[str, str, str]]:
        """(command, table, rule as *-save prints it) of every rule tagged for the test's bridges."""
        found = []
        for cmd in self.commands:
            dump = subprocess.run([f"{cmd}-save"], capture_output=True, text=True, check=True).stdout
            table = ""
            for line in dump.splitlines():
                if line.startswith("*"):
                    table = line[1:]
                elif any(f"lxc-docker:{b}" in shlex.split(line) for b in self.bridges):
                    found.append((cmd, table, line))
        return found

    def links(self) -> list[str]:
        return [b for b in self.bridges if os.path.exists(f"/sys/class/net/{b}")]


def nets_cleaned_after(prefix: str, commands: Sequence[str] = ("iptables",)) -> Iterator[Nets]:
    """A fixture body (`yield from nets_cleaned_after(...)`): the test's Nets, then whatever a
    failing test left removed: its bridges and its tagged rules only."""
    n = Nets(prefix, commands)
    yield n
    for b in n.links():
        subprocess.run(["ip", "link", "del", b], check=False)
    for cmd, table, line in n.tagged_rules():
        subprocess.run([cmd, "-w", "-t", table, "-D", *shlex.split(line)[1:]], check=False)


def create_network(d, nets: Nets, name: str, *extra: str) -> str:
    """`docker network create` of NAME on a bridge named for the test (so its rules and link can be
    checked and cleaned); EXTRA are more flags. Returns the bridge's name."""
    bridge = nets.bridge()
    d.out("network", "create", "-o", f"com.docker.network.bridge.name={bridge}", *extra, name)
    return bridge
