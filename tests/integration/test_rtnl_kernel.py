"""rtnl.py against the kernel: what it reads matches `ip`, what it creates `ip` reads back, and the
daemon's start path (bridge checks, MTU, ranges) does not import pyroute2."""

from __future__ import annotations

import ipaddress
import json
import os
import secrets
import subprocess
import sys

import pytest

from lib.require import require_tools
from lxc_docker.errors import SystemError_
from lxc_docker.network import bridge as br
from lxc_docker.network import rtnl

APP = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "app")


def _ip(*args: str) -> list[dict]:
    return json.loads(subprocess.run(["ip", "-j", *args], capture_output=True, text=True, check=True).stdout)


@pytest.fixture
def bridge_name():
    require_tools("ip")
    name = f"lrt{secrets.token_hex(3)}"
    yield name
    subprocess.run(["ip", "link", "del", name], capture_output=True)


def _free_net() -> ipaddress.IPv4Interface:
    used = br.host_networks()
    for b in range(1, 250):
        iface = ipaddress.IPv4Interface(f"10.251.{b}.1/24")
        if not br.overlaps(iface.network, used):
            return iface
    pytest.skip("no free 10.251.x.0/24")


def test_created_bridge_reads_back_through_ip(bridge_name):
    address = _free_net()
    br.create_bridge(bridge_name, address, 1380)
    [link] = _ip("-d", "link", "show", bridge_name)
    assert link["linkinfo"]["info_kind"] == "bridge"
    assert link["mtu"] == 1380
    assert "UP" in link["flags"]
    assert int(link["address"].split(":")[0], 16) & 0x03 == 0x02  # unicast, locally administered
    [info] = _ip("-4", "addr", "show", bridge_name)
    assert [(a["local"], a["prefixlen"]) for a in info["addr_info"]] == [(str(address.ip), 24)]
    assert br.interface_ipv4(bridge_name) == address
    assert br.is_bridge(bridge_name)
    assert rtnl.link_mtu(rtnl.link_index(bridge_name)) == 1380


def test_creating_an_existing_bridge_is_refused_and_leaves_it(bridge_name):
    address = _free_net()
    br.create_bridge(bridge_name, address, 1500)
    with pytest.raises(SystemError_, match="File exists"):
        br.create_bridge(bridge_name, address, 1500)
    assert br.interface_ipv4(bridge_name) == address


def test_set_up_changes_mtu_and_state(bridge_name):
    subprocess.run(["ip", "link", "add", bridge_name, "type", "bridge"], check=True)
    assert br.interface_ipv4(bridge_name) is None
    br.set_up(bridge_name, 1420)
    [link] = _ip("link", "show", bridge_name)
    assert link["mtu"] == 1420 and "UP" in link["flags"]


def test_missing_interface():
    assert br.interface_ipv4("lrtnone0") is False
    assert rtnl.link_index("lrtnone0") is None
    with pytest.raises(SystemError_, match="disappeared"):
        br.set_up("lrtnone0")


def test_routes_and_addresses_match_ip():
    ours = {(r.dst, r.dst_len) for r in rtnl.routes() if r.table == br.MAIN_TABLE and r.dst_len}
    theirs = set()
    for r in _ip("-4", "route", "show", "table", "main"):
        if r["dst"] != "default":
            net = ipaddress.IPv4Network(r["dst"], strict=False)
            theirs.add((str(net.network_address), net.prefixlen))
    assert ours == theirs
    addrs = {(a.index, a.local, a.prefixlen) for a in rtnl.addresses()}
    listed = {(i["ifindex"], a["local"], a["prefixlen"]) for i in _ip("-4", "addr") for a in i["addr_info"]}
    assert addrs == listed
    default = [r for r in _ip("-4", "route", "show", "table", "main") if r["dst"] == "default"]
    if default:
        [link] = _ip("link", "show", default[0]["dev"])
        assert br.default_route_mtu() == link["mtu"]


def test_start_path_does_not_import_pyroute2():
    code = (
        "import sys\n"
        "from lxc_docker.network import NetworkManager, bridge as br\n"
        "br.interface_ipv4('lo'); br.default_route_mtu(); br.host_networks()\n"
        "assert 'pyroute2' not in sys.modules, 'pyroute2 imported'\n"
        "ipr = br.IPRoute()\n"
        "ipr.close()\n"
        "assert 'pyroute2' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": APP}, check=True)
