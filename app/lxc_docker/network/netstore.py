"""The daemon's networks as records: the user-defined ones (each its own bridge and subnet) and the
ids of the predefined `bridge`, `host` and `none`, kept in one JSON file written atomically.

Pools: a new network without a subnet gets the first /16 of 172.18.0.0/16 .. 172.31.0.0/16, then the
first /20 of 192.168.0.0/16, that overlaps no host route or address and no other network (Docker's
default pools, in the order Docker hands them out).
"""

from __future__ import annotations

import ipaddress
import os
import threading
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import TypeVar

from ..errors import Conflict, InvalidParameter, NotFound, SystemError_
from ..sysutil import atomic

BUILTIN = ("bridge", "host", "none")
# Docker's option naming the Linux bridge of a network; we read it too, so that a test (or an
# administrator) can choose a name its cleanup recognises.
BRIDGE_NAME_OPTION = "com.docker.network.bridge.name"
IFNAMSIZ = 15  # usable characters in a Linux interface name
_Net = TypeVar("_Net", ipaddress.IPv4Network, ipaddress.IPv6Network)


def _pools() -> Iterable[ipaddress.IPv4Network]:
    for b in range(18, 32):
        yield ipaddress.IPv4Network(f"172.{b}.0.0/16")
    yield from ipaddress.IPv4Network("192.168.0.0/16").subnets(new_prefix=20)


@dataclass
class NetworkRecord:
    id: str
    name: str
    subnet: str
    gateway: str
    bridge: str
    driver: str = "bridge"
    ip_range: str = ""
    internal: bool = False
    options: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    created: float = field(default_factory=time.time)
    ipam_options: dict[str, str] | None = None
    aux_addresses: dict[str, str] = field(default_factory=dict)  # name -> address kept out of allocation
    # The IPv6 pool as given; the bridge, addresses and ip6tables rules only with enable_ipv6 (as
    # Docker, which keeps an IPv6 pool of a network created without --ipv6 and allocates nothing).
    enable_ipv6: bool = False
    subnet6: str = ""
    gateway6: str = ""
    ip_range6: str = ""

    @property
    def network(self) -> ipaddress.IPv4Network:
        return ipaddress.IPv4Network(self.subnet)

    @property
    def network6(self) -> ipaddress.IPv6Network | None:
        return ipaddress.IPv6Network(self.subnet6) if self.subnet6 else None

    @property
    def ipv6(self) -> bool:
        """Whether the network's bridge and containers get IPv6 addresses."""
        return self.enable_ipv6 and bool(self.subnet6)

    @classmethod
    def from_json(cls, doc: dict) -> NetworkRecord:
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in doc.items() if k in known})


def choose_subnet(used: Iterable[ipaddress.IPv4Network]) -> ipaddress.IPv4Network:
    taken = list(used)
    for candidate in _pools():
        if not any(candidate.overlaps(u) for u in taken):
            return candidate
    raise SystemError_("could not find an available, non-overlapping IPv4 address pool among the defaults")


def plan_addresses(
    subnet: str, gateway: str, ip_range: str, used: Iterable[ipaddress.IPv4Network]
) -> tuple[str, str, str]:
    """(subnet, gateway, ip_range) checked, with the gateway defaulting to the first host address."""
    taken = list(used)
    if subnet:
        net = _pool(ipaddress.IPv4Network, subnet, 30, taken)
    else:
        if gateway or ip_range:
            raise InvalidParameter("a gateway or an IP range needs a subnet")
        net = choose_subnet(taken)
    return str(net), _check_gateway_and_range(net, gateway, ip_range), ip_range


def plan_addresses6(
    subnet: str, gateway: str, ip_range: str, used: Iterable[ipaddress.IPv6Network]
) -> tuple[str, str, str]:
    """The IPv6 pool (subnet, gateway, ip_range) checked; the gateway defaults to the subnet's ::1."""
    net = _pool(ipaddress.IPv6Network, subnet, 126, used)
    return str(net), _check_gateway_and_range(net, gateway, ip_range), ip_range


def _pool(family: type[_Net], subnet: str, longest: int, used: Iterable[_Net]) -> _Net:
    """`subnet` parsed as `family`, at most /`longest` (room for a gateway and a container), and
    overlapping no pool in `used`."""
    try:
        net = family(subnet, strict=True)
    except ValueError as e:
        raise InvalidParameter(f"invalid subnet {subnet}: {e}")
    if net.prefixlen > longest:
        raise InvalidParameter(f"invalid subnet {subnet}: at most /{longest}")
    for u in used:
        if net.overlaps(u):
            raise Conflict(f"Pool overlaps with other one on this address space ({u})")
    return net


def _check_gateway_and_range(
    net: ipaddress.IPv4Network | ipaddress.IPv6Network, gateway: str, ip_range: str
) -> str:
    """The gateway (default: the subnet's first host address), checked to be a host address of
    `net`, and the ip range checked to lie inside `net`; each parsed as `net`'s own family."""
    if gateway:
        try:
            gw = type(net.network_address)(gateway)
        except ValueError:
            raise InvalidParameter(f"invalid gateway {gateway}")
        reserved = [net.network_address]
        if net.version == 4:  # IPv6 has no broadcast address
            reserved.append(net.broadcast_address)
        if gw not in net or gw in reserved:
            raise InvalidParameter(f"gateway {gateway} is not a host address of subnet {net}")
    else:
        gw = net.network_address + 1
    if ip_range:
        try:
            rng = type(net)(ip_range, strict=True)
        except ValueError as e:
            raise InvalidParameter(f"invalid ip range {ip_range}: {e}")
        if not rng.subnet_of(net):
            raise InvalidParameter(f"ip range {ip_range} is not inside subnet {net}")
    return str(gw)


def bridge_name(network_id: str, options: dict[str, str]) -> str:
    name = options.get(BRIDGE_NAME_OPTION) or f"br-{network_id[:12]}"
    if len(name) > IFNAMSIZ or not name.replace("-", "").replace("_", "").isalnum():
        raise InvalidParameter(f"invalid bridge name {name!r}: at most {IFNAMSIZ} letters, digits, - or _")
    return name


class NetworkStore:
    """Records by id; lookups by full id, name, or unique id prefix (Docker's order)."""

    def __init__(self, root: str) -> None:
        self.path = os.path.join(root, "networks.json")
        self._lock = threading.Lock()
        self.records: dict[str, NetworkRecord] = {}
        self.builtin_ids: dict[str, str] = {}
        self._load()

    def _load(self) -> None:
        doc: dict = {}
        if os.path.exists(self.path):
            doc = atomic.read_json(self.path) or {}
        for item in doc.get("Networks") or []:
            rec = NetworkRecord.from_json(item)
            self.records[rec.id] = rec
        self.builtin_ids = {k: v for k, v in (doc.get("Builtin") or {}).items() if k in BUILTIN}
        if len(self.builtin_ids) < len(BUILTIN):
            for name in BUILTIN:
                self.builtin_ids.setdefault(name, os.urandom(32).hex())
            self.save()

    def save(self) -> None:
        with self._lock:
            doc = {
                "Builtin": dict(self.builtin_ids),
                "Networks": [asdict(r) for r in self.records.values()],
            }
        atomic.write_json(self.path, doc)

    def add(self, rec: NetworkRecord) -> None:
        with self._lock:
            if any(r.name == rec.name for r in self.records.values()) or rec.name in BUILTIN:
                raise Conflict(f"network with name {rec.name} already exists")
            self.records[rec.id] = rec
        self.save()

    def remove(self, network_id: str) -> None:
        with self._lock:
            self.records.pop(network_id, None)
        self.save()

    def all(self) -> list[NetworkRecord]:
        with self._lock:
            return sorted(self.records.values(), key=lambda r: r.created)

    def find(self, ref: str) -> NetworkRecord | str:
        """A user-defined record, or the name of a predefined network; NotFound otherwise."""
        with self._lock:
            records = list(self.records.values())
            builtin = dict(self.builtin_ids)
        for name, nid in builtin.items():
            if ref in (name, nid):
                return name
        for r in records:
            if r.id == ref or r.name == ref:
                return r
        matches = [r for r in records if ref and r.id.startswith(ref)]
        matches += [name for name, nid in builtin.items() if ref and nid.startswith(ref)]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise NotFound(f"network {ref} is ambiguous ({len(matches)} matches found based on ID prefix)")
        raise NotFound(f"network {ref} not found")

    def subnets(self) -> list[ipaddress.IPv4Network]:
        return [r.network for r in self.all()]

    def subnets6(self) -> list[ipaddress.IPv6Network]:
        return [r.network6 for r in self.all() if r.network6 is not None]
