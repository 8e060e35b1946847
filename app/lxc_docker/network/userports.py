"""Published ports (-p, -P) of containers on user-defined networks.

A port published from a container on network BR is, as on the default bridge, a held host port, the
userland proxy bound to it (the only way to 127.0.0.1:PORT: the kernel never routes loopback to a
bridge) and, with --iptables, rules tagged `lxc-docker:BR` like every other rule of that network:

    nat    PREROUTING  -m addrtype --dst-type LOCAL [-d HOSTIP] -p P --dport HOSTPORT ! -i BR
                       -j DNAT --to-destination IP:PORT
    nat    OUTPUT      ! -d 127.0.0.0/8 (or -d HOSTIP) -m addrtype --dst-type LOCAL ... the same DNAT
    filter FORWARD     -d IP ! -i BR -o BR -p P --dport PORT -j ACCEPT

They sit in the built-in chains, not in the default bridge's chain: a daemon without a default bridge
(-b none) publishes too, and `network rm` or the start after a crash deletes them with the network's
other rules by their tag. The FORWARD accept must stay above BR's isolation drop (`-o BR ! -i BR -j
DROP`, usernet.py), which is re-inserted at the top whenever a network comes up; so the owner of the
isolation group moves these accepts back above it (`filter_rules`). Host ports come from the default
bridge's allocator, so one host port is never handed to two containers whatever their networks.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from ..errors import DockerError
from .iptables import ANY_IP, Iptables, Rule, RuleBook, _tagged
from .portallocator import PortAllocator
from .portmapper import Mapping, PortMapper, plan_ports, port_key
from .proxy import ProxyLoop

log = logging.getLogger(__name__)

# (host port allocator, proxy loop, the daemon's --ip) of the default bridge's manager, read at each
# use: the manager replaces its allocator and loop when it is set up again.
HostPorts = Callable[[], tuple[PortAllocator, ProxyLoop, str]]


def published_rules(bridge: str, proto: str, host_ip: str, host_port: int, ip: str, port: int) -> list[Rule]:
    """The DNAT (from outside and from the host's own non-loopback addresses) and the FORWARD accept."""
    local = ("-m", "addrtype", "--dst-type", "LOCAL")
    match = ("-p", proto, "--dport", str(host_port))
    dnat = ("-j", "DNAT", "--to-destination", f"{ip}:{port}")
    if host_ip == ANY_IP:
        pre, out = local, ("!", "-d", "127.0.0.0/8", *local)
    else:
        pre = out = ("-d", host_ip, *local)
    # OUTPUT has no input interface; PREROUTING leaves the network's own containers to the proxy.
    rules = [Rule("nat", "PREROUTING", _tagged(bridge, (*pre, *match, "!", "-i", bridge, *dnat)))]
    if not host_ip.startswith("127."):
        rules.append(Rule("nat", "OUTPUT", _tagged(bridge, (*out, *match, *dnat))))
    accept = ("-d", ip, "!", "-i", bridge, "-o", bridge, "-p", proto, "--dport", str(port), "-j", "ACCEPT")
    rules.append(Rule("filter", "FORWARD", _tagged(bridge, accept)))
    return rules


class _BridgePortMapper(PortMapper):
    def rules_for(
        self, proto: str, host_ip: str, host_port: int, container_ip: str, container_port: int
    ) -> list[Rule]:
        return published_rules(self.bridge, proto, host_ip, host_port, container_ip, container_port)


class UserPorts:
    """The mappings each container holds on its user-defined network."""

    def __init__(self, ipt: Iptables, use_iptables: bool) -> None:
        self.book = RuleBook(ipt) if use_iptables else None
        self.host: HostPorts | None = None  # set by the daemon's wiring (daemon/networking.py)
        self._held: dict[str, list[Mapping]] = {}
        self._lock = threading.Lock()

    def _mapper(self, bridge: str) -> tuple[_BridgePortMapper, str]:
        if self.host is None:
            raise DockerError("ports cannot be published: the daemon has no port allocator")
        ports, proxy, default_ip = self.host()
        return _BridgePortMapper(ports, proxy, self.book, "", bridge), default_ip

    def publish(
        self,
        container_id: str,
        bridge: str,
        ip: str,
        exposed: dict,
        bindings: dict,
        publish_all: bool,
    ) -> dict[str, list | None]:
        """Publish every requested port to `ip` on `bridge`, all or none; returns NetworkSettings.Ports."""
        mapper, default_ip = self._mapper(bridge)
        ports, requests = plan_ports(exposed, bindings, publish_all, default_ip)
        done: list[Mapping] = []
        try:
            for req in requests:
                m = mapper.map(container_id, req.proto, req.host_ip, req.host_port, ip, req.container_port)
                done.append(m)
                ports[req.key].append({"HostIp": req.host_ip, "HostPort": str(m.host_port)})
        except BaseException:
            for m in reversed(done):
                mapper.unmap(container_id, m)
            raise
        with self._lock:
            self._held.setdefault(container_id, []).extend(done)
        return ports

    def restore(self, container_id: str, bridge: str, ip: str, ports: dict) -> None:
        """After a daemon restart: the ports a running container published are its own again."""
        with self._lock:
            if container_id in self._held:
                return
        mapper, default_ip = self._mapper(bridge)
        done: list[Mapping] = []
        for key, bindings in (ports or {}).items():
            for b in bindings or []:
                try:
                    _, number, proto = port_key(key)
                    host_ip = b.get("HostIp") or default_ip
                    done.append(mapper.map(container_id, proto, host_ip, int(b["HostPort"]), ip, number))
                except (DockerError, KeyError, ValueError, OSError) as e:
                    log.warning("cannot restore port %s of %s: %s", key, container_id[:12], e)
        with self._lock:
            self._held[container_id] = done

    def unpublish(self, container_id: str) -> None:
        with self._lock:
            held = self._held.pop(container_id, [])
        if not held:
            return
        mapper, _ = self._mapper("")
        for m in reversed(held):
            try:
                mapper.unmap(container_id, m)
            except Exception as e:  # keep going: the rest must still be released
                log.warning("unpublishing %s:%s of %s: %s", m.host_ip, m.host_port, container_id[:12], e)

    def filter_rules(self) -> list[Rule]:
        """The FORWARD accepts held now (to be kept above the isolation drops)."""
        if self.book is None:
            return []
        return [r for r in self.book.rules() if r.table == "filter"]

    def forget(self) -> None:
        """At daemon stop: the rules went with the networks' and the proxies with the loop."""
        with self._lock:
            self._held.clear()
        if self.book is not None:
            self.book.forget()
