"""Netlink work on the host side: the bridge, its address range, the MTU, and container veth pairs.

Every call opens its own short-lived IPRoute: pyroute2 ties a socket to the thread that made it,
and the daemon calls in from many request threads (opening one costs well under a millisecond).
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from collections.abc import Iterable

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from ..errors import SystemError_

DEFAULT_BRIDGE = "docker0"
DEFAULT_MTU = 1500
MAIN_TABLE = 254

# Docker's candidates, in its order. 172.17.42.1 is not the first address of its /16 on purpose:
# it matches the gateway of the older /24 ranges, and scripts came to depend on it.
BRIDGE_CANDIDATES = (
    "172.17.42.1/16",
    "10.0.42.1/16",
    "10.1.42.1/16",
    "10.42.42.1/16",
    "172.16.42.1/24",
    "172.16.43.1/24",
    "172.16.44.1/24",
    "10.0.42.1/24",
    "10.0.43.1/24",
    "192.168.42.1/24",
    "192.168.43.1/24",
    "192.168.44.1/24",
)


def overlaps(candidate: ipaddress.IPv4Network, used: Iterable[ipaddress.IPv4Network]) -> bool:
    return any(candidate.overlaps(net) for net in used)


def choose_range(
    used_networks: Iterable[ipaddress.IPv4Network],
    nameservers: Iterable[str] = (),
    candidates: Iterable[str] = BRIDGE_CANDIDATES,
) -> ipaddress.IPv4Interface:
    """The first candidate that overlaps no route or address of the host and holds no nameserver."""
    used = list(used_networks)
    servers = []
    for s in nameservers:
        try:
            servers.append(ipaddress.ip_address(s))
        except ValueError:
            continue
    for text in candidates:
        iface = ipaddress.IPv4Interface(text)
        if overlaps(iface.network, used) or any(s in iface.network for s in servers):
            continue
        return iface
    raise SystemError_(
        "Could not find a free IP address range for the bridge; "
        "please configure its address manually with --bip or use an existing bridge with -b"
    )


def mac_for_ip(ip: ipaddress.IPv4Address | str) -> str:
    """02:42 then the four address bytes: stable per address, and locally administered."""
    raw = ipaddress.IPv4Address(ip).packed
    return "02:42:" + ":".join(f"{b:02x}" for b in raw)


def random_mac() -> str:
    raw = bytearray(secrets.token_bytes(6))
    raw[0] = (raw[0] & 0xFE) | 0x02  # unicast, locally administered
    return ":".join(f"{b:02x}" for b in raw)


def host_veth_name() -> str:
    """A fresh name for the host end of a veth pair, vethXXXXXX as Docker named them."""
    while True:
        name = f"veth{secrets.token_hex(3)}"
        if not link_exists(name):
            return name


def _route_table(msg) -> int:
    return msg.get_attr("RTA_TABLE") or msg.get("table")


def host_networks() -> list[ipaddress.IPv4Network]:
    """Networks the host already uses: main-table routes (default route aside) and interface addresses."""
    nets: list[ipaddress.IPv4Network] = []
    with IPRoute() as ipr:
        for route in ipr.get_routes(family=2):
            if _route_table(route) != MAIN_TABLE or not route.get("dst_len"):
                continue
            dst = route.get_attr("RTA_DST")
            if dst:
                nets.append(ipaddress.IPv4Network(f"{dst}/{route.get('dst_len')}", strict=False))
        for addr in ipr.get_addr(family=2):
            address = addr.get_attr("IFA_ADDRESS") or addr.get_attr("IFA_LOCAL")
            if address and not ipaddress.IPv4Address(address).is_loopback:
                nets.append(ipaddress.IPv4Network(f"{address}/{addr.get('prefixlen')}", strict=False))
    return nets


def default_route_mtu() -> int:
    """MTU of the interface the default route goes through (Docker's --mtu default)."""
    with IPRoute() as ipr:
        for route in ipr.get_routes(family=2):
            if _route_table(route) == MAIN_TABLE and not route.get("dst_len"):
                oif = route.get_attr("RTA_OIF")
                if oif:
                    links = ipr.get_links(oif)
                    if links:
                        return int(links[0].get_attr("IFLA_MTU") or DEFAULT_MTU)
    return DEFAULT_MTU


def link_index(ipr: IPRoute, name: str) -> int | None:
    found = ipr.link_lookup(ifname=name)
    return found[0] if found else None


def interface_ipv4(name: str) -> ipaddress.IPv4Interface | None | bool:
    """First IPv4 address of `name`: None if it has none, False if there is no such interface."""
    with IPRoute() as ipr:
        index = link_index(ipr, name)
        if index is None:
            return False
        for addr in ipr.get_addr(family=2, index=index):
            address = addr.get_attr("IFA_LOCAL") or addr.get_attr("IFA_ADDRESS")
            if address:
                return ipaddress.IPv4Interface(f"{address}/{addr.get('prefixlen')}")
    return None


def is_bridge(name: str) -> bool:
    return os.path.isdir(f"/sys/class/net/{name}/bridge")


def create_bridge(name: str, address: ipaddress.IPv4Interface, mtu: int) -> None:
    with IPRoute() as ipr:
        # A fixed MAC: otherwise the bridge takes the lowest MAC among its ports and changes it as
        # containers come and go, leaving stale gateway entries in the containers' ARP caches.
        ipr.link("add", ifname=name, kind="bridge", address=random_mac())
        try:
            index = link_index(ipr, name)
            ipr.link("set", index=index, mtu=mtu)
            ipr.addr("add", index=index, address=str(address.ip), prefixlen=address.network.prefixlen)
            ipr.link("set", index=index, state="up")
        except BaseException:
            ipr.link("del", ifname=name)
            raise


def set_up(name: str, mtu: int = 0) -> None:
    with IPRoute() as ipr:
        index = link_index(ipr, name)
        if index is None:
            raise SystemError_(f"network interface {name} disappeared")
        if mtu:
            ipr.link("set", index=index, mtu=mtu)
        ipr.link("set", index=index, state="up")


def create_veth(host: str, bridge: str, mtu: int, peer: str, peer_mac: str, netns_fd: int) -> None:
    """A veth pair: `host` up on `bridge`, and `peer` (eth0) created directly in the namespace `netns_fd`.

    Creating the peer inside the container's namespace costs about 2 ms; creating it on the host and
    moving it costs 15-25 ms, because moving a device waits for an RCU grace period.
    """
    with IPRoute() as ipr:
        bridge_index = link_index(ipr, bridge)
        if bridge_index is None:
            raise SystemError_(f"bridge {bridge} not found")
        ipr.link(
            "add",
            ifname=host,
            kind="veth",
            mtu=mtu,
            master=bridge_index,
            state="up",
            peer={"ifname": peer, "mtu": mtu, "address": peer_mac, "net_ns_fd": netns_fd},
        )


def delete_link(name: str) -> bool:
    """Delete interface `name` (and so its veth peer); False if it was already gone."""
    with IPRoute() as ipr:
        try:
            ipr.link("del", ifname=name)
        except NetlinkError as e:
            if e.code in (19, 2):  # ENODEV, ENOENT: the container's namespace took it with it
                return False
            raise
    return True


def link_exists(name: str) -> bool:
    return os.path.exists(f"/sys/class/net/{name}")


def configure_container_side(peer: str, ip: str, prefixlen: int, gateway: str) -> None:
    """Inside the container's namespace: address `peer` (already named eth0), bring it and lo up, route.

    Called on a thread that has setns()ed into the namespace; with no `peer` only lo comes up.
    """
    with IPRoute() as ipr:
        lo = link_index(ipr, "lo")
        if lo is not None:
            ipr.link("set", index=lo, state="up")
        if not peer:
            return
        index = link_index(ipr, peer)
        if index is None:
            raise SystemError_(f"interface {peer} not found in the container's network namespace")
        ipr.addr("add", index=index, address=ip, prefixlen=prefixlen)
        ipr.link("set", index=index, state="up")
        ipr.route("add", dst="0.0.0.0/0", gateway=gateway, oif=index)
