"""The start-up rules go in with one iptables-restore: the same rules, in the same places and order,
with the same comments, as the rule-by-rule iptables commands that made them before, and the same
cleanup; the listing from one iptables-save is what `iptables -S` prints."""

from __future__ import annotations

import secrets
import subprocess

import pytest

from lib.bridge import own_bridge, remove_rules_of
from lib.require import require_tools
from lxc_docker.network import NetworkManager
from lxc_docker.network.hostrules import TABLES
from lxc_docker.network.iptables import (
    Iptables,
    IptablesError,
    bridge_policy_rules,
    forward_jump_rules,
    masquerade_rule,
    nat_jump_rules,
)


def _save() -> list[str]:
    return subprocess.run(["iptables-save"], capture_output=True, text=True, check=True).stdout.splitlines()


def _ours(bridge: str, chain: str) -> list[tuple[str, str]]:
    """(table, line) of every rule and chain naming the bridge or the chain, in iptables-save's order
    (rules in their chain's order), with the names replaced so two runs compare."""
    found, table = [], ""
    for line in _save():
        if line.startswith("*"):
            table = line[1:]
        elif line.startswith(("-A ", ":")) and (bridge in line or chain in line):
            found.append((table, line.split(" [")[0].replace(chain, "CHAIN").replace(bridge, "BR")))
    return found


def _rule_by_rule(ipt: Iptables, bridge: str, chain: str, subnet: str, icc: bool) -> None:
    """What the daemon's start ran before the batch: -N twice, then one iptables per rule."""
    for table in TABLES:
        ipt.ensure_chain(table, chain)
    for rule in bridge_policy_rules(chain, bridge, icc):
        ipt.add(rule)
    for rule in [
        *nat_jump_rules(chain, bridge),
        *forward_jump_rules(chain, bridge),
        masquerade_rule(subnet, bridge),
    ]:
        ipt.add(rule, insert=True)


def _drop(bridge: str, chain: str) -> None:
    remove_rules_of(bridge)
    for table in TABLES:
        subprocess.run(["iptables", "-w", "-t", table, "-X", chain], capture_output=True)


@pytest.fixture
def bridge():
    require_tools("iptables", "iptables-save", "iptables-restore", "ip")
    with own_bridge("ldi") as name:
        yield name


@pytest.mark.parametrize("icc", [True, False])
def test_batched_start_rules_equal_the_rule_by_rule_ones(bridge, tmp_path, icc):
    chain = f"LDI{secrets.token_hex(3).upper()}"
    mgr = NetworkManager(bridge=bridge, icc=icc, chain=chain, state_path=str(tmp_path / "network.json"))
    subnet = None
    try:
        mgr.setup()
        subnet = str(mgr.address.network)
        batched = _ours(bridge, chain)
    finally:
        mgr.shutdown()
    assert _ours(bridge, chain) == [], "shutdown removes the rules and the chains it created"
    try:
        _rule_by_rule(Iptables(), bridge, chain, subnet, icc)
        expected = _ours(bridge, chain)
    finally:
        _drop(bridge, chain)
    assert len(expected) == 10  # two chains, eight rules
    assert batched == expected


def test_a_chain_that_was_there_stays_after_shutdown(bridge, tmp_path):
    chain = f"LDI{secrets.token_hex(3).upper()}"
    subprocess.run(["iptables", "-w", "-t", "filter", "-N", chain], check=True)
    try:
        mgr = NetworkManager(bridge=bridge, chain=chain, state_path=str(tmp_path / "network.json"))
        mgr.setup()
        assert sum(1 for t, ln in _ours(bridge, chain) if ln.startswith(":")) == 2
        mgr.shutdown()
        assert _ours(bridge, chain) == [("filter", ":CHAIN -")], "not ours to delete, nor to flush"
    finally:
        _drop(bridge, chain)


def test_failed_batch_is_a_clear_error_and_applies_nothing_of_its_table():
    require_tools("iptables-restore")
    chain = f"LDI{secrets.token_hex(3).upper()}"
    with pytest.raises(IptablesError, match="iptables-restore failed"):
        Iptables().restore({"filter": [f"-N {chain}", f"-A {chain} -j NO-SUCH-TARGET-X"]})
    assert not [ln for ln in _save() if chain in ln]


def test_one_listing_equals_iptables_s():
    require_tools("iptables", "iptables-save")
    ipt = Iptables()
    listed = ipt.list_tables(TABLES)
    for table in TABLES:
        if any(ln.startswith("-P ") for ln in listed[table]):  # a table the kernel has loaded
            assert listed[table] == ipt.list_table(table)
