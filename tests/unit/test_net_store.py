"""Network records: subnet pools, address plans, bridge names, lookups and the atomic store."""

from __future__ import annotations

import ipaddress
import json

import pytest

from lxc_docker.errors import Conflict, InvalidParameter, NotFound
from lxc_docker.network.netstore import (
    NetworkRecord,
    NetworkStore,
    bridge_name,
    choose_subnet,
    plan_addresses,
)
from lxc_docker.runconfig import endpoints_config

N = ipaddress.IPv4Network


def test_pools_start_at_172_18_and_skip_what_is_used():
    assert choose_subnet([]) == N("172.18.0.0/16")
    assert choose_subnet([N("172.18.5.0/24"), N("172.19.0.0/16")]) == N("172.20.0.0/16")
    used = [N(f"172.{b}.0.0/16") for b in range(18, 32)]
    assert choose_subnet(used) == N("192.168.0.0/20")


def test_address_plans():
    assert plan_addresses("10.9.8.0/24", "", "", []) == ("10.9.8.0/24", "10.9.8.1", "")
    assert plan_addresses("10.9.8.0/24", "10.9.8.254", "10.9.8.128/25", []) == (
        "10.9.8.0/24",
        "10.9.8.254",
        "10.9.8.128/25",
    )
    with pytest.raises(Conflict, match="overlaps"):
        plan_addresses("10.9.8.0/24", "", "", [N("10.9.0.0/16")])
    for subnet, gateway, ip_range in [
        ("10.9.8.1/24", "", ""),  # host bits set
        ("10.9.8.0/24", "10.9.9.1", ""),
        ("10.9.8.0/24", "10.9.8.0", ""),
        ("10.9.8.0/24", "", "10.9.9.0/25"),
        ("", "10.9.8.1", ""),
        ("nonsense", "", ""),
    ]:
        with pytest.raises(InvalidParameter):
            plan_addresses(subnet, gateway, ip_range, [])


def test_bridge_names_fit_ifnamsiz():
    assert bridge_name("0123456789abcdef", {}) == "br-0123456789ab"
    assert bridge_name("x", {"com.docker.network.bridge.name": "ldu123456"}) == "ldu123456"
    for bad in ("a" * 16, "with space", "semi;colon"):
        with pytest.raises(InvalidParameter):
            bridge_name("x", {"com.docker.network.bridge.name": bad})


def test_store_persists_and_finds_by_name_id_and_prefix(tmp_path):
    store = NetworkStore(str(tmp_path))
    builtin = dict(store.builtin_ids)
    assert set(builtin) == {"bridge", "host", "none"}
    rec = NetworkRecord(id="ab" * 32, name="front", subnet="10.1.0.0/24", gateway="10.1.0.1", bridge="br-x")
    store.add(rec)
    with pytest.raises(Conflict):
        store.add(
            NetworkRecord(id="cd" * 32, name="front", subnet="10.2.0.0/24", gateway="10.2.0.1", bridge="y")
        )
    with pytest.raises(Conflict):
        store.add(
            NetworkRecord(id="ef" * 32, name="host", subnet="10.3.0.0/24", gateway="10.3.0.1", bridge="z")
        )
    again = NetworkStore(str(tmp_path))
    assert again.builtin_ids == builtin
    assert again.find("front").id == rec.id and again.find("abab").name == "front"
    assert again.find("none") == "none" and again.find(builtin["host"]) == "host"
    with pytest.raises(NotFound):
        again.find("nothing")
    again.remove(rec.id)
    assert json.loads((tmp_path / "networks.json").read_text())["Networks"] == []


def test_endpoints_config_of_a_create_body():
    body = {
        "NetworkingConfig": {
            "EndpointsConfig": {"app": {"Aliases": ["db"], "IPAMConfig": {"IPv4Address": "10.1.0.9"}}}
        }
    }
    assert endpoints_config(body) == {
        "app": {"Aliases": ["db"], "Links": [], "IPAMConfig": {"IPv4Address": "10.1.0.9"}}
    }
    assert endpoints_config({"Image": "x"}) == {}
    for bad in (
        {"NetworkingConfig": []},
        {"NetworkingConfig": {"EndpointsConfig": {"app": {"Aliases": "db"}}}},
        {"NetworkingConfig": {"EndpointsConfig": {"app": {"Links": [1]}}}},
        {"NetworkingConfig": {"EndpointsConfig": {"app": {"IPAMConfig": {"IPv4Address": "nope"}}}}},
    ):
        with pytest.raises(InvalidParameter):
            endpoints_config(bad)
