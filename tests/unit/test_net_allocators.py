"""IP and host-port allocation: order, no double hand-out, release by owner, restore."""

from __future__ import annotations

import pytest

from lxc_docker.errors import Conflict, SystemError_
from lxc_docker.network.ipallocator import IPAllocator
from lxc_docker.network.portallocator import DYNAMIC_END, DYNAMIC_START, PortAllocator, PortAlreadyAllocated


def test_first_addresses_like_docker():
    ips = IPAllocator("172.17.0.0/16", "172.17.42.1")
    assert [str(ips.allocate(f"c{i}")) for i in range(3)] == ["172.17.0.2", "172.17.0.3", "172.17.0.4"]


def test_gateway_network_and_broadcast_are_never_handed_out():
    ips = IPAllocator("10.9.8.0/29", "10.9.8.1")  # usable .1-.6, .1 is the gateway
    got = {str(ips.allocate(f"c{i}")) for i in range(5)}
    assert got == {f"10.9.8.{i}" for i in range(2, 7)}
    with pytest.raises(SystemError_, match="no available IP"):
        ips.allocate("one-too-many")


def test_gateway_in_the_middle_is_skipped():
    ips = IPAllocator("10.1.2.0/29", "10.1.2.3")
    got = [str(ips.allocate(f"c{i}")) for i in range(5)]
    assert "10.1.2.3" not in got and sorted(got) == [
        "10.1.2.1",
        "10.1.2.2",
        "10.1.2.4",
        "10.1.2.5",
        "10.1.2.6",
    ]


def test_released_address_is_reused_last():
    ips = IPAllocator("10.0.0.0/29", "10.0.0.1")
    a = ips.allocate("a")
    ips.allocate("b")
    assert ips.release(a, "a")
    nxt = ips.allocate("c")
    assert nxt != a
    # Once the others are taken, the wrap-around finds the released one.
    rest = [ips.allocate(f"d{i}") for i in range(3)]
    assert a in rest


def test_release_checks_owner_and_is_idempotent():
    ips = IPAllocator("10.0.0.0/24", "10.0.0.1")
    ip = ips.allocate("a")
    assert not ips.release(ip, "b")
    assert ips.owner(ip) == "a"
    assert ips.release(ip, "a")
    assert not ips.release(ip, "a")
    assert not ips.release("192.168.1.1")


def test_reserve_after_restart_is_not_handed_out_again():
    ips = IPAllocator("10.0.0.0/24", "10.0.0.1")
    ips.reserve("10.0.0.2", "old")
    ips.reserve("10.0.0.2", "old")  # idempotent for the same owner
    with pytest.raises(Conflict):
        ips.reserve("10.0.0.2", "other")
    assert str(ips.allocate("new")) == "10.0.0.3"
    with pytest.raises(Conflict):
        ips.reserve("10.0.1.2", "outside")
    with pytest.raises(Conflict):
        ips.reserve("10.0.0.1", "gateway")


def test_tiny_network_refused():
    with pytest.raises(SystemError_):
        IPAllocator("10.0.0.0/31", "10.0.0.1")


def test_dynamic_ports_start_at_49153_and_move_forward():
    ports = PortAllocator()
    assert ports.request("tcp", "0.0.0.0", 0, "a") == DYNAMIC_START
    assert ports.request("tcp", "0.0.0.0", 0, "a") == DYNAMIC_START + 1
    assert ports.release("tcp", "0.0.0.0", DYNAMIC_START, "a")
    # No reuse while others are free: the cursor keeps going.
    assert ports.request("tcp", "0.0.0.0", 0, "b") == DYNAMIC_START + 2
    # udp has its own range and cursor
    assert ports.request("udp", "0.0.0.0", 0, "a") == DYNAMIC_START


def test_dynamic_ports_wrap_and_exhaust():
    ports = PortAllocator(start=60000, end=60002)
    got = [ports.request("tcp", "0.0.0.0", 0, "a") for _ in range(3)]
    assert got == [60000, 60001, 60002]
    with pytest.raises(SystemError_, match="allocated"):
        ports.request("tcp", "0.0.0.0", 0, "a")
    ports.release("tcp", "0.0.0.0", 60001)
    assert ports.request("tcp", "0.0.0.0", 0, "b") == 60001


def test_explicit_port_conflicts():
    ports = PortAllocator()
    ports.request("tcp", "0.0.0.0", 8080, "a")
    with pytest.raises(PortAlreadyAllocated) as info:
        ports.request("tcp", "0.0.0.0", 8080, "b")
    assert str(info.value) == "Bind for 0.0.0.0:8080 failed: port is already allocated"
    assert info.value.status == 409
    # 0.0.0.0 covers every address
    with pytest.raises(PortAlreadyAllocated):
        ports.request("tcp", "127.0.0.1", 8080, "b")
    # other protocol is independent
    assert ports.request("udp", "0.0.0.0", 8080, "b") == 8080
    # two specific addresses do not conflict
    ports.request("tcp", "127.0.0.1", 9090, "a")
    assert ports.request("tcp", "127.0.0.2", 9090, "b") == 9090
    with pytest.raises(PortAlreadyAllocated):
        ports.request("tcp", "0.0.0.0", 9090, "c")
    # same owner asking again is fine
    assert ports.request("tcp", "0.0.0.0", 8080, "a") == 8080


def test_dynamic_skips_ports_held_on_specific_addresses():
    ports = PortAllocator(start=50000, end=50002)
    ports.request("tcp", "127.0.0.1", 50000, "x")
    assert ports.request("tcp", "0.0.0.0", 0, "a") == 50001


def test_port_release_by_owner_only():
    ports = PortAllocator()
    ports.request("tcp", "0.0.0.0", 8080, "a")
    assert not ports.release("tcp", "0.0.0.0", 8080, "b")
    assert ports.release("tcp", "0.0.0.0", 8080, "a")
    assert not ports.release("tcp", "0.0.0.0", 8080, "a")
    assert ports.allocated() == []


def test_dynamic_range_constants():
    assert (DYNAMIC_START, DYNAMIC_END) == (49153, 65535)
