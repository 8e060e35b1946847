"""IPv6 pools and addresses of user-defined networks, AAAA answers of the embedded DNS, the rules of a
port published from a user-defined network, and the --ip/--ip6 and --subnet flags."""

from __future__ import annotations

import ipaddress
import socket
import struct

import pytest

from lxc_docker.cli.commands.network import _pools as cli_pools
from lxc_docker.cli.main import CommandError
from lxc_docker.daemon.usernetworks import _pools as api_pools
from lxc_docker.errors import Conflict, InvalidParameter, SystemError_
from lxc_docker.network import dns
from lxc_docker.network.ip6allocator import IP6Allocator
from lxc_docker.network.netstore import NetworkRecord, plan_addresses6
from lxc_docker.network.userports import published_rules
from lxc_docker.runconfig import endpoints_config
from lxc_docker.runconfig.flags import parse_run

N6 = ipaddress.IPv6Network


def test_ip6_allocation_moves_forward_and_skips_the_gateway():
    ips = IP6Allocator("fd00:1::/64", "fd00:1::1")
    assert [str(ips.allocate(c)) for c in "abc"] == ["fd00:1::2", "fd00:1::3", "fd00:1::4"]
    assert ips.release("fd00:1::3", "b") and not ips.release("fd00:1::2", "b")
    assert str(ips.allocate("d")) == "fd00:1::5"  # a released address is not handed out at once
    ips.reserve("fd00:1::f00d", "e")
    ips.reserve("fd00:1::f00d", "e")  # idempotent for its owner
    with pytest.raises(Conflict, match="already allocated"):
        ips.reserve("fd00:1::f00d", "f")
    for bad in ("fd00:1::1", "fd00:1::", "fd00:2::5"):
        with pytest.raises(Conflict):
            ips.reserve(bad, "g")


def test_ip6_allocation_from_a_range_and_when_full():
    ips = IP6Allocator("2001:389::/64", "2001:389::ffff", "2001:389::/126")
    got = {str(ips.allocate(c)) for c in "abc"}
    assert got == {"2001:389::1", "2001:389::2", "2001:389::3"}  # ::0 is the subnet's own address
    with pytest.raises(SystemError_, match="no available IPv6"):
        ips.allocate("d")


def test_ipv6_pool_plans():
    assert plan_addresses6("fd00:9::/64", "", "", []) == ("fd00:9::/64", "fd00:9::1", "")
    assert plan_addresses6("fd00:9::/64", "fd00:9::ffff", "fd00:9::/96", []) == (
        "fd00:9::/64",
        "fd00:9::ffff",
        "fd00:9::/96",
    )
    with pytest.raises(InvalidParameter, match="not a host address"):
        plan_addresses6("fd00:9::/64", "fd00:8::1", "", [])
    with pytest.raises(InvalidParameter, match="not inside"):
        plan_addresses6("fd00:9::/64", "", "fd00:8::/96", [])
    with pytest.raises(InvalidParameter):
        plan_addresses6("fd00:9::1/64", "", "", [])  # host bits set
    with pytest.raises(Conflict, match="overlaps"):
        plan_addresses6("fd00:9::/64", "", "", [N6("fd00:9::/48")])


def test_records_without_ipv6_fields_still_load():
    rec = NetworkRecord.from_json(
        {"id": "x", "name": "n", "subnet": "10.1.0.0/24", "gateway": "10.1.0.1", "bridge": "b"}
    )
    assert not rec.ipv6 and rec.network6 is None
    rec6 = NetworkRecord("x", "n", "10.1.0.0/24", "10.1.0.1", "b", subnet6="fd00::/64", gateway6="fd00::1")
    assert not rec6.ipv6  # a pool without EnableIPv6 is kept, not used (as Docker)
    rec6.enable_ipv6 = True
    assert rec6.ipv6 and rec6.network6 == N6("fd00::/64")


def test_api_pools_split_by_family():
    v4, v6 = api_pools([{"Subnet": "fd00::/64"}, {"Subnet": "10.2.0.0/24", "Gateway": "10.2.0.9"}])
    assert v4 == {"Subnet": "10.2.0.0/24", "Gateway": "10.2.0.9"} and v6 == {"Subnet": "fd00::/64"}
    assert api_pools([]) == ({}, {})
    with pytest.raises(InvalidParameter, match="at most one IPv4"):
        api_pools([{"Subnet": "10.2.0.0/24"}, {"Subnet": "10.3.0.0/24"}])
    with pytest.raises(InvalidParameter, match="invalid subnet"):
        api_pools([{"Subnet": "nonsense"}])


def test_cli_pairs_gateways_and_ranges_with_their_subnet():
    pools = cli_pools(["10.2.0.0/24", "fd00:5::/64"], ["fd00:5::ffff", "10.2.0.254"], ["fd00:5::/96"])
    assert pools == [
        {"Subnet": "10.2.0.0/24", "Gateway": "10.2.0.254"},
        {"Subnet": "fd00:5::/64", "Gateway": "fd00:5::ffff", "IPRange": "fd00:5::/96"},
    ]
    with pytest.raises(CommandError, match="corresponding subnet"):
        cli_pools(["10.2.0.0/24"], ["10.9.0.1"], [])
    with pytest.raises(CommandError, match="only one IPv6"):
        cli_pools(["fd00:5::/64", "fd00:6::/64"], [], [])


def _query(name: str, qtype: int) -> dns.Query:
    labels = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    data = struct.pack("!6H", 7, 0x0100, 1, 0, 0, 0) + labels + struct.pack("!HH", qtype, 1)
    q = dns.parse_query(data)
    assert q is not None
    return q


def _answers(reply: bytes, qlen: int) -> tuple[int, list[tuple[int, str]]]:
    _, flags, _, count, _, _ = struct.unpack("!6H", reply[:12])
    pos, found = 12 + qlen, []
    for _ in range(count):
        _, rtype, _, _, length = struct.unpack("!HHHIH", reply[pos : pos + 12])
        data = reply[pos + 12 : pos + 12 + length]
        family = socket.AF_INET6 if rtype == dns.TYPE_AAAA else socket.AF_INET
        found.append((rtype, socket.inet_ntop(family, data)))
        pos += 12 + length
    return flags & 0xF, found


def test_dns_answers_a_and_aaaa_from_one_lookup():
    known = {"web": ["10.1.0.2", "fd00::2", "fd00::3"], "v4only": ["10.1.0.3"]}
    for name, qtype, want in [
        ("web", dns.TYPE_A, [(dns.TYPE_A, "10.1.0.2")]),
        ("web", dns.TYPE_AAAA, [(dns.TYPE_AAAA, "fd00::2"), (dns.TYPE_AAAA, "fd00::3")]),
        ("v4only", dns.TYPE_AAAA, []),
        ("web", 15, []),  # MX of a known name: an empty answer, not NXDOMAIN
    ]:
        q = _query(name, qtype)
        rcode, answers = _answers(dns.answer(q, known.get), len(q.question))
        assert (rcode, answers) == (dns.NOERROR, want), (name, qtype)
    q = _query("nobody", dns.TYPE_AAAA)
    assert _answers(dns.answer(q, known.get), len(q.question)) == (dns.NXDOMAIN, [])


def test_published_port_rules_of_a_user_network():
    anywhere = published_rules("br-x", "tcp", "0.0.0.0", 49153, "10.5.0.2", 80)
    assert [(r.table, r.chain) for r in anywhere] == [
        ("nat", "PREROUTING"),
        ("nat", "OUTPUT"),
        ("filter", "FORWARD"),
    ]
    pre, out, fwd = (" ".join(r.args) for r in anywhere)
    assert "! -i br-x" in pre and "--to-destination 10.5.0.2:80" in pre and "--dport 49153" in pre
    assert "! -d 127.0.0.0/8" in out and "-i" not in out.split()  # OUTPUT has no input interface
    assert fwd.startswith("-d 10.5.0.2 ! -i br-x -o br-x -p tcp --dport 80") and fwd.endswith("-j ACCEPT")
    assert all("lxc-docker:br-x" in r.args for r in anywhere)
    # Loopback only: the kernel never routes 127.0.0.1 to the bridge, so no OUTPUT DNAT (the proxy serves).
    loop = published_rules("br-x", "udp", "127.0.0.1", 5000, "10.5.0.2", 53)
    assert [r.chain for r in loop] == ["PREROUTING", "FORWARD"]
    one = published_rules("br-x", "tcp", "192.0.2.7", 8080, "10.5.0.2", 80)
    assert all("-d" in r.args for r in one) and "192.0.2.7" in one[1].args


def test_run_ip_and_ip6_flags():
    config, _, _ = parse_run(["--net", "mynet", "--ip", "10.9.0.5", "--ip6", "fd00::5", "busybox"])
    assert config["NetworkingConfig"] == {
        "EndpointsConfig": {"mynet": {"IPAMConfig": {"IPv4Address": "10.9.0.5", "IPv6Address": "fd00::5"}}}
    }
    config, _, _ = parse_run(["--net", "mynet", "--network-alias", "a", "--ip6", "fd00::5", "busybox"])
    assert config["NetworkingConfig"]["EndpointsConfig"]["mynet"] == {
        "Aliases": ["a"],
        "IPAMConfig": {"IPv6Address": "fd00::5"},
    }
    with pytest.raises(ValueError, match="user defined networks"):
        parse_run(["--ip6", "fd00::5", "busybox"])
    body = {"NetworkingConfig": {"EndpointsConfig": {"n": {"IPAMConfig": {"IPv6Address": "10.0.0.1"}}}}}
    with pytest.raises(InvalidParameter, match="invalid IPv6 address"):
        endpoints_config(body)
