"""Networks as the Remote API 1.24 sees them: the records (network/netstore.py), their bridges up at
daemon start and down at stop (network/usernet.py), the embedded DNS server's lifetime, and the
`/networks` endpoints. A container's endpoints on them are daemon/netendpoints.py's half.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import threading
import time
from typing import Any

from ..errors import Conflict, Forbidden, InvalidParameter, NotFound
from ..network import bridge as br
from ..network import bridge6
from ..network.dns import Resolver
from ..network.netstore import (
    BUILTIN,
    NetworkRecord,
    NetworkStore,
    bridge_name,
    plan_addresses,
    plan_addresses6,
)
from ..network.usernet import UserNetworks
from .container import Container
from .containers import ContainerService
from .events import EventBus
from .filtering import FilterArgs
from .netendpoints import ContainerEndpoints, network_mode

log = logging.getLogger(__name__)

NETWORK_FILTERS = frozenset({"name", "id", "driver", "type", "label"})


class NetworkService(ContainerEndpoints):
    def __init__(
        self,
        root: str,
        containers: ContainerService,
        events: EventBus,
        *,
        default_bridge: str,
        default_info: Any,
        iptables: bool,
        mtu: int,
        lock_dir: str | None = None,
    ) -> None:
        self.store = NetworkStore(root)
        self.containers = containers
        self.events = events
        self.default_bridge = default_bridge
        self.default_info = default_info  # () -> the default bridge's info (NetworkManager.info)
        kw = {"lock_dir": lock_dir} if lock_dir else {}
        self.nets = UserNetworks(iptables=iptables, default_bridge=default_bridge, mtu=mtu, **kw)
        self.resolver: Resolver | None = None
        self._lock = threading.RLock()

    # -- daemon start and stop ---------------------------------------------------------------------

    def setup(self) -> None:
        self.resolver = Resolver(self.lookup)
        for rec in self.store.all():
            self.nets.up(rec)
        # Containers that kept running across a daemon restart hold their endpoints again.
        for c in self.containers.all():
            eps = (c.network_settings or {}).get("_endpoints") or {}
            if not c.state.running or not eps:
                continue
            for nid, ep in eps.items():
                try:
                    self.nets.reserve(
                        nid,
                        c.id,
                        ep.get("IPAddress", ""),
                        ep.get("Veth", ""),
                        ep.get("GlobalIPv6Address", ""),
                    )
                except Exception as e:
                    log.warning("cannot restore endpoint of %s on %s: %s", c.id[:12], nid[:12], e)
            nid = c.network_settings.get("_ports_network")
            if nid in eps and nid in [r.id for r in self.store.all()]:
                rec = self.store.find(nid)
                self.nets.ports.restore(
                    c.id, rec.bridge, eps[nid]["IPAddress"], c.network_settings.get("Ports")
                )
            try:
                self.resolver.serve(c.id, c.state.pid)
            except Exception as e:
                log.warning("cannot restore the DNS server of %s: %s", c.id[:12], e)

    def shutdown(self) -> None:
        if self.resolver is not None:
            self.resolver.close()
            self.resolver = None
        self.nets.shutdown()

    # -- the API -----------------------------------------------------------------------------------

    def create(self, body: Any) -> tuple[str, str]:
        if not isinstance(body, dict):
            raise InvalidParameter("the network config must be a JSON object")
        name = body.get("Name")
        if not isinstance(name, str) or not name:
            raise InvalidParameter("network name is required")
        driver = body.get("Driver") or "bridge"
        if driver != "bridge":
            raise NotFound(f"plugin not found: only the bridge driver is supported, not {driver!r}")
        options = _string_map(body.get("Options"), "Options")
        labels = _string_map(body.get("Labels"), "Labels")
        ipam = body.get("IPAM") or {}
        if not isinstance(ipam, dict):
            raise InvalidParameter("IPAM must be a JSON object")
        if (ipam.get("Driver") or "default") != "default":
            raise NotFound(f"plugin not found: IPAM driver {ipam.get('Driver')!r}")
        pool, pool6 = _pools(ipam.get("Config") or [])
        enable_ipv6 = bool(body.get("EnableIPv6"))
        if enable_ipv6 and not pool6:
            raise InvalidParameter(
                "could not find an available, non-overlapping IPv6 address pool among the defaults to "
                "assign to the network: give one with --subnet"
            )
        aux = _string_map(pool.get("AuxiliaryAddresses"), "IPAM.Config.AuxiliaryAddresses")
        ipam_options = _string_map(ipam.get("Options"), "IPAM.Options") if ipam.get("Options") else None
        with self._lock:
            existing = [r for r in self.store.all() if r.name == name]
            if existing or name in BUILTIN:
                raise Conflict(f"network with name {name} already exists")
            used = self.store.subnets() + br.host_networks()
            subnet, gateway, ip_range = plan_addresses(
                str(pool.get("Subnet") or ""),
                str(pool.get("Gateway") or ""),
                str(pool.get("IPRange") or ""),
                used,
            )
            subnet6 = gateway6 = ip_range6 = ""
            if pool6:
                subnet6, gateway6, ip_range6 = plan_addresses6(
                    str(pool6.get("Subnet")),
                    str(pool6.get("Gateway") or ""),
                    str(pool6.get("IPRange") or ""),
                    self.store.subnets6() + bridge6.host_networks6(),
                )
            nid = os.urandom(32).hex()
            rec = NetworkRecord(
                id=nid,
                name=name,
                subnet=subnet,
                gateway=gateway,
                bridge=bridge_name(nid, options),
                ip_range=ip_range,
                internal=bool(body.get("Internal")),
                options=options,
                labels=labels,
                ipam_options=ipam_options,
                aux_addresses=_check_aux(aux, subnet),
                enable_ipv6=enable_ipv6,
                subnet6=subnet6,
                gateway6=gateway6,
                ip_range6=ip_range6,
            )
            if br.link_exists(rec.bridge):
                raise Conflict(f"bridge {rec.bridge} already exists on the host")
            self.nets.up(rec)
            try:
                self.store.add(rec)
            except BaseException:
                self.nets.down(nid)
                raise
        self.events.publish("create", nid, type="network", name=name)
        return nid, ""

    def remove(self, ref: str) -> None:
        found = self.store.find(ref)
        if isinstance(found, str):
            raise Forbidden(f"{found} is a pre-defined network and cannot be removed")
        with self._lock:
            if self.nets.endpoints(found.id) or self._configured_on(found.name):
                raise Forbidden(f"network {found.name} has active endpoints")
            self.nets.down(found.id)
            self.store.remove(found.id)
        self.events.publish("destroy", found.id, type="network", name=found.name)

    def _configured_on(self, name: str) -> list[Container]:
        return [c for c in self.containers.all() if c.state.running and name in self._wanted(c)]

    def inspect(self, ref: str) -> dict[str, Any]:
        return self._doc(self.store.find(ref))

    def list(self, filters: FilterArgs) -> list[dict[str, Any]]:
        filters.validate(NETWORK_FILTERS)
        for t in filters.get("type"):
            if t not in ("custom", "builtin"):
                raise InvalidParameter(f"Invalid filter: 'type'='{t}'")
        docs = []
        for item in [*BUILTIN, *self.store.all()]:
            if item == "bridge" and not self.default_bridge:
                continue
            doc = self._doc(item)
            builtin = isinstance(item, str)
            if not (
                filters.match("name", doc["Name"])
                and filters.fuzzy_match("id", doc["Id"])
                and filters.exact_match("driver", doc["Driver"])
                and filters.exact_match("type", "builtin" if builtin else "custom")
                and filters.match_kv_list("label", doc["Labels"])
            ):
                continue
            docs.append(doc)
        return docs

    def _doc(self, item: NetworkRecord | str) -> dict[str, Any]:
        if isinstance(item, str):
            return self._builtin_doc(item)
        members = {}
        for c in self.containers.all():
            ep = ((c.network_settings or {}).get("_endpoints") or {}).get(item.id)
            if ep and c.state.running:
                members[c.id] = {
                    "Name": c.name.lstrip("/"),
                    "EndpointID": ep.get("EndpointID", ""),
                    "MacAddress": br.mac_for_ip(ep["IPAddress"]),
                    "IPv4Address": f"{ep['IPAddress']}/{item.network.prefixlen}",
                    "IPv6Address": (
                        f"{ep['GlobalIPv6Address']}/{item.network6.prefixlen}"
                        if ep.get("GlobalIPv6Address") and item.network6
                        else ""
                    ),
                }
        config = {"Subnet": item.subnet, "Gateway": item.gateway}
        if item.ip_range:
            config["IPRange"] = item.ip_range
        if item.aux_addresses:
            config["AuxiliaryAddresses"] = dict(item.aux_addresses)
        configs = [config]
        if item.subnet6:
            config6 = {"Subnet": item.subnet6, "Gateway": item.gateway6}
            if item.ip_range6:
                config6["IPRange"] = item.ip_range6
            configs.append(config6)
        return {
            "Name": item.name,
            "Id": item.id,
            "Created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(item.created)),
            "Scope": "local",
            "Driver": item.driver,
            "EnableIPv6": item.enable_ipv6,
            "IPAM": {"Driver": "default", "Options": item.ipam_options, "Config": configs},
            "Internal": item.internal,
            "Containers": members,
            "Options": dict(item.options),
            "Labels": dict(item.labels),
        }

    def _builtin_doc(self, name: str) -> dict[str, Any]:
        config: list[dict[str, str]] = []
        members: dict[str, Any] = {}
        options: dict[str, str] = {}
        driver = {"bridge": "bridge", "host": "host", "none": "null"}[name]
        if name == "bridge":
            info = self.default_info()
            if info.get("Network"):
                config.append({"Subnet": info["Network"], "Gateway": info["Gateway"]})
            options = {
                "com.docker.network.bridge.default_bridge": "true",
                "com.docker.network.bridge.name": info.get("Bridge", ""),
                "com.docker.network.bridge.enable_icc": str(info.get("ICC", True)).lower(),
            }
        for c in self.containers.all():
            if not c.state.running or network_mode(c) != name:
                continue
            s = c.network_settings or {}
            ip = s.get("IPAddress", "")
            members[c.id] = {
                "Name": c.name.lstrip("/"),
                "EndpointID": "",
                "MacAddress": s.get("MacAddress", ""),
                "IPv4Address": f"{ip}/{s.get('IPPrefixLen', 0)}" if ip else "",
                "IPv6Address": "",
            }
        return {
            "Name": name,
            "Id": self.store.builtin_ids[name],
            "Scope": "local",
            "Driver": driver,
            "EnableIPv6": False,
            "IPAM": {"Driver": "default", "Options": None, "Config": config},
            "Internal": False,
            "Containers": members,
            "Options": options,
            "Labels": {},
        }


def _pools(configs: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """IPAM.Config split by address family: at most one IPv4 and one IPv6 pool (told by the subnet)."""
    if not isinstance(configs, list) or not all(isinstance(x, dict) for x in configs):
        raise InvalidParameter("IPAM.Config must be a list of JSON objects")
    found: dict[int, dict[str, Any]] = {}
    for cfg in configs:
        subnet = cfg.get("Subnet") or ""
        try:
            version = ipaddress.ip_network(str(subnet), strict=False).version if subnet else 4
        except ValueError as e:
            raise InvalidParameter(f"invalid subnet {subnet}: {e}")
        if version in found:
            raise InvalidParameter(f"IPAM.Config: at most one IPv{version} pool is supported")
        found[version] = cfg
    pool6 = found.get(6, {})
    if pool6 and pool6.get("AuxiliaryAddresses"):
        raise InvalidParameter("IPAM.Config: auxiliary addresses are supported in the IPv4 pool only")
    return found.get(4, {}), pool6


def _string_map(value: Any, what: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise InvalidParameter(f"{what} must be a JSON object of strings")
    return dict(value)


def _check_aux(aux: dict[str, str], subnet: str) -> dict[str, str]:
    net = ipaddress.IPv4Network(subnet)
    for name, address in aux.items():
        try:
            if ipaddress.IPv4Address(address) not in net:
                raise ValueError
        except ValueError:
            raise InvalidParameter(f"auxiliary address {name}={address} is not in subnet {subnet}")
    return aux
