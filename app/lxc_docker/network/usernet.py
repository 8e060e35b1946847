"""User-defined bridge networks: one Linux bridge, subnet and set of iptables rules per network,
and the container endpoints (one veth each: eth0, eth1...) on them.

Rules of network BR all carry `lxc-docker:BR` (iptables.owner_comment), so the stop of the daemon, a
`network rm` or the start after a crash deletes exactly those (hostrules.delete_rules), never a
flush. They sit at the top of filter FORWARD, in two groups:

    isolation (kept above every accept rule of every network, re-inserted when a network comes up):
        -o BR -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT     (not with --internal)
        -o BR ! -i BR -j DROP        nothing enters BR from another bridge or from outside
        -i BR -o DEFAULT -j DROP     nor leaves it for the daemon's default bridge (tagged as
                                     the default bridge's, since it names that one)
    forwarding:
        -i BR -o BR -j ACCEPT        containers of one network reach each other (br_netfilter on)
        -i BR ! -o BR -j ACCEPT      out to the world; DROP with --internal
    nat POSTROUTING -s SUBNET ! -o BR -j MASQUERADE                   (not with --internal)

An IPv6 network (`enable_ipv6`) gets the same filter rules in ip6tables, tagged alike, except the drop
towards the default bridge (which has no IPv6) and the MASQUERADE (Docker does not NAT IPv6); its bridge
gets the IPv6 gateway address and each endpoint an address of the IPv6 pool.

Docker 1.12 puts the drops in a DOCKER-ISOLATION chain; a chain of that name may be another engine's
on this host (Docker itself), so ours live in FORWARD itself, tagged, and ordered by re-insertion.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import threading
from dataclasses import dataclass

from ..errors import InvalidParameter, SystemError_
from . import bridge as br
from . import bridge6
from .hostrules import LOCK_DIR, BridgeLock, HostTables, claim_bridge, delete_rules, refusal
from .ip6allocator import IP6Allocator
from .ipallocator import IPAllocator
from .iptables import Iptables, Rule, _tagged, owner_comment
from .netns import run_in_netns
from .netstore import NetworkRecord
from .userports import UserPorts

log = logging.getLogger(__name__)


def isolation_rules(rec: NetworkRecord, default_bridge: str) -> list[Rule]:
    """In the order they must appear (top first)."""
    b = rec.bridge
    rules = []
    if not rec.internal:
        rules.append(
            Rule(
                "filter",
                "FORWARD",
                _tagged(b, ("-o", b, "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT")),
            )
        )
    rules.append(Rule("filter", "FORWARD", _tagged(b, ("-o", b, "!", "-i", b, "-j", "DROP"))))
    if default_bridge:
        # Tagged as the default bridge's: it names that bridge, whose start would otherwise take it
        # for another engine's rule; it goes with either (down() deletes it by its spec).
        rules.append(
            Rule("filter", "FORWARD", _tagged(default_bridge, ("-i", b, "-o", default_bridge, "-j", "DROP")))
        )
    return rules


def forwarding_rules(rec: NetworkRecord) -> list[Rule]:
    b = rec.bridge
    out = "DROP" if rec.internal else "ACCEPT"
    rules = [
        Rule("filter", "FORWARD", _tagged(b, ("-i", b, "-o", b, "-j", "ACCEPT"))),
        Rule("filter", "FORWARD", _tagged(b, ("-i", b, "!", "-o", b, "-j", out))),
    ]
    if not rec.internal:
        masquerade = ("-s", rec.subnet, "!", "-o", b, "-j", "MASQUERADE")
        rules.append(Rule("nat", "POSTROUTING", _tagged(b, masquerade)))
    return rules


def isolation_rules6(rec: NetworkRecord) -> list[Rule]:
    """The ip6tables isolation group, top first."""
    return isolation_rules(rec, "")


def forwarding_rules6(rec: NetworkRecord) -> list[Rule]:
    return [r for r in forwarding_rules(rec) if r.table == "filter"]


@dataclass
class _Live:
    rec: NetworkRecord
    ips: IPAllocator
    lock: BridgeLock
    endpoints: dict[str, str]  # container id -> host veth
    ips6: IP6Allocator | None = None


class UserNetworks:
    """The bridges and rules of the user-defined networks this daemon has up."""

    def __init__(
        self, *, iptables: bool = True, default_bridge: str = "", mtu: int = 0, lock_dir: str = LOCK_DIR
    ) -> None:
        self.ipt = Iptables()
        self.ipt6 = Iptables("ip6tables")
        self.use_iptables = iptables
        self.default_bridge = default_bridge
        self.mtu = mtu
        self.lock_dir = lock_dir
        self._live: dict[str, _Live] = {}
        self._lock = threading.RLock()
        self.ports = UserPorts(self.ipt, iptables)

    # -- networks --------------------------------------------------------------------------------

    def up(self, rec: NetworkRecord) -> None:
        """Claim the bridge, create it if missing, put the rules in. A refusal changes nothing."""
        with self._lock:
            if rec.id in self._live:
                return
            lock = claim_bridge(rec.bridge, self.lock_dir)
            created = False
            try:
                if self.use_iptables:
                    view = HostTables.read(self.ipt)
                    # No chain of ours is involved: only rules naming the bridge count as foreign.
                    foreign = [
                        r
                        for r in view.foreign(rec.bridge, "\0", owner_comment(rec.bridge))
                        if not self.default_bridge or r.comment != owner_comment(self.default_bridge)
                    ]
                    if foreign:
                        raise refusal(rec.bridge, "\0", foreign)
                    delete_rules(self.ipt, view.ours(owner_comment(rec.bridge)))
                    if rec.ipv6:
                        view6 = HostTables.read(self.ipt6)
                        foreign6 = view6.foreign(rec.bridge, "\0", owner_comment(rec.bridge))
                        if foreign6:
                            raise refusal(rec.bridge, "\0", foreign6)
                        delete_rules(self.ipt6, view6.ours(owner_comment(rec.bridge)))
                gateway = ipaddress.IPv4Interface(f"{rec.gateway}/{rec.network.prefixlen}")
                current = br.interface_ipv4(rec.bridge)
                if current is False:
                    br.create_bridge(rec.bridge, gateway, self.mtu or br.default_route_mtu())
                    created = True
                elif not br.is_bridge(rec.bridge) or current != gateway:
                    raise SystemError_(
                        f"interface {rec.bridge} exists and is not the bridge of network "
                        f"{rec.name} ({gateway})"
                    )
                pool = rec.ip_range or rec.subnet
                live = _Live(rec, IPAllocator(pool, rec.gateway), lock, {})
                for aux in rec.aux_addresses.values():
                    if ipaddress.IPv4Address(aux) in live.ips.network:
                        live.ips.reserve(aux, "aux")
                if rec.ipv6:
                    net6 = rec.network6
                    bridge6.ensure_bridge_ipv6(
                        rec.bridge, ipaddress.IPv6Interface(f"{rec.gateway6}/{net6.prefixlen}")
                    )
                    live.ips6 = IP6Allocator(net6, rec.gateway6, rec.ip_range6)
                self._live[rec.id] = live
                if self.use_iptables:
                    for rule in forwarding_rules(rec):
                        self.ipt.add(rule, insert=True)
                    if rec.ipv6:
                        for rule in forwarding_rules6(rec):
                            self.ipt6.add(rule, insert=True)
                    self._reassert_isolation()
            except BaseException:
                self._live.pop(rec.id, None)
                if self.use_iptables:
                    self._delete_rules_of(rec.bridge, rec.ipv6)
                if created:
                    br.delete_link(rec.bridge)
                lock.release()
                raise

    def _reassert_isolation(self) -> None:
        # Every network's isolation group goes back to the top, above all forwarding accepts.
        for live in self._live.values():
            for rule in isolation_rules(live.rec, self.default_bridge):
                self.ipt.delete_all(rule)
        for live in self._live.values():
            for rule in reversed(isolation_rules(live.rec, self.default_bridge)):
                self.ipt.add(rule, insert=True)
        # Published ports' accepts go back above the drops (userports.py).
        for rule in self.ports.filter_rules():
            self.ipt.delete(rule)
            self.ipt.add(rule, insert=True)
        six = [live.rec for live in self._live.values() if live.rec.ipv6]
        for rec in six:
            for rule in isolation_rules6(rec):
                self.ipt6.delete_all(rule)
        for rec in six:
            for rule in reversed(isolation_rules6(rec)):
                self.ipt6.add(rule, insert=True)

    def _delete_rules_of(self, bridge: str, ipv6: bool = False) -> None:
        for ipt in (self.ipt, self.ipt6) if ipv6 else (self.ipt,):
            try:
                delete_rules(ipt, HostTables.read(ipt).ours(owner_comment(bridge)))
            except SystemError_ as e:
                log.warning("removing the rules of bridge %s: %s", bridge, e)

    def down(self, network_id: str, *, delete_bridge: bool = True) -> None:
        """Rules out, lock released; the bridge deleted unless told to keep it (a container still on it)."""
        with self._lock:
            live = self._live.pop(network_id, None)
            if live is None:
                return
            if self.use_iptables:
                self._delete_rules_of(live.rec.bridge, live.rec.ipv6)
                for rule in isolation_rules(live.rec, self.default_bridge):
                    self.ipt.delete_all(rule)
            if delete_bridge and br.link_exists(live.rec.bridge):
                br.delete_link(live.rec.bridge)
            live.lock.release()

    def shutdown(self) -> None:
        for network_id in list(self._live):
            live = self._live.get(network_id)
            busy = bool(live and live.endpoints)
            self.down(network_id, delete_bridge=not busy)
        self.ports.forget()

    def is_up(self, network_id: str) -> bool:
        return network_id in self._live

    def endpoints(self, network_id: str) -> dict[str, str]:
        with self._lock:
            live = self._live.get(network_id)
            return dict(live.endpoints) if live else {}

    # -- endpoints -------------------------------------------------------------------------------

    def _get(self, network_id: str) -> _Live:
        live = self._live.get(network_id)
        if live is None:
            raise SystemError_(f"network {network_id[:12]} is not up")
        return live

    def allocate(self, network_id: str, container_id: str, wanted: str = "") -> str:
        with self._lock:
            live = self._get(network_id)
            if wanted:
                if ipaddress.IPv4Address(wanted) not in live.rec.network:
                    raise SystemError_(f"address {wanted} is not in subnet {live.rec.subnet}")
                live.ips.reserve(wanted, container_id)
                return wanted
            return str(live.ips.allocate(container_id))

    def allocate6(self, network_id: str, container_id: str, wanted: str = "") -> str:
        """An IPv6 address on an IPv6 network (`wanted` if given); "" on a network without IPv6."""
        with self._lock:
            live = self._get(network_id)
            if live.ips6 is None:
                return ""
            if wanted:
                try:
                    live.ips6.reserve(wanted, container_id)
                except ValueError:
                    raise InvalidParameter(f"invalid IPv6 address {wanted}")
                return str(ipaddress.IPv6Address(wanted))
            return str(live.ips6.allocate(container_id))

    def reserve(self, network_id: str, container_id: str, ip: str, veth: str, ip6: str = "") -> None:
        """After a daemon restart: a running container's addresses and veth are its own again."""
        with self._lock:
            live = self._get(network_id)
            live.ips.reserve(ip, container_id)
            if ip6 and live.ips6 is not None:
                live.ips6.reserve(ip6, container_id)
            live.endpoints[container_id] = veth

    def attach(
        self, network_id: str, container_id: str, pid: int, ifname: str, ip: str, route: bool, ip6: str = ""
    ) -> str:
        """A veth from the network's bridge to `ifname` in process `pid`'s namespace; its host name."""
        live = self._get(network_id)
        rec = live.rec
        veth = br.host_veth_name()
        mtu = self.mtu or br.default_route_mtu()
        fd = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        try:
            br.create_veth(veth, rec.bridge, mtu, ifname, br.mac_for_ip(ip), fd)
        finally:
            os.close(fd)
        try:
            gateway = rec.gateway if route else ""
            v6 = (
                (ip6, rec.network6.prefixlen, rec.gateway6 if route else "") if ip6 and rec.network6 else None
            )
            run_in_netns(pid, lambda: _configure(ifname, ip, rec.network.prefixlen, gateway, v6))
        except BaseException:
            br.delete_link(veth)
            raise
        with self._lock:
            live.endpoints[container_id] = veth
        return veth

    def release(self, network_id: str, container_id: str, ip: str, veth: str, ip6: str = "") -> None:
        with self._lock:
            live = self._live.get(network_id)
            if live is not None:
                live.endpoints.pop(container_id, None)
                if ip:
                    live.ips.release(ip, container_id)
                if ip6 and live.ips6 is not None:
                    live.ips6.release(ip6, container_id)
        if veth and br.link_exists(veth):
            try:
                br.delete_link(veth)
            except Exception as e:  # the namespace may be going away with it
                log.warning("deleting %s: %s", veth, e)


def _configure(ifname: str, ip: str, prefixlen: int, gateway: str, v6: tuple[str, int, str] | None) -> None:
    """Inside the namespace: lo up, `ifname` addressed and up, the default route when `gateway`."""
    with br.IPRoute() as ipr:
        lo = br.link_index(ipr, "lo")
        if lo is not None:
            ipr.link("set", index=lo, state="up")
        index = br.link_index(ipr, ifname)
        if index is None:
            raise SystemError_(f"interface {ifname} not found in the container's network namespace")
        ipr.addr("add", index=index, address=ip, prefixlen=prefixlen)
        ipr.link("set", index=index, state="up")
        if gateway:
            ipr.route("add", dst="0.0.0.0/0", gateway=gateway, oif=index)
        if v6 is not None:
            bridge6.configure_ipv6(ipr, index, *v6)
