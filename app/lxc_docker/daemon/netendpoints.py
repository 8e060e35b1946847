"""A container's endpoints on user-defined networks: planned before the run, attached once PID 1
exists (eth0, eth1...), connected and disconnected while it runs, released when it stops; and the
names the embedded DNS server answers for it.

They live in the container's NetworkSettings: `Networks` (what inspect shows) and private keys the
API never shows: `_endpoints_config` (what create and connect asked for, by network name: Aliases,
Links, IPAMConfig; it outlives stops), `_disconnected` (the create-time network, once disconnected)
and `_endpoints` (what a run holds, by network id: address, host veth, interface name).
"""

from __future__ import annotations

import os
import threading
from typing import Any

from .. import runconfig
from ..errors import Forbidden, InvalidParameter, NotFound
from ..network import bridge as br
from ..network.dns import Resolver
from ..network.netstore import BUILTIN, NetworkRecord, NetworkStore
from ..network.usernet import UserNetworks
from .container import Container
from .containers import ContainerService
from .events import EventBus


def network_mode(c: Container) -> str:
    mode = (c.host_config or {}).get("NetworkMode") or "default"
    return "bridge" if mode == "default" else mode


def exposed_ports(c: Container) -> dict[str, Any]:
    ports = dict(c.config.get("ExposedPorts") or {})
    for spec in c.config.get("PortSpecs") or []:
        # Docker 0.9's PortSpecs: "80", "8080:80", "ip:host:ctr", with an optional /proto.
        port = spec.rsplit(":", 1)[-1]
        ports.setdefault(port if "/" in port else f"{port}/tcp", {})
    for key in c.host_config.get("PortBindings") or {}:
        ports.setdefault(key if "/" in key else f"{key}/tcp", {})
    return ports


def endpoint_json(
    network_id: str, endpoint: dict[str, Any], prefixlen: int, gateway: str, v6: tuple[int, str] = (0, "")
) -> dict[str, Any]:
    """One entry of NetworkSettings.Networks (API 1.21+); `v6` is the IPv6 (prefix length, gateway)."""
    ip = endpoint.get("IPAddress", "")
    ip6 = endpoint.get("GlobalIPv6Address", "")
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
        "IPv6Gateway": v6[1] if ip6 else "",
        "GlobalIPv6Address": ip6,
        "GlobalIPv6PrefixLen": v6[0] if ip6 else 0,
        "MacAddress": br.mac_for_ip(ip) if ip else "",
    }


class ContainerEndpoints:
    """The endpoint half of NetworkService (daemon/usernetworks.py), which provides these."""

    store: NetworkStore
    nets: UserNetworks
    resolver: Resolver | None
    containers: ContainerService
    events: EventBus
    _lock: threading.RLock

    # -- container endpoints -------------------------------------------------------------------------

    def check_create(self, c: Container) -> None:
        """At create: a network the container names must exist (Docker's 404)."""
        mode = network_mode(c)
        if mode in BUILTIN or mode.startswith("container:"):
            return
        found = self.store.find(mode)
        # -p/-P with an internal network is accepted, as Docker accepts it: see publish_ports().
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
                # Held from here, so that a failure of the IPv6 allocation releases the IPv4 address.
                planned[rec.id] = {"Name": rec.name, "IPAddress": ip, "GlobalIPv6Address": ""}
                wanted6 = ((cfg.get("IPAMConfig") or {}).get("IPv6Address")) or ""
                ip6 = self.nets.allocate6(rec.id, c.id, wanted6)
                planned[rec.id] = {
                    "Name": rec.name,
                    "IPAddress": ip,
                    "GlobalIPv6Address": ip6,
                    "Aliases": list(cfg.get("Aliases") or []),
                    "Links": list(cfg.get("Links") or []),
                    "IPAMConfig": cfg.get("IPAMConfig") or None,
                    "EndpointID": os.urandom(32).hex(),
                    "Veth": "",
                }
        except BaseException:
            for nid, ep in planned.items():
                self.nets.release(nid, c.id, ep["IPAddress"], "", ep["GlobalIPv6Address"])
            raise
        c.network_settings["_endpoints"] = planned
        self._publish_settings(c)

    def publish_ports(self, c: Container) -> None:
        """After plan(): -p/-P to the container's address on the first network it holds that is not
        internal, its NetworkMode network first.

        As Docker (1.12 to 28): its daemon gives the port options to the first endpoint it creates on
        a non-internal network while the container publishes nothing yet, never to an endpoint on an
        internal network (daemon/container_operations.go, "Port-mapping rules belong to the container
        & applicable only to non-internal networks"), and libnetwork maps ports only for the gateway
        endpoint, which an internal bridge network never provides. So a container only on internal
        networks runs and publishes nothing, without a word: no host port, no rule, `Ports` {} (the
        internal endpoint reports no exposed ports either: Docker 27 shows nothing in ps), `docker
        port` prints nothing; HostConfig keeps the PortBindings asked for."""
        settings = c.network_settings
        if settings.get("_ports_network"):
            return
        for nid, ep in (settings.get("_endpoints") or {}).items():
            rec = self.store.find(nid)
            if isinstance(rec, NetworkRecord) and not rec.internal:
                self._publish_to(c, rec, ep)
                return
        settings["Ports"] = {}

    def _publish_to(self, c: Container, rec: NetworkRecord, ep: dict[str, Any]) -> None:
        settings = c.network_settings
        settings["Ports"] = self.nets.ports.publish(
            c.id,
            rec.bridge,
            ep["IPAddress"],
            exposed_ports(c),
            c.host_config.get("PortBindings") or {},
            bool(c.host_config.get("PublishAllPorts")),
        )
        settings["_ports_network"] = rec.id

    def _unpublish(self, c: Container) -> None:
        settings = c.network_settings or {}
        if settings.pop("_ports_network", None):
            self.nets.ports.unpublish(c.id)
            settings["Ports"] = {}

    def attach_all(self, c: Container, pid: int, first_index: int) -> None:
        eps = (c.network_settings or {}).get("_endpoints") or {}
        for i, (nid, ep) in enumerate(eps.items()):
            index = first_index + i
            ep["IfName"] = f"eth{index}"
            ep["Veth"] = self.nets.attach(
                nid, c.id, pid, ep["IfName"], ep["IPAddress"], index == 0, ep.get("GlobalIPv6Address", "")
            )
        if eps and self.resolver is not None:
            self.resolver.serve(c.id, pid)

    def release(self, c: Container) -> None:
        if self.resolver is not None:
            self.resolver.stop(c.id)
        self._unpublish(c)
        settings = c.network_settings or {}
        for nid, ep in (settings.get("_endpoints") or {}).items():
            self.nets.release(
                nid, c.id, ep.get("IPAddress", ""), ep.get("Veth", ""), ep.get("GlobalIPv6Address", "")
            )
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
        try:
            ip6 = self.nets.allocate6(rec.id, c.id, ((cfg.get("IPAMConfig") or {}).get("IPv6Address")) or "")
        except BaseException:
            self.nets.release(rec.id, c.id, ip, "")
            raise
        used = {ep.get("IfName") for ep in eps.values()}
        if settings.get("IPAddress"):
            used.add("eth0")
        index = next(i for i in range(len(used) + 1) if f"eth{i}" not in used)
        ep = {
            "Name": rec.name,
            "IPAddress": ip,
            "GlobalIPv6Address": ip6,
            "Aliases": list(cfg.get("Aliases") or []),
            "Links": list(cfg.get("Links") or []),
            "IPAMConfig": cfg.get("IPAMConfig"),
            "EndpointID": os.urandom(32).hex(),
            "IfName": f"eth{index}",
        }
        try:
            ep["Veth"] = self.nets.attach(rec.id, c.id, c.state.pid, ep["IfName"], ip, index == 0, ip6)
        except BaseException:
            self.nets.release(rec.id, c.id, ip, "", ip6)
            raise
        eps[rec.id] = ep
        if not rec.internal and network_mode(c) not in BUILTIN and not settings.get("_ports_network"):
            # Nothing published yet (only internal networks so far, or a disconnect released them):
            # this endpoint gets the ports, as the first non-internal one does in Docker.
            try:
                self._publish_to(c, rec, ep)
            except BaseException:
                eps.pop(rec.id, None)
                self.nets.release(rec.id, c.id, ip, ep["Veth"], ip6)
                raise
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
            if settings.get("_ports_network") == rec.id:
                self._unpublish(c)
            ep = eps.pop(rec.id, None)
            if ep is not None:
                self.nets.release(
                    rec.id, c.id, ep.get("IPAddress", ""), ep.get("Veth", ""), ep.get("GlobalIPv6Address", "")
                )
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
            v6 = (rec.network6.prefixlen, rec.gateway6) if rec.ipv6 else (0, "")
            networks[name] = endpoint_json(nid, ep, rec.network.prefixlen, rec.gateway, v6)
        settings["Networks"] = networks

    def refresh(self, c: Container) -> None:
        try:
            self._publish_settings(c)
        except NotFound:
            pass

    # -- the embedded DNS server -------------------------------------------------------------------

    def lookup(self, container_id: str, name: str) -> list[str] | None:
        """Addresses of `name` (a container name, alias or short id) on the networks `container_id` is
        on, IPv4 and IPv6."""
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
                if name in names:
                    for address in (ep["IPAddress"], ep.get("GlobalIPv6Address")):
                        if address and address not in found:
                            found.append(address)
        return found or None
