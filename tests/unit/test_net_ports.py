"""From -p / --expose / -P to the host ports to publish, and bridge range choice."""

from __future__ import annotations

import ipaddress

import pytest

from lxc_docker.errors import InvalidParameter, SystemError_
from lxc_docker.network.bridge import BRIDGE_CANDIDATES, choose_range, mac_for_ip
from lxc_docker.network.manager import NetworkManager, disabled_settings
from lxc_docker.network.portmapper import PortRequest, plan_ports, port_key
from lxc_docker.runconfig.parse import parse_port_specs


def plan(specs, exposed=(), publish_all=False, default_ip="0.0.0.0"):
    exp, bindings = parse_port_specs(list(specs))
    for e in exposed:
        exp[e] = {}
    return plan_ports(exp, bindings, publish_all, default_ip)


def test_every_documented_p_form():
    ports, reqs = plan(["127.0.0.1:80:8080", "127.0.0.1::8081", "81:8082", "8083", "127.0.0.1:53:5353/udp"])
    assert reqs == [
        PortRequest("5353/udp", "udp", 5353, "127.0.0.1", 53),
        PortRequest("8080/tcp", "tcp", 8080, "127.0.0.1", 80),
        PortRequest("8081/tcp", "tcp", 8081, "127.0.0.1", 0),
        PortRequest("8082/tcp", "tcp", 8082, "0.0.0.0", 81),
        PortRequest("8083/tcp", "tcp", 8083, "0.0.0.0", 0),
    ]
    assert ports == {k: [] for k in ("5353/udp", "8080/tcp", "8081/tcp", "8082/tcp", "8083/tcp")}


def test_exposed_only_ports_are_null_and_publish_all_publishes_them():
    ports, reqs = plan([], exposed=["80/tcp", "53/udp"])
    assert ports == {"53/udp": None, "80/tcp": None} and reqs == []
    ports, reqs = plan(["8080:80"], exposed=["80/tcp", "443/tcp"], publish_all=True, default_ip="10.1.1.1")
    assert reqs == [
        PortRequest("80/tcp", "tcp", 80, "10.1.1.1", 8080),  # an explicit binding wins over -P
        PortRequest("443/tcp", "tcp", 443, "10.1.1.1", 0),
    ]


def test_default_ip_applies_to_bindings_without_address():
    _, reqs = plan(["8080:80", "1.2.3.4:9090:90"], default_ip="127.0.0.1")
    assert [(r.host_ip, r.host_port) for r in reqs] == [("127.0.0.1", 8080), ("1.2.3.4", 9090)]


def test_one_port_published_twice():
    ports, reqs = plan(["8080:80", "8081:80"])
    assert [r.host_port for r in reqs] == [8080, 8081] and list(ports) == ["80/tcp"]


def test_keys_are_normalized_and_checked():
    assert port_key("80") == ("80/tcp", 80, "tcp")
    assert port_key("53/UDP") == ("53/udp", 53, "udp")
    for bad in ("0", "70000", "x/tcp", "80/sctp", ""):
        with pytest.raises(InvalidParameter):
            port_key(bad)
    with pytest.raises(InvalidParameter, match="hostPort"):
        plan_ports({}, {"80/tcp": [{"HostIp": "", "HostPort": "99999"}]}, False, "0.0.0.0")
    with pytest.raises(InvalidParameter, match="ip address"):
        plan_ports({}, {"80/tcp": [{"HostIp": "nope", "HostPort": ""}]}, False, "0.0.0.0")
    with pytest.raises(InvalidParameter, match="IPv4"):
        plan_ports({}, {"80/tcp": [{"HostIp": "::1", "HostPort": ""}]}, False, "0.0.0.0")


def test_choose_range_prefers_docker_default_and_skips_overlaps():
    assert choose_range([]) == ipaddress.IPv4Interface("172.17.42.1/16")
    used = [ipaddress.IPv4Network("172.17.5.0/24"), ipaddress.IPv4Network("10.0.0.0/8")]
    assert str(choose_range(used)) == "172.16.42.1/24"
    assert str(choose_range([], nameservers=["172.17.0.1"])) == "10.0.42.1/16"
    everything = [ipaddress.IPv4Network("0.0.0.0/1"), ipaddress.IPv4Network("128.0.0.0/1")]
    with pytest.raises(SystemError_, match="--bip"):
        choose_range(everything)
    assert BRIDGE_CANDIDATES[0] == "172.17.42.1/16"


def test_mac_from_ip():
    assert mac_for_ip("172.17.0.2") == "02:42:ac:11:00:02"


def test_manager_flag_validation():
    with pytest.raises(InvalidParameter, match="mutually exclusive"):
        NetworkManager(bridge="br0", bridge_ip="10.0.0.1/24")
    with pytest.raises(InvalidParameter, match="ICC uses iptables"):
        NetworkManager(icc=False, iptables=False)
    with pytest.raises(InvalidParameter, match="--bip"):
        NetworkManager(bridge_ip="10.0.0.300/24")
    with pytest.raises(InvalidParameter, match="--ip"):
        NetworkManager(default_ip="::1")


def test_bridge_none_disables_networking_without_root():
    mgr = NetworkManager(bridge="none")
    mgr.setup()
    assert not mgr.enabled
    settings = mgr.allocate("c1", exposed={"80/tcp": {}}, port_bindings={}, publish_all=True)
    assert settings == disabled_settings()
    assert settings["IPAddress"] == "" and settings["PortMapping"] is None
    mgr.release("c1", settings)
    mgr.shutdown()
