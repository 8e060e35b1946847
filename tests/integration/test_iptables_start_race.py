"""The daemon's start when another program creates the daemon's iptables chain between the daemon's
listing of the tables (iptables-save) and its one iptables-restore --noflush: the race made
deterministic by an iptables-restore on the daemon's PATH that creates the chain just before running
the real one. The start succeeds, every rule is there once, and the chain the other program made
stays after the daemon's stop (it is not the daemon's to delete)."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from lib.require import require_tools

require_tools("iptables", "iptables-save", "iptables-restore", module=True)

pytestmark = pytest.mark.root

WRAPPER = """#!/bin/sh
# The other program: once, when our input creates CHAIN, it creates CHAIN in filter first.
input=$(cat)
if [ ! -e {mark} ] && printf '%s\\n' "$input" | grep -qx -- '-N {chain}'; then
    touch {mark}
    iptables -w -t filter -N {chain} || exit 99
fi
printf '%s\\n' "$input" | exec {real} "$@"
"""


def listed(table: str, chain: str) -> list[str]:
    dump = subprocess.run(["iptables-save", "-t", table], capture_output=True, text=True, check=True).stdout
    return [line for line in dump.splitlines() if chain in line.split() or line.startswith(f":{chain} ")]


def test_start_survives_our_chain_appearing_before_the_restore(
    daemon_factory, test_bridge, tmp_path, monkeypatch
):
    chain = f"DOCKER-{test_bridge}"[:28]
    real = shutil.which("iptables-restore")
    assert real is not None
    bindir, mark = tmp_path / "bin", tmp_path / "raced"
    bindir.mkdir()
    wrapper = bindir / "iptables-restore"
    wrapper.write_text(WRAPPER.format(mark=mark, chain=chain, real=real))
    wrapper.chmod(0o755)
    # The daemon runs iptables-restore by name: this PATH is what it inherits (tests/lib/daemon.py).
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    try:
        d = daemon_factory("-b", test_bridge).start()
        assert mark.exists(), "the wrapper never saw the daemon create its chain"
        filter_lines = listed("filter", chain)
        assert filter_lines.count(f":{chain} - [0:0]") == 1
        # The bridge policy (3 rules in the chain) and the 2 FORWARD jumps, each once.
        in_chain = [line for line in filter_lines if line.startswith(f"-A {chain} ")]
        jumps = [line for line in filter_lines if line.startswith("-A FORWARD ")]
        assert len(in_chain) == 3 and len(set(in_chain)) == 3
        assert len(jumps) == 2 and len(set(jumps)) == 2
        nat_rules = [line for line in listed("nat", chain) if line.startswith("-A ")]
        assert len(nat_rules) == 2 and len(set(nat_rules)) == 2  # PREROUTING and OUTPUT jumps
        assert d.out("info")  # it answers
        d.stop()
        # Our rules and our nat chain are gone; the filter chain the other program made stays.
        assert [line for line in listed("filter", chain) if line.startswith("-A ")] == []
        assert listed("filter", chain) == [f":{chain} - [0:0]"]
        assert listed("nat", chain) == []
    finally:
        subprocess.run(["iptables", "-w", "-t", "filter", "-X", chain], capture_output=True)
