"""IPv6 on a user-defined network's bridge and in the container's namespace.

Addresses are added with IFA_F_NODAD: duplicate address detection would hold each new address
"tentative" for a second or more, so a container's first packets (or the bridge's) would go nowhere;
the daemon is the one allocator of these addresses, so a duplicate cannot happen on its bridge.
"""

from __future__ import annotations

import ipaddress
import socket

from ..errors import SystemError_
from .bridge import MAIN_TABLE, IPRoute, link_index

IFA_F_NODAD = 0x02


def ipv6_disabled(name: str = "all") -> bool:
    """Whether the kernel has IPv6 switched off (for `name`, or for every interface)."""
    try:
        with open(f"/proc/sys/net/ipv6/conf/{name}/disable_ipv6") as f:
            return f.read().strip() != "0"
    except OSError:
        return True  # no IPv6 in this kernel at all


def _enable(name: str) -> None:
    # A bridge created while net.ipv6.conf.default.disable_ipv6 is 1 starts without IPv6.
    path = f"/proc/sys/net/ipv6/conf/{name}/disable_ipv6"
    try:
        with open(path) as f:
            if f.read().strip() == "0":
                return
        with open(path, "w") as f:
            f.write("0\n")
    except OSError as e:
        raise SystemError_(f"cannot enable IPv6 on {name}: {e}")


def interface_ipv6(ipr: IPRoute, index: int) -> list[ipaddress.IPv6Interface]:
    found = []
    for addr in ipr.get_addr(family=socket.AF_INET6, index=index):
        address = addr.get_attr("IFA_ADDRESS")
        if address:
            found.append(ipaddress.IPv6Interface(f"{address}/{addr.get('prefixlen')}"))
    return found


def _local_only(net: ipaddress.IPv6Network) -> bool:
    return net.is_link_local or net.is_multicast or net.is_loopback


def host_networks6() -> list[ipaddress.IPv6Network]:
    """IPv6 networks the host already uses: main-table routes (default route, link-local and
    multicast aside) and global interface addresses; a network's subnet must overlap none of them."""
    nets: list[ipaddress.IPv6Network] = []
    with IPRoute() as ipr:
        for route in ipr.get_routes(family=socket.AF_INET6):
            table = route.get_attr("RTA_TABLE") or route.get("table")
            dst = route.get_attr("RTA_DST")
            if table != MAIN_TABLE or not route.get("dst_len") or not dst:
                continue
            net = ipaddress.IPv6Network(f"{dst}/{route.get('dst_len')}", strict=False)
            if not _local_only(net):
                nets.append(net)
        for addr in ipr.get_addr(family=socket.AF_INET6):
            address = addr.get_attr("IFA_ADDRESS")
            if address:
                net = ipaddress.IPv6Network(f"{address}/{addr.get('prefixlen')}", strict=False)
                if not _local_only(net):
                    nets.append(net)
    return nets


def ensure_bridge_ipv6(name: str, address: ipaddress.IPv6Interface) -> None:
    """Give bridge `name` the network's IPv6 gateway address unless it has it already."""
    if ipv6_disabled():
        raise SystemError_("IPv6 is disabled in this kernel (net.ipv6.conf.all.disable_ipv6=1)")
    _enable(name)
    with IPRoute() as ipr:
        index = link_index(ipr, name)
        if index is None:
            raise SystemError_(f"bridge {name} not found")
        if address in interface_ipv6(ipr, index):
            return
        ipr.addr("add", index=index, address=str(address.ip), prefixlen=address.network.prefixlen,
                 flags=IFA_F_NODAD)  # fmt: skip


def configure_ipv6(ipr: IPRoute, index: int, ip: str, prefixlen: int, gateway: str) -> None:
    """Inside the container's namespace, on an interface that is up: its address, and the default
    route through `gateway` when given."""
    name = ipr.get_links(index)[0].get_attr("IFLA_IFNAME")
    _enable(name)  # this thread is in the container's namespace: its /proc/sys/net is the container's
    ipr.addr("add", index=index, address=ip, prefixlen=prefixlen, flags=IFA_F_NODAD)
    if gateway:
        ipr.route("add", dst="::/0", gateway=gateway, oif=index, family=socket.AF_INET6)
