"""Publishing container ports on the host: which ports to publish where, then the mapping of each one.

A mapping is a held host port, its bound proxy socket and (with --iptables) a DNAT rule plus an
ACCEPT rule; `map` builds all of that or nothing.
"""

from __future__ import annotations

import errno
import ipaddress
import logging
from dataclasses import dataclass, field

from ..errors import InvalidParameter, SystemError_
from . import proxy as proxy_mod
from .iptables import Rule, RuleBook, port_rules
from .portallocator import PortAllocator, PortAlreadyAllocated

log = logging.getLogger(__name__)

PROTOS = ("tcp", "udp")
# A dynamic port can be free in our books and still be busy on the host (an outgoing connection's
# ephemeral port, another program): try the next ones before giving up.
_DYNAMIC_ATTEMPTS = 64


@dataclass(frozen=True)
class PortRequest:
    key: str  # "80/tcp"
    proto: str
    container_port: int
    host_ip: str
    host_port: int  # 0: allocate one


def port_key(key: str) -> tuple[str, int, str]:
    """Normalize an ExposedPorts / PortBindings key: '80' or '80/TCP' → ('80/tcp', 80, 'tcp')."""
    port_text, _, proto = str(key).partition("/")
    proto = (proto or "tcp").lower()
    if proto not in PROTOS:
        raise InvalidParameter(f"Invalid proto: {proto}")
    if not port_text.isdigit() or not 0 < int(port_text) <= 65535:
        raise InvalidParameter(f"Invalid port: {key}")
    port = int(port_text)
    return f"{port}/{proto}", port, proto


def _host_ip(text: str, default_ip: str) -> str:
    text = text or default_ip
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        raise InvalidParameter(f"Invalid ip address: {text}")
    if address.version != 4:
        raise InvalidParameter(f"Invalid ip address: {text}: only IPv4 host addresses can publish ports")
    return str(address)


def _host_port(text: str | int | None) -> int:
    text = str(text or "").strip()
    if not text:
        return 0
    if not text.isdigit() or int(text) > 65535:
        raise InvalidParameter(f"Invalid hostPort: {text}")
    return int(text)


def plan_ports(
    exposed: dict | None, port_bindings: dict | None, publish_all: bool, default_ip: str
) -> tuple[dict[str, list | None], list[PortRequest]]:
    """The `Ports` skeleton (None for exposed-only ports) and the host ports to publish, in port order.

    `exposed` is Config.ExposedPorts ({"80/tcp": {}}), `port_bindings` HostConfig.PortBindings
    ({"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}). -p implies expose; -P publishes every exposed
    port that has no explicit binding on a dynamic port of --ip.
    """
    bindings: dict[str, list[dict]] = {}
    for key, value in (port_bindings or {}).items():
        norm = port_key(key)[0]
        bindings.setdefault(norm, []).extend(value or [])
    keys = {port_key(k)[0] for k in (exposed or {})} | set(bindings)
    ports: dict[str, list | None] = {}
    requests: list[PortRequest] = []
    for key in sorted(keys, key=lambda k: (port_key(k)[1], port_key(k)[2])):
        _, number, proto = port_key(key)
        wanted = bindings.get(key) or ([{}] if publish_all else [])
        ports[key] = [] if wanted else None
        for binding in wanted:
            host_ip = _host_ip(binding.get("HostIp") or "", default_ip)
            host_port = _host_port(binding.get("HostPort"))
            requests.append(PortRequest(key, proto, number, host_ip, host_port))
    return ports, requests


@dataclass
class Mapping:
    proto: str
    host_ip: str
    host_port: int
    container_ip: str
    container_port: int
    handle: int = 0
    rules: list[Rule] = field(default_factory=list)


class PortMapper:
    """Maps host ports to container ports; `rules` is None with --iptables=false."""

    def __init__(
        self,
        ports: PortAllocator,
        proxy: proxy_mod.ProxyLoop,
        rules: RuleBook | None,
        chain: str,
        bridge: str,
    ) -> None:
        self.ports, self.proxy, self.rules = ports, proxy, rules
        self.chain, self.bridge = chain, bridge

    def _bind(self, owner: str, proto: str, host_ip: str, host_port: int) -> tuple[int, object]:
        attempts = 1 if host_port else _DYNAMIC_ATTEMPTS
        for _ in range(attempts):
            port = self.ports.request(proto, host_ip, host_port, owner)
            try:
                return port, proxy_mod.bind(proto, host_ip, port)
            except OSError as e:
                self.ports.release(proto, host_ip, port, owner)
                if e.errno == errno.EADDRINUSE:
                    if host_port:
                        raise PortAlreadyAllocated(host_ip, port)
                    continue
                if e.errno == errno.EADDRNOTAVAIL:
                    raise InvalidParameter(f"Bind for {host_ip}:{port} failed: {e.strerror}")
                raise SystemError_(f"Bind for {host_ip}:{port} failed: {e.strerror or e}")
        raise SystemError_(f"Bind for {host_ip} failed: no free {proto} port found after {attempts} attempts")

    def rules_for(
        self, proto: str, host_ip: str, host_port: int, container_ip: str, container_port: int
    ) -> list[Rule]:
        """The iptables rules of one published port (the default bridge's: in its own chains)."""
        return port_rules(self.chain, self.bridge, proto, host_ip, host_port, container_ip, container_port)

    def map(
        self, owner: str, proto: str, host_ip: str, host_port: int, container_ip: str, container_port: int
    ) -> Mapping:
        """Publish one port; on failure nothing is left held, bound or added."""
        port, sock = self._bind(owner, proto, host_ip, host_port)
        mapping = Mapping(proto, host_ip, port, container_ip, container_port)
        try:
            if self.rules is not None:
                rules = self.rules_for(proto, host_ip, port, container_ip, container_port)
                self.rules.add(rules)
                mapping.rules = rules
            mapping.handle = self.proxy.add(proto, sock, (container_ip, container_port))
        except BaseException:
            sock.close()
            if mapping.rules and self.rules is not None:
                self.rules.remove(mapping.rules)
            self.ports.release(proto, host_ip, port, owner)
            raise
        return mapping

    def unmap(self, owner: str, mapping: Mapping) -> None:
        # Proxy first: once it returns the port is closed, and only then is it free in our books.
        if mapping.handle:
            self.proxy.remove(mapping.handle)
            mapping.handle = 0
        if mapping.rules and self.rules is not None:
            self.rules.remove(mapping.rules)
            mapping.rules = []
        self.ports.release(mapping.proto, mapping.host_ip, mapping.host_port, owner)
