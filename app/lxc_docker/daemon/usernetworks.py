"""Networks as the Remote API 1.24 sees them, and the endpoints of containers on user-defined ones.

`NetworkService` keeps the records (network/netstore.py), brings their bridges up at start and
down at stop (network/usernet.py), serves the `/networks` endpoints, and plans, attaches and
releases a container's endpoints on user-defined networks as the container starts and stops.

A container's endpoints live in its NetworkSettings: `Networks` (what inspect shows) and two
private keys the API never shows: `_endpoints_config` (what create and connect asked for, by
network name: Aliases, IPAMConfig; it outlives stops) and `_endpoints` (what a run holds, by
network id: address, host veth, interface name).
"""

from __future__ import annotations

import ipaddress
import logging
import secrets
import threading
import time
from typing import Any

from .. import runconfig
from ..errors import Conflict, Forbidden, InvalidParameter, NotFound
from ..network import bridge as br
from ..network.dns import Resolver
from ..network.netstore import BUILTIN, NetworkRecord, NetworkStore, bridge_name, plan_addresses
from ..network.usernet import UserNetworks
from .container import Container
from .containers import ContainerService
from .events import EventBus
from .filtering import FilterArgs

log = logging.getLogger(__name__)

NETWORK_FILTERS = frozenset({"name", "id", "driver", "type", "label"})


def network_mode(c: Container) -> str:
    mode = (c.host_config or {}).get("NetworkMode") or "default"
    return "bridge" if mode == "default" else mode


def endpoint_json(network_id: str, endpoint: dict[str, Any], prefixlen: int, gateway: str) -> dict[str, Any]:
    """One entry of NetworkSettings.Networks (API 1.21+)."""
    ip = endpoint.get("IPAddress", "")
    wanted = endpoint.get("IPAMConfig") or None
    return {
        "IPAMConfig": wanted,
        "Links": endpoint.get("Links") or None,
        "Aliases": endpoint.get("Aliases") or None,
        "NetworkID": network_id,
        "EndpointID": endpoint.get("EndpointID", ""),
        "Gateway": gateway if ip else "",
        "IPAddress": ip,
        "IPPrefixLen": prefixlen if ip else 0,
        "IPv6Gateway": "",
        "GlobalIPv6Address": "",
        "GlobalIPv6PrefixLen": 0,
        "MacAddress": br.mac_for_ip(ip) if ip else "",
    }


class NetworkService:
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
                    self.nets.reserve(nid, c.id, ep.get("IPAddress", ""), ep.get("Veth", ""))
                except Exception as e:
                    log.warning("cannot restore endpoint of %s on %s: %s", c.id[:12], nid[:12], e)
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
        if body.get("EnableIPv6"):
            raise InvalidParameter("IPv6 networks are not supported")
        options = _string_map(body.get("Options"), "Options")
        labels = _string_map(body.get("Labels"), "Labels")
        ipam = body.get("IPAM") or {}
        if not isinstance(ipam, dict):
            raise InvalidParameter("IPAM must be a JSON object")
        if (ipam.get("Driver") or "default") != "default":
            raise NotFound(f"plugin not found: IPAM driver {ipam.get('Driver')!r}")
        configs = ipam.get("Config") or []
        if not isinstance(configs, list) or len(configs) > 1 or not all(isinstance(x, dict) for x in configs):
            raise InvalidParameter("IPAM.Config: at most one IPv4 pool is supported")
        pool = configs[0] if configs else {}
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
            nid = secrets.token_hex(32)
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
                    "IPv6Address": "",
                }
        config = {"Subnet": item.subnet, "Gateway": item.gateway}
        if item.ip_range:
            config["IPRange"] = item.ip_range
        if item.aux_addresses:
            config["AuxiliaryAddresses"] = dict(item.aux_addresses)
        return {
            "Name": item.name,
            "Id": item.id,
            "Created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(item.created)),
            "Scope": "local",
            "Driver": item.driver,
            "EnableIPv6": False,
            "IPAM": {"Driver": "default", "Options": item.ipam_options, "Config": [config]},
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

    # -- container endpoints -------------------------------------------------------------------------

    def check_create(self, c: Container) -> None:
        """At create: a network the container names must exist (Docker's 404)."""
        mode = network_mode(c)
        if mode in BUILTIN or mode.startswith("container:"):
            return
        found = self.store.find(mode)
        if c.host_config.get("PortBindings") or c.host_config.get("PublishAllPorts"):
            # Published ports are DNAT rules of the default bridge; a refusal beats a silent drop.
            raise InvalidParameter(
                f"publishing ports (-p, -P) on the user-defined network {mode} is not supported: "
                "publish them from a container on the default bridge network"
            )
        if isinstance(found, NetworkRecord) and found.name != mode:
            c.host_config["NetworkMode"] = found.name

    def _wanted(self, c: Container) -> dict[str, dict[str, Any]]:
        """The user-defined networks the container is to be on, by name, in the order of its interfaces."""
        settings = c.network_settings or {}
        wanted: dict[str, dict[str, Any]] = {}
        mode = network_mode(c)
        configs = settings.get("_endpoints_config") or {}
        detached = settings.get("_disconnected") or []
        if mode not in BUILTIN and not mode.startswith("container:") and mode not in detached:
            wanted[mode] = configs.get(mode) or {}
        for name, cfg in configs.items():
            # Today's CLI names the default network "default" in EndpointsConfig when --network is
            # not given, as NetworkMode does: it is the bridge network.
            if name not in BUILTIN and name != "default" and name not in wanted:
                wanted[name] = cfg or {}
        return wanted

    def plan(self, c: Container) -> None:
        """Before the run: an address on each user-defined network (all or none)."""
        planned: dict[str, dict[str, Any]] = {}
        try:
            for name, cfg in self._wanted(c).items():
                rec = self.store.find(name)
                if isinstance(rec, str):
                    continue
                wanted = ((cfg.get("IPAMConfig") or {}).get("IPv4Address")) or ""
                ip = self.nets.allocate(rec.id, c.id, wanted)
                planned[rec.id] = {
                    "Name": rec.name,
                    "IPAddress": ip,
                    "Aliases": list(cfg.get("Aliases") or []),
                    "Links": list(cfg.get("Links") or []),
                    "IPAMConfig": cfg.get("IPAMConfig") or None,
                    "EndpointID": secrets.token_hex(32),
                    "Veth": "",
                }
        except BaseException:
            for nid, ep in planned.items():
                self.nets.release(nid, c.id, ep["IPAddress"], "")
            raise
        c.network_settings["_endpoints"] = planned
        self._publish_settings(c)

    def attach_all(self, c: Container, pid: int, first_index: int) -> None:
        eps = (c.network_settings or {}).get("_endpoints") or {}
        for i, (nid, ep) in enumerate(eps.items()):
            index = first_index + i
            ep["IfName"] = f"eth{index}"
            ep["Veth"] = self.nets.attach(nid, c.id, pid, ep["IfName"], ep["IPAddress"], route=index == 0)
        if eps and self.resolver is not None:
            self.resolver.serve(c.id, pid)

    def release(self, c: Container) -> None:
        if self.resolver is not None:
            self.resolver.stop(c.id)
        settings = c.network_settings or {}
        for nid, ep in (settings.get("_endpoints") or {}).items():
            self.nets.release(nid, c.id, ep.get("IPAddress", ""), ep.get("Veth", ""))
        if settings.get("_endpoints"):
            settings["_endpoints"] = {}
            self.refresh(c)  # a stopped container shows its networks without addresses, as Docker

    def connect(self, ref: str, body: Any) -> None:
        if not isinstance(body, dict) or not isinstance(body.get("Container"), str):
            raise InvalidParameter("Container is required")
        rec = self.store.find(ref)
        if isinstance(rec, str):
            raise Forbidden(f"container cannot be connected to network {rec}: only user-defined networks")
        c = self.containers.get(body["Container"])
        cfg = body.get("EndpointConfig") or {}
        if not isinstance(cfg, dict):
            raise InvalidParameter("EndpointConfig must be a JSON object")
        networking = {"NetworkingConfig": {"EndpointsConfig": {rec.name: cfg}}}
        cfg = runconfig.endpoints_config(networking)[rec.name]
        with self._lock:
            settings = c.network_settings if c.network_settings is not None else {}
            c.network_settings = settings
            if rec.name in self._wanted(c) or rec.id in (settings.get("_endpoints") or {}):
                raise Forbidden(f"container {c.id[:12]} is already attached to network {rec.name}")
            if network_mode(c) in ("host", "none") or network_mode(c).startswith("container:"):
                raise Forbidden(
                    "container sharing network namespace with another container or host cannot be "
                    "connected to any other network"
                )
            configs = settings.setdefault("_endpoints_config", {})
            configs[rec.name] = cfg
            detached = settings.get("_disconnected") or []
            settings["_disconnected"] = [n for n in detached if n != rec.name]
            if c.state.running:
                try:
                    self._attach_running(c, rec, configs[rec.name])
                except BaseException:
                    configs.pop(rec.name, None)
                    settings["_disconnected"] = detached
                    raise
            self._publish_settings(c)
            c.save()
        self.events.publish("connect", rec.id, type="network", name=rec.name, container=c.id)

    def _attach_running(self, c: Container, rec: NetworkRecord, cfg: dict[str, Any]) -> None:
        settings = c.network_settings
        eps = settings.setdefault("_endpoints", {})
        wanted = ((cfg.get("IPAMConfig") or {}).get("IPv4Address")) or ""
        ip = self.nets.allocate(rec.id, c.id, wanted)
        used = {ep.get("IfName") for ep in eps.values()}
        if settings.get("IPAddress"):
            used.add("eth0")
        index = next(i for i in range(len(used) + 1) if f"eth{i}" not in used)
        ep = {
            "Name": rec.name,
            "IPAddress": ip,
            "Aliases": list(cfg.get("Aliases") or []),
            "Links": list(cfg.get("Links") or []),
            "IPAMConfig": cfg.get("IPAMConfig"),
            "EndpointID": secrets.token_hex(32),
            "IfName": f"eth{index}",
        }
        try:
            ep["Veth"] = self.nets.attach(rec.id, c.id, c.state.pid, ep["IfName"], ip, route=index == 0)
        except BaseException:
            self.nets.release(rec.id, c.id, ip, "")
            raise
        eps[rec.id] = ep
        if self.resolver is not None and not self.resolver.serving(c.id):
            self.resolver.serve(c.id, c.state.pid)

    def disconnect(self, ref: str, body: Any) -> None:
        if not isinstance(body, dict) or not isinstance(body.get("Container"), str):
            raise InvalidParameter("Container is required")
        rec = self.store.find(ref)
        if isinstance(rec, str):
            raise Forbidden(f"container cannot be disconnected from network {rec}")
        c = self.containers.get(body["Container"])
        with self._lock:
            settings = c.network_settings or {}
            eps = settings.get("_endpoints") or {}
            configs = settings.get("_endpoints_config") or {}
            if rec.id not in eps and rec.name not in self._wanted(c):
                raise Forbidden(f"container {c.id[:12]} is not connected to the network {rec.name}")
            if network_mode(c) == rec.name:
                # Docker 1.12 lets it go: the container keeps running without that interface, and
                # its NetworkMode still names the network, which a later connect joins again.
                settings["_disconnected"] = [*(settings.get("_disconnected") or []), rec.name]
            ep = eps.pop(rec.id, None)
            if ep is not None:
                self.nets.release(rec.id, c.id, ep.get("IPAddress", ""), ep.get("Veth", ""))
            configs.pop(rec.name, None)
            self._publish_settings(c)
            c.save()
        self.events.publish("disconnect", rec.id, type="network", name=rec.name, container=c.id)

    def _publish_settings(self, c: Container) -> None:
        """NetworkSettings.Networks from the endpoints held and the configs asked for."""
        settings = c.network_settings
        networks: dict[str, Any] = {}
        mode = network_mode(c)
        if mode in BUILTIN:
            ip = settings.get("IPAddress", "") if mode == "bridge" else ""
            configs = settings.get("_endpoints_config") or {}
            asked = configs.get(mode) or (configs.get("default") if mode == "bridge" else None) or {}
            networks[mode] = endpoint_json(
                self.store.builtin_ids[mode],
                {"IPAddress": ip, "Aliases": asked.get("Aliases"), "IPAMConfig": asked.get("IPAMConfig")},
                int(settings.get("IPPrefixLen") or 0),
                settings.get("Gateway", ""),
            )
        held = {ep["Name"]: (nid, ep) for nid, ep in (settings.get("_endpoints") or {}).items()}
        for name, cfg in self._wanted(c).items():
            rec = self.store.find(name)
            if isinstance(rec, str):
                continue
            nid, ep = held.get(name, (rec.id, {**cfg}))
            networks[name] = endpoint_json(nid, ep, rec.network.prefixlen, rec.gateway)
        settings["Networks"] = networks

    def refresh(self, c: Container) -> None:
        try:
            self._publish_settings(c)
        except NotFound:
            pass

    # -- the embedded DNS server -------------------------------------------------------------------

    def lookup(self, container_id: str, name: str) -> list[str] | None:
        """Addresses of `name` (a container name, alias or short id) on the networks `container_id` is on."""
        try:
            asker = self.containers.get(container_id)
        except NotFound:
            return None
        my_eps = (asker.network_settings or {}).get("_endpoints") or {}
        mine = set(my_eps)
        found: list[str] = []
        name = name.lower()
        for ep in my_eps.values():
            # A link on a user-defined network is a name only the linking container resolves.
            for link in ep.get("Links") or []:
                target, _, alias = link.partition(":")
                if (alias or target).lower() == name:
                    name = target.lstrip("/").lower()
        for c in self.containers.all():
            if not c.state.running:
                continue
            for nid, ep in ((c.network_settings or {}).get("_endpoints") or {}).items():
                if nid not in mine or not ep.get("IPAddress"):
                    continue
                names = {c.name.lstrip("/").lower(), c.id[:12]} | {a.lower() for a in ep.get("Aliases") or []}
                if name in names and ep["IPAddress"] not in found:
                    found.append(ep["IPAddress"])
        return found or None


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
