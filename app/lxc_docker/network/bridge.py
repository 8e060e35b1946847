"""Netlink work on the host side: the bridge, its address range, the MTU, and container veth pairs.

What the daemon's start needs (routes, addresses, MTU, creating and raising the bridge) goes through
rtnl.py, our own small netlink client; pyroute2, whose import loads ~150 modules, only for veth pairs
and container namespaces, imported at the first of those (see `IPRoute`). Every call opens its own
short-lived socket: pyroute2 ties a socket to the thread that made it, and the daemon calls in from
many request threads (opening one costs well under a millisecond).
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterable

from ..errors import SystemError_
from . import rtnl


class IPRoute:
    """pyroute2's IPRoute, the library imported on first use: `IPRoute()` returns pyroute2's object."""

    def __new__(cls, *args, **kwargs):  # returns pyroute2's object, not one of this class
        from pyroute2 import IPRoute as _IPRoute

        return _IPRoute(*args, **kwargs)


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
    raw = bytearray(os.urandom(6))
    raw[0] = (raw[0] & 0xFE) | 0x02  # unicast, locally administered
    return ":".join(f"{b:02x}" for b in raw)


def host_veth_name() -> str:
    """A fresh name for the host end of a veth pair, vethXXXXXX as Docker named them."""
    while True:
        name = f"veth{os.urandom(3).hex()}"
        if not link_exists(name):
            return name


def host_networks() -> list[ipaddress.IPv4Network]:
    """Networks the host already uses: main-table routes (default route aside) and interface addresses."""
    nets: list[ipaddress.IPv4Network] = []
    for route in rtnl.routes():
        if route.table == MAIN_TABLE and route.dst_len and route.dst:
            nets.append(ipaddress.IPv4Network(f"{route.dst}/{route.dst_len}", strict=False))
    for addr in rtnl.addresses():
        address = addr.address or addr.local
        if address and not ipaddress.IPv4Address(address).is_loopback:
            nets.append(ipaddress.IPv4Network(f"{address}/{addr.prefixlen}", strict=False))
    return nets


def default_route_mtu() -> int:
    """MTU of the interface the default route goes through (Docker's --mtu default)."""
    for route in rtnl.routes():
        if route.table == MAIN_TABLE and not route.dst_len and route.oif:
            mtu = rtnl.link_mtu(route.oif)
            if mtu is not None:
                return mtu or DEFAULT_MTU
    return DEFAULT_MTU


def link_index(ipr: IPRoute, name: str) -> int | None:
    found = ipr.link_lookup(ifname=name)
    return found[0] if found else None


def interface_ipv4(name: str) -> ipaddress.IPv4Interface | None | bool:
    """First IPv4 address of `name`: None if it has none, False if there is no such interface."""
    index = rtnl.link_index(name)
    if index is None:
        return False
    for addr in rtnl.addresses(index=index):
        address = addr.local or addr.address
        if address:
            return ipaddress.IPv4Interface(f"{address}/{addr.prefixlen}")
    return None


def is_bridge(name: str) -> bool:
    return os.path.isdir(f"/sys/class/net/{name}/bridge")


def create_bridge(name: str, address: ipaddress.IPv4Interface, mtu: int) -> None:
    # A fixed MAC: otherwise the bridge takes the lowest MAC among its ports and changes it as
    # containers come and go, leaving stale gateway entries in the containers' ARP caches.
    try:
        index = rtnl.create_bridge(name, random_mac())
    except OSError as e:
        raise SystemError_(f"cannot create bridge {name}: {e.strerror}")
    try:
        rtnl.set_link(index, mtu=mtu)
        rtnl.add_address(index, address)
        rtnl.set_link(index, up=True)
    except BaseException as e:
        rtnl.delete_link(index)
        if isinstance(e, OSError):
            raise SystemError_(f"cannot set up bridge {name}: {e.strerror}")
        raise


def set_up(name: str, mtu: int = 0) -> None:
    index = rtnl.link_index(name)
    if index is None:
        raise SystemError_(f"network interface {name} disappeared")
    try:
        if mtu:
            rtnl.set_link(index, mtu=mtu)
        rtnl.set_link(index, up=True)
    except OSError as e:
        raise SystemError_(f"cannot bring up {name}: {e.strerror}")


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
    from pyroute2.netlink.exceptions import NetlinkError  # loaded with IPRoute()

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
