"""iptables rule generation and the reference-counted RuleBook, against a fake runner."""

from __future__ import annotations

import subprocess

import pytest

from lxc_docker.network.iptables import (
    Iptables,
    IptablesError,
    Rule,
    RuleBook,
    bridge_policy_rules,
    forward_jump_rules,
    link_rules,
    masquerade_rule,
    nat_jump_rules,
    owner_comment,
    port_rules,
)

# What every rule this daemon adds carries, so that it can tell its rules from another engine's.
TAG = ("-m", "comment", "--comment", "lxc-docker:docker0")


def test_nat_jumps_leave_loopback_to_the_proxy():
    pre, out = nat_jump_rules("DOCKER", "docker0")
    assert pre.command("-A") == [
        "-t", "nat", "-A", "PREROUTING", "-m", "addrtype", "--dst-type", "LOCAL", *TAG, "-j", "DOCKER",
    ]  # fmt: skip
    assert out.command("-C") == [
        "-t", "nat", "-C", "OUTPUT", "!", "-d", "127.0.0.0/8", "-m", "addrtype", "--dst-type", "LOCAL",
        *TAG, "-j", "DOCKER",
    ]  # fmt: skip


def test_every_rule_carries_the_owner_comment():
    rules = (
        nat_jump_rules("DOCKER", "docker0")
        + forward_jump_rules("DOCKER", "docker0")
        + [masquerade_rule("172.17.0.0/16", "docker0")]
        + bridge_policy_rules("DOCKER", "docker0", icc=False)
        + port_rules("DOCKER", "docker0", "tcp", "0.0.0.0", 8080, "172.17.0.2", 80)
        + link_rules("DOCKER", "docker0", "172.17.0.3", "172.17.0.2", 6379, "tcp")
    )
    for rule in rules:
        at = rule.args.index("-j")
        assert rule.args[at - 4 : at] == TAG, rule
    assert owner_comment("br1") == "lxc-docker:br1"


def test_masquerade_rule():
    rule = masquerade_rule("172.17.0.0/16", "docker0")
    assert rule == Rule(
        "nat", "POSTROUTING", ("-s", "172.17.0.0/16", "!", "-o", "docker0", *TAG, "-j", "MASQUERADE")
    )


def test_forward_jumps_and_policy_follow_icc():
    assert [r.args for r in forward_jump_rules("DOCKER", "docker0")] == [
        ("-i", "docker0", *TAG, "-j", "DOCKER"),
        ("-o", "docker0", *TAG, "-j", "DOCKER"),
    ]
    on = bridge_policy_rules("DOCKER", "docker0", icc=True)
    off = bridge_policy_rules("DOCKER", "docker0", icc=False)
    assert on[:2] == off[:2]
    assert on[0].args == (
        "-o", "docker0", "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", *TAG, "-j", "ACCEPT",
    )  # fmt: skip
    assert on[1].args == ("-i", "docker0", "!", "-o", "docker0", *TAG, "-j", "ACCEPT")
    assert on[2].args == ("-i", "docker0", "-o", "docker0", *TAG, "-j", "ACCEPT")
    assert off[2].args == ("-i", "docker0", "-o", "docker0", *TAG, "-j", "DROP")
    assert all(r.table == "filter" and r.chain == "DOCKER" for r in on + off)


def test_port_rules_any_address_has_no_destination_match():
    dnat, accept = port_rules("DOCKER", "docker0", "tcp", "0.0.0.0", 49153, "172.17.0.2", 80)
    assert dnat.table == "nat" and dnat.chain == "DOCKER"
    assert dnat.args == (
        "-p", "tcp", "--dport", "49153", "!", "-i", "docker0",
        *TAG, "-j", "DNAT", "--to-destination", "172.17.0.2:80",
    )  # fmt: skip
    assert accept.table == "filter"
    assert accept.args == (
        "-d", "172.17.0.2", "!", "-i", "docker0", "-o", "docker0",
        "-p", "tcp", "--dport", "80", *TAG, "-j", "ACCEPT",
    )  # fmt: skip


def test_port_rules_specific_address():
    dnat, _ = port_rules("DOCKER", "br0", "udp", "127.0.0.1", 53, "10.0.0.5", 5353)
    assert dnat.args[:6] == ("-p", "udp", "-d", "127.0.0.1", "--dport", "53")
    assert dnat.args[-1] == "10.0.0.5:5353"


def test_link_rules_both_directions():
    fwd, back = link_rules("DOCKER", "docker0", "172.17.0.3", "172.17.0.2", 6379, "tcp")
    assert fwd.args == (
        "-i", "docker0", "-o", "docker0", "-p", "tcp", "-s", "172.17.0.3", "-d", "172.17.0.2",
        "--dport", "6379", *TAG, "-j", "ACCEPT",
    )  # fmt: skip
    assert back.args == (
        "-i", "docker0", "-o", "docker0", "-p", "tcp", "-s", "172.17.0.2", "-d", "172.17.0.3",
        "--sport", "6379", *TAG, "-j", "ACCEPT",
    )  # fmt: skip


class FakeIptables(Iptables):
    """Records commands; -C answers from the rules it holds; fails on request."""

    def __init__(self, fail_on: str | None = None) -> None:
        super().__init__("iptables")
        self.calls: list[list[str]] = []
        self.present: list[tuple[str, ...]] = []
        self.fail_on = fail_on

    def run(self, args):
        self.calls.append(list(args))
        key = (args[1], args[3], *args[4:])
        rc = 0
        if self.fail_on and self.fail_on in args:
            rc = 1
        elif args[2] == "-C":
            rc = 0 if key in self.present else 1
        elif args[2] in ("-A", "-I"):
            self.present.append(key)
        elif args[2] == "-D":
            if key in self.present:
                self.present.remove(key)
            else:
                rc = 1
        return subprocess.CompletedProcess(args, rc, "", "boom" if rc else "")


def test_ensure_checks_before_adding():
    ipt = FakeIptables()
    rule = masquerade_rule("10.0.0.0/24", "br0")
    assert ipt.ensure(rule, insert=True)
    assert not ipt.ensure(rule, insert=True)
    assert [c[2] for c in ipt.calls] == ["-C", "-I", "-C"]
    assert ipt.delete_all(rule) == 1
    assert ipt.present == []


def test_failed_command_raises_with_stderr():
    ipt = FakeIptables(fail_on="-A")
    with pytest.raises(IptablesError, match="boom"):
        ipt.add(masquerade_rule("10.0.0.0/24", "br0"))


def test_rulebook_counts_references():
    ipt = FakeIptables()
    book = RuleBook(ipt)
    rules = link_rules("DOCKER", "br0", "10.0.0.3", "10.0.0.2", 80, "tcp")
    book.add(rules)
    book.add(rules)
    assert len(ipt.present) == 2  # added once
    assert all(c[2] == "-I" for c in ipt.calls)  # filter rules go above the bridge policy
    book.remove(rules)
    assert len(ipt.present) == 2
    book.remove(rules)
    assert ipt.present == [] and book.rules() == {}
    book.remove(rules)  # one remove too many changes nothing
    assert ipt.present == []


def test_rulebook_adds_all_or_nothing():
    ipt = FakeIptables(fail_on="--to-destination")
    book = RuleBook(ipt)
    filter_first = list(reversed(port_rules("DOCKER", "br0", "tcp", "0.0.0.0", 8080, "10.0.0.2", 80)))
    with pytest.raises(IptablesError):
        book.add(filter_first)
    assert ipt.present == [] and book.rules() == {}


def test_nat_rules_are_appended():
    ipt = FakeIptables()
    RuleBook(ipt).add(port_rules("DOCKER", "br0", "tcp", "0.0.0.0", 8080, "10.0.0.2", 80))
    assert [c[:3] for c in ipt.calls] == [["-t", "nat", "-A"], ["-t", "filter", "-I"]]
