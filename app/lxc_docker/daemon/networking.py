"""Containers on the network: address and ports at start, eth0 once PID 1 exists, links, release.

The NetworkManager (network/) knows bridges, addresses and rules; this module knows containers:
which ports they expose, which containers they link to, and what goes in their /etc/hosts.
"""

from __future__ import annotations

import logging

from ..errors import Conflict, InvalidParameter, NotFound
from ..execution.base import Command
from ..network import NetworkManager
from ..network import bridge as br
from ..network.dns import ADDRESS as DNS_ADDRESS
from ..network.linkenv import link_env
from ..network.netns import run_in_netns
from ..network.resolvconf import hosts_file
from .container import Container
from .containers import ContainerService
from .netendpoints import exposed_ports, network_mode
from .usernetworks import NetworkService

log = logging.getLogger(__name__)


def parse_link(spec: str) -> tuple[str, str]:
    name, _, alias = spec.partition(":")
    name, alias = name.strip("/"), (alias or name).strip("/")
    if not name or not alias or "/" in alias:
        raise InvalidParameter(f"Invalid link {spec!r}: expected name:alias")
    return name, alias


class ContainerNetworking:
    """Joins the container lifecycle (its hooks) to the network manager; owns link names."""

    def __init__(
        self, manager: NetworkManager, containers: ContainerService, networks: NetworkService | None = None
    ) -> None:
        self.manager = manager
        self.containers = containers
        self.names = containers.names
        self.networks = networks
        if networks is not None:
            networks.nets.ports.host = lambda: (manager.ports, manager.proxy, manager.default_ip)
        containers.prepare_run.append(self.prepare)
        containers.on_created.append(self.configure)
        containers.release_run.append(self.release)
        containers.on_remove.append(self.forget_links)
        containers.on_create.append(self.check_create)
        containers.name_files = self

    # -- daemon start and stop -----------------------------------------------------------------------

    def setup(self) -> None:
        self.manager.setup()
        if self.networks is not None:
            self.networks.setup()
        running = {
            c.id: c.network_settings for c in self.containers.all() if c.state.running and c.network_settings
        }
        self.manager.restore(running)
        for c in self.containers.all():
            for spec in c.host_config.get("Links") or []:
                try:
                    name, alias = parse_link(spec)
                    child = self.containers.get(name)
                except (InvalidParameter, NotFound):
                    continue
                self._register_link_name(c, child, alias)
                if c.state.running and child.state.running:
                    self.manager.link(
                        c.network_settings, child.network_settings, list(exposed_ports(child)), True
                    )

    def shutdown(self) -> None:
        if self.networks is not None:
            self.networks.shutdown()
        self.manager.shutdown()

    def check_create(self, c: Container):
        mode = network_mode(c)
        if mode.startswith("container:"):
            self._shared_netns_container(c)
        elif self.networks is not None:
            self.networks.check_create(c)
            # A created container already lists the networks it will join, without addresses, as
            # Docker's inspect does (the docker SDK's `containers.run(network=...)` reads them).
            self.networks.refresh(c)
        elif mode not in ("bridge", "host", "none"):
            raise NotFound(f"network {mode} not found")
        return lambda: None

    def _shared_netns_container(self, c: Container) -> Container:
        name = network_mode(c).partition(":")[2]
        try:
            other = self.containers.get(name)
        except NotFound:
            raise NotFound(f"No such container: {name}")
        if other.id == c.id:
            raise InvalidParameter("cannot join own network")
        return other

    # -- per run -------------------------------------------------------------------------------------

    def prepare(self, c: Container, command: Command) -> None:
        # What create and connect asked for outlives each run's settings.
        asked = (c.network_settings or {}).get("_endpoints_config") or {}
        mode = network_mode(c)
        if mode.startswith("container:"):
            other = self._shared_netns_container(c)
            if not other.state.running:
                raise Conflict(f"cannot join network of a non running container: {other.id}")
            command.net_from_pid = other.state.pid
            c.network_settings = {"_endpoints_config": asked}
            self._publish(c)
            return
        if mode in ("host", "none"):
            command.host_network = mode == "host"
            c.network_settings = {"_endpoints_config": asked}
            self._publish(c)
            return
        if mode != "bridge":
            c.network_settings = {"_endpoints_config": asked}
            self.networks.plan(c)
            try:
                self.networks.publish_ports(c)
            except BaseException:
                self.networks.release(c)
                raise
            command.hostname = command.hostname or c.id[:12]
            return
        links = self._resolve_links(c)
        disabled = bool(c.config.get("NetworkDisabled")) or not self.manager.enabled
        if disabled:
            c.network_settings = {}
        else:
            c.network_settings = self.manager.allocate(
                c.id,
                exposed=exposed_ports(c),
                port_bindings=c.host_config.get("PortBindings") or {},
                publish_all=bool(c.host_config.get("PublishAllPorts")),
                mac=c.config.get("MacAddress") or "",
            )
        try:
            hosts_links = []
            for child, alias in links:
                ip = (child.network_settings or {}).get("IPAddress", "")
                command.env.extend(
                    link_env(
                        alias,
                        f"{c.name}/{alias}",
                        ip,
                        sorted(exposed_ports(child)),
                        child.config.get("Env") or [],
                    )
                )
                hosts_links.append((alias, ip))
                self.manager.link(
                    c.network_settings, child.network_settings, list(exposed_ports(child)), True
                )
            c.link_hosts = hosts_links
            c.link_children = [(child.id, alias) for child, alias in links]
            c.network_settings["_endpoints_config"] = asked
            if self.networks is not None:
                self.networks.plan(c)
        except BaseException:
            self.release(c)
            raise
        command.hostname = command.hostname or c.id[:12]

    def hosts_file(self, c: Container, hostname: str) -> str:
        domain = c.config.get("Domainname") or ""
        fqdn = f"{hostname}.{domain}" if domain else hostname
        settings = c.network_settings or {}
        ip = settings.get("IPAddress", "")
        for ep in (settings.get("_endpoints") or {}).values():
            ip = ip or ep.get("IPAddress", "")
        if network_mode(c) == "host":
            return _read_text("/etc/hosts")
        return hosts_file(fqdn, ip, list(getattr(c, "link_hosts", [])))

    def configure(self, c: Container, pid: int) -> None:
        mode = network_mode(c)
        if mode in ("host",) or mode.startswith("container:"):
            return
        has_ip = bool(c.network_settings and c.network_settings.get("IPAddress"))
        if has_ip:
            self.manager.configure(c.network_settings, pid)
        else:
            run_in_netns(pid, lambda: br.configure_container_side("", "", 0, ""))
        if self.networks is not None and (c.network_settings or {}).get("_endpoints"):
            self.networks.attach_all(c, pid, 1 if has_ip else 0)

    def _publish(self, c: Container) -> None:
        if self.networks is not None:
            self.networks.refresh(c)

    def release(self, c: Container) -> None:
        for child_id, _alias in getattr(c, "link_children", []):
            try:
                child = self.containers.get(child_id)
            except NotFound:
                continue
            self.manager.link(c.network_settings, child.network_settings, list(exposed_ports(child)), False)
        c.link_children = []
        if self.networks is not None and c.network_settings:
            self.networks.release(c)
        if c.network_settings and network_mode(c) == "bridge":
            self.manager.release(c.id, c.network_settings)

    def resolv_conf(self, c: Container) -> str:
        mode = network_mode(c)
        if mode == "host":
            return _read_text("/etc/resolv.conf")
        if mode not in ("bridge", "none") and not mode.startswith("container:"):
            # Docker's embedded DNS: names of the containers on the same networks, nothing forwarded.
            return f"nameserver {DNS_ADDRESS}\noptions ndots:0\n"
        dns = list(c.config.get("Dns") or []) + list(c.host_config.get("Dns") or [])
        return self.manager.container_resolv_conf(dns)

    # -- links ---------------------------------------------------------------------------------------

    def _resolve_links(self, c: Container) -> list[tuple[Container, str]]:
        result = []
        for spec in c.host_config.get("Links") or []:
            name, alias = parse_link(spec)
            try:
                child = self.containers.get(name)
            except NotFound:
                raise NotFound(f"Could not find entity for {name}")
            if child.id == c.id:
                raise InvalidParameter("a container cannot link to itself")
            if not child.state.running:
                raise Conflict(f"Cannot link to a non running container: {child.name} AS {c.name}/{alias}")
            self._register_link_name(c, child, alias)
            result.append((child, alias))
        return result

    def _register_link_name(self, parent: Container, child: Container, alias: str) -> None:
        try:
            self.names.reserve(f"{parent.name}/{alias}", child.id)
        except Conflict as e:
            raise Conflict(f"Conflict, The link name {parent.name}/{alias} is already in use: {e}")

    def remove_link(self, full_name: str) -> None:
        """`docker rm --link /parent/alias`."""
        name = "/" + full_name.strip("/")
        parent_name, _, alias = name.rpartition("/")
        if not parent_name or self.names.get(name) is None:
            raise NotFound(f"Link not found: {full_name}")
        parent = self.containers.get(parent_name)
        child_id = self.names.get(name)
        links = [spec for spec in parent.host_config.get("Links") or [] if parse_link(spec)[1] != alias]
        parent.host_config["Links"] = links or None
        parent.save()
        self.names.release(name)
        if parent.state.running and child_id:
            try:
                child = self.containers.get(child_id)
                self.manager.link(
                    parent.network_settings, child.network_settings, list(exposed_ports(child)), False
                )
            except NotFound:
                pass

    def forget_links(self, c: Container, _volumes: bool) -> None:
        # Names like /parent/alias pointing at the removed container, or under the removed parent.
        for name in self.names.names_under(c.name):
            self.names.release(name)


def _read_text(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return ""
