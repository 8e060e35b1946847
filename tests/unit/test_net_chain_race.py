"""The daemon's start against a chain another program creates between its listing of the tables and
its iptables-restore (HostClaim.restore_with_chains), with a fake iptables that keeps the tables as
`iptables -S` lines and applies a restore one table at a time, as iptables-restore --noflush does."""

from __future__ import annotations

import shlex
import subprocess

import pytest

from lxc_docker.errors import SystemError_
from lxc_docker.network.hostrules import HostClaim, read_state
from lxc_docker.network.iptables import Iptables, IptablesError, bridge_policy_rules, nat_jump_rules

CHAIN, BRIDGE = "DOCKER-br7", "br7"


class TableIptables(Iptables):
    """Tables as `iptables -S` lines; `before_restore` runs just before each restore (the racer)."""

    def __init__(self) -> None:
        super().__init__("iptables")
        self.tables: dict[str, list[str]] = {"nat": ["-P PREROUTING ACCEPT"], "filter": ["-P FORWARD ACCEPT"]}
        self.restores: list[dict[str, list[str]]] = []
        self.before_restore = lambda batch: None

    def run(self, args):
        return subprocess.CompletedProcess(args, 0, "", "")

    def list_tables(self, tables):
        return {t: list(self.tables.get(t, [])) for t in tables}

    def restore(self, batch):
        self.before_restore(batch)
        self.restores.append(batch)
        for table, lines in batch.items():
            staged = list(self.tables[table])
            for n, line in enumerate(lines, 2):
                words = shlex.split(line)
                if words[0] == "-N":
                    if f"-N {words[1]}" in staged:
                        raise IptablesError(f"iptables-restore: line {n} failed: Chain already exists.")
                    staged.append(f"-N {words[1]}")
                elif words[0] in ("-A", "-I"):
                    staged.append(shlex.join(["-A", *words[1:]]))
                elif words[0] == "-D":
                    staged.remove(shlex.join(["-A", *words[1:]]))
            self.tables[table] = staged  # this table's COMMIT: it stays even if a later table fails

    def rules(self, table: str) -> list[str]:
        return [line for line in self.tables[table] if line.startswith("-A")]

    def additions(self) -> list[dict[str, list[str]]]:
        """The restores that add (the others are deletions of rules with our comment)."""
        return [b for b in self.restores if not is_deletion(b)]


def is_deletion(batch: dict[str, list[str]]) -> bool:
    return all(line.startswith("-D ") for lines in batch.values() for line in lines)


def claimed(tmp_path, ipt: TableIptables) -> HostClaim:
    host = HostClaim(
        ipt, BRIDGE, CHAIN, iptables=True, state_path=str(tmp_path / "network.json"), lock_dir=str(tmp_path)
    )
    host.claim()
    return host


def start_batch() -> dict[str, list[str]]:
    """What the network manager's start puts after the chain lines: rules in both tables."""
    batch: dict[str, list[str]] = {}
    for rule in [*bridge_policy_rules(CHAIN, BRIDGE, True), *nat_jump_rules(CHAIN, BRIDGE)]:
        batch.setdefault(rule.table, []).append(rule.restore_line("-A"))
    return batch


def racer(ipt: TableIptables, *lines: str):
    """Another program adds `lines` to the filter table once, just before our first restore."""

    def race(batch) -> None:
        ipt.before_restore = lambda batch: None
        ipt.tables["filter"].extend(lines)

    return race


def test_a_chain_created_meanwhile_is_used_and_the_start_succeeds(tmp_path):
    ipt = TableIptables()
    host = claimed(tmp_path, ipt)
    ipt.before_restore = racer(ipt, f"-N {CHAIN}")
    host.restore_with_chains(start_batch())
    first, second = ipt.additions()
    assert f"-N {CHAIN}" in first["filter"] and f"-N {CHAIN}" in first["nat"]
    # The nat table of the failed run was committed and its chain is there now: no -N at all again.
    assert not [line for lines in second.values() for line in lines if line.startswith("-N")]
    # Each rule once: what the committed nat table added was deleted before the second run.
    for table in ("nat", "filter"):
        assert sorted(ipt.rules(table)) == sorted(set(ipt.rules(table)))
    assert len(ipt.rules("nat")) == 2 and len(ipt.rules("filter")) == 3
    # The nat chain is ours (we made it); the filter chain is the other program's, never to delete.
    assert host.chains == [("nat", CHAIN)]
    assert read_state(str(tmp_path / "network.json"))["chains"] == [("nat", CHAIN)]


def test_a_chain_created_meanwhile_with_rules_of_another_engine_is_refused_and_kept(tmp_path):
    ipt = TableIptables()
    host = claimed(tmp_path, ipt)
    foreign = f"-A {CHAIN} -s 10.9.9.9/32 -j ACCEPT"
    ipt.before_restore = racer(ipt, f"-N {CHAIN}", foreign)
    with pytest.raises(SystemError_, match=f"iptables chain {CHAIN}.* is another engine's"):
        host.restore_with_chains(start_batch())
    assert foreign in ipt.tables["filter"] and len(ipt.additions()) == 1
    # What the failed run's committed nat table added goes with release(), which the network
    # manager's setup calls on any failure; the other engine's chain and rule stay.
    host.release()
    assert ipt.rules("nat") == [] and ipt.rules("filter") == [foreign]


def test_another_failure_is_raised_without_a_second_run(tmp_path):
    ipt = TableIptables()
    host = claimed(tmp_path, ipt)
    batch = start_batch()
    batch["filter"].append("-A NOSUCHCHAIN -j ACCEPT")

    def refuse(batch):
        raise IptablesError("iptables-restore failed: line 5 failed: Bad rule")

    ipt.before_restore = refuse
    with pytest.raises(IptablesError, match="Bad rule"):
        host.restore_with_chains(batch)
    assert ipt.restores == []


def test_the_second_run_is_the_last(tmp_path):
    # The second run fails too: its error is the start's, with no third run.
    ipt = TableIptables()
    host = claimed(tmp_path, ipt)
    calls = []

    def race_then_refuse(batch) -> None:
        if is_deletion(batch):
            return
        calls.append(1)
        if len(calls) == 1:
            ipt.tables["filter"].append(f"-N {CHAIN}")
        else:
            raise IptablesError("iptables-restore failed: line 3 failed: Bad rule")

    ipt.before_restore = race_then_refuse
    with pytest.raises(IptablesError, match="Bad rule"):
        host.restore_with_chains(start_batch())
    assert len(calls) == 2
