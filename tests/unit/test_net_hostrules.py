"""Telling this daemon's iptables rules and bridges from another engine's, against listed text."""

from __future__ import annotations

import os
import subprocess

import pytest

from lxc_docker.errors import SystemError_
from lxc_docker.network.hostrules import (
    BridgeLock,
    HostTables,
    claim_bridge,
    delete_rules,
    read_state,
    refusal,
    write_state,
)
from lxc_docker.network.iptables import Iptables, IptablesError

# What `iptables -S` printed on a host where Docker runs on docker0 and lxc-docker on br1.
LISTING = {
    "nat": """-P PREROUTING ACCEPT
-P POSTROUTING ACCEPT
-N DOCKER
-N DOCKER-br1
-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
-A PREROUTING -m addrtype --dst-type LOCAL -m comment --comment "lxc-docker:br1" -j DOCKER-br1
-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE
-A POSTROUTING -s 10.5.0.0/24 ! -o br1 -m comment --comment "lxc-docker:br1" -j MASQUERADE
-A DOCKER -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80
-A DOCKER-br1 -p tcp ! -i br1 -m comment --comment "lxc-docker:br1" -j DNAT --to-destination 10.5.0.2:80
""",
    "filter": """-P FORWARD ACCEPT
-N DOCKER
-N DOCKER-br1
-A FORWARD -o docker0 -j DOCKER
-A FORWARD -i br1 -m comment --comment "lxc-docker:br1" -j DOCKER-br1
-A FORWARD -i br10 -j ACCEPT
-A DOCKER-br1 -i br1 -o br1 -m comment --comment "lxc-docker:br10" -j ACCEPT
""",
}


class ListingIptables(Iptables):
    def __init__(self, listing: dict[str, str]) -> None:
        super().__init__("iptables")
        self.listing = listing
        self.calls: list[list[str]] = []
        self.refuse_restore = False

    def run(self, args):
        self.calls.append(list(args))
        if args[2] == "-S":
            return subprocess.CompletedProcess(args, 0, self.listing[args[1]], "")
        return subprocess.CompletedProcess(args, 0, "", "")

    def restore(self, batch):
        self.calls.append(["restore", batch])
        if self.refuse_restore:
            raise IptablesError("iptables-restore failed: Bad rule")

    def list_tables(self, tables):
        return {table: self.run(["-t", table, "-S"]).stdout.splitlines() for table in tables}


@pytest.fixture
def view() -> HostTables:
    return HostTables.read(ListingIptables(LISTING))


def test_listing_is_parsed_with_quoted_comments(view):
    assert view.has_chain("nat", "DOCKER-br1") and view.has_chain("nat", "PREROUTING")
    assert not view.has_chain("nat", "FORWARD")
    ours = view.ours("lxc-docker:br1")
    assert [(r.table, r.chain) for r in ours] == [
        ("nat", "PREROUTING"),
        ("nat", "POSTROUTING"),
        ("nat", "DOCKER-br1"),
        ("filter", "FORWARD"),
    ]
    assert ours[1].text() == (
        "-t nat -A POSTROUTING -s 10.5.0.0/24 ! -o br1 -m comment --comment lxc-docker:br1 -j MASQUERADE"
    )


def test_another_engines_bridge_is_foreign(view):
    foreign = view.foreign("docker0", "DOCKER", "lxc-docker:docker0")
    texts = [r.text() for r in foreign]
    assert "-t nat -A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE" in texts
    assert "-t nat -A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER" in texts
    assert "-t filter -A FORWARD -o docker0 -j DOCKER" in texts
    assert len(foreign) == 4  # and the DNAT inside DOCKER


def test_our_own_bridge_has_nothing_foreign(view):
    assert view.foreign("br1", "DOCKER-br1", "lxc-docker:br1") == [
        # A comment for another bridge in our chain is not ours: exact comment, not a prefix.
        next(r for r in view.rules if r.comment == "lxc-docker:br10")
    ]


def test_a_bridge_name_prefix_is_not_the_bridge(view):
    # "-i br10" does not name br1: only the rule with the other comment and "-i br1" is foreign.
    (foreign,) = view.foreign("br1", "DOCKER-x", "lxc-docker:br1")
    assert foreign.comment == "lxc-docker:br10"


def test_touching_lists_rules_in_and_jumps_to_a_chain(view):
    assert len(view.touching("nat", "DOCKER-br1")) == 2
    assert len(view.touching("filter", "DOCKER")) == 1
    assert view.touching("nat", "NOPE") == []


def test_refusal_names_the_bridge_and_the_flags(view):
    err = refusal("docker0", "DOCKER", view.foreign("docker0", "DOCKER", "lxc-docker:docker0"))
    text = str(err)
    assert isinstance(err, SystemError_)
    assert text.startswith("bridge docker0 is managed by another engine")
    assert "-b/--bridge" in text and "-b none" in text
    # The rules naming the bridge are quoted, not the DNAT inside the chain.
    assert "-j MASQUERADE" in text and "DNAT" not in text


def test_refusal_for_a_chain_alone_names_the_chain(view):
    text = str(refusal("br7", "DOCKER", view.foreign("br7", "DOCKER", "lxc-docker:br7")))
    assert text.startswith("iptables chain DOCKER, which this daemon uses for bridge br7, is another")
    assert "--dst-type LOCAL -j DOCKER;" in text and "-j DNAT" in text and "-o docker0 -j DOCKER." in text
    assert "more)" not in text and "-b/--bridge" in text


def test_bridge_lock_is_exclusive_and_released(tmp_path):
    first = claim_bridge("ldtlock0", str(tmp_path))
    netns = os.stat("/proc/self/ns/net").st_ino
    assert first.held and first.path == str(tmp_path / f"net{netns}-ldtlock0.lock")
    assert os.path.exists(first.path)
    with pytest.raises(SystemError_, match=r"another lxc-docker daemon \(pid \d+"):
        claim_bridge("ldtlock0", str(tmp_path))
    other = claim_bridge("ldtlock1", str(tmp_path))  # another bridge is free
    first.release()
    assert not os.path.exists(first.path)
    again = BridgeLock("ldtlock0", str(tmp_path))
    assert again.acquire()
    again.release()
    other.release()


def test_state_round_trip_and_old_layout_ignored(tmp_path):
    path = str(tmp_path / "network.json")
    write_state(path, "br1", "DOCKER-br1", [("nat", "DOCKER-br1")])
    assert read_state(path) == {"bridge": "br1", "chain": "DOCKER-br1", "chains": [("nat", "DOCKER-br1")]}
    (tmp_path / "network.json").write_text('{"bridge": "br1", "chain": "DOCKER", "rules": []}')
    assert read_state(path) == {}
    assert read_state(str(tmp_path / "none.json")) == {} and read_state(None) == {}


def test_our_rules_are_deleted_in_one_batch_by_their_own_spec():
    ipt = ListingIptables(LISTING)
    delete_rules(ipt, HostTables.read(ipt).ours("lxc-docker:br1"))
    [(op, batch)] = [c for c in ipt.calls if c[0] == "restore"]
    assert [c for c in ipt.calls if c[2:3] == ["-D"]] == []
    assert batch == {
        "nat": [
            "-D PREROUTING -m addrtype --dst-type LOCAL -m comment --comment lxc-docker:br1 -j DOCKER-br1",
            "-D POSTROUTING -s 10.5.0.0/24 ! -o br1 -m comment --comment lxc-docker:br1 -j MASQUERADE",
            "-D DOCKER-br1 -p tcp ! -i br1 -m comment --comment lxc-docker:br1 -j DNAT "
            "--to-destination 10.5.0.2:80",
        ],
        "filter": ["-D FORWARD -i br1 -m comment --comment lxc-docker:br1 -j DOCKER-br1"],
    }


def test_our_rules_are_deleted_one_by_one_when_the_batch_fails():
    ipt = ListingIptables(LISTING)
    ipt.refuse_restore = True
    delete_rules(ipt, HostTables.read(ipt).ours("lxc-docker:br1"))
    deletes = [c for c in ipt.calls if c[2:3] == ["-D"]]
    assert len(deletes) == 4 and not [c for c in ipt.calls if c[2:3] in (["-F"], ["-X"])]
    # The comment goes back to iptables unquoted, as one word.
    assert deletes[1] == [
        "-t", "nat", "-D", "POSTROUTING", "-s", "10.5.0.0/24", "!", "-o", "br1",
        "-m", "comment", "--comment", "lxc-docker:br1", "-j", "MASQUERADE",
    ]  # fmt: skip


def test_lock_directory_that_cannot_be_made_is_a_clear_error(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(SystemError_, match="cannot take the lock of bridge br1"):
        claim_bridge("br1", str(tmp_path / "file" / "locks"))
