"""A Linux bridge of a test's own (never docker0) on a free private /24, removed afterwards with the
iptables chain a daemon made for it."""

from __future__ import annotations

import contextlib
import random
import shlex
import subprocess
from collections.abc import Iterator


@contextlib.contextmanager
def own_bridge(prefix: str) -> Iterator[str]:
    """Yields the new bridge's name (`prefix` + 6 hex digits, at most 9 characters in all)."""
    routes = subprocess.run(["ip", "-4", "route"], capture_output=True, text=True, check=True).stdout
    name = f"{prefix}{random.randrange(16**6):06x}"
    net = next(f"10.{a}.{b}" for a in range(180, 230) for b in range(1, 250) if f"10.{a}.{b}." not in routes)
    subprocess.run(["ip", "link", "add", name, "type", "bridge"], check=True)
    try:
        subprocess.run(["ip", "addr", "add", f"{net}.1/24", "dev", name], check=True)
        subprocess.run(["ip", "link", "set", name, "up"], check=True)
        yield name
    finally:
        subprocess.run(["ip", "link", "del", name], check=False)
        remove_rules_of(name)


def remove_rules_of(bridge: str) -> None:
    """Every iptables rule a daemon tagged for `bridge` (comment `lxc-docker:<bridge>`), then its
    chains: a daemon killed in a test leaves them, and a chain still jumped to cannot be deleted."""
    tag = f"lxc-docker:{bridge}"
    # ip6tables too: an IPv6 network's rules carry the same tag.
    for cmd, table in [(c, t) for c in ("iptables", "ip6tables") for t in ("nat", "filter")]:
        try:
            dump = subprocess.run([f"{cmd}-save", "-t", table], capture_output=True, text=True).stdout
        except FileNotFoundError:
            continue
        for line in dump.splitlines():
            if line.startswith("-A ") and tag in line:
                rule = shlex.split(line)[1:]
                subprocess.run([cmd, "-w", "-t", table, "-D", *rule], capture_output=True)
    for table in ("nat", "filter"):
        chain = f"DOCKER-{bridge}"[:28]
        subprocess.run(["iptables", "-w", "-t", table, "-F", chain], capture_output=True)
        subprocess.run(["iptables", "-w", "-t", table, "-X", chain], capture_output=True)
