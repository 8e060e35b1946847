"""`--insecure-registry`: which registries may be spoken to without a verified TLS certificate.

As in later Docker: an entry is `host[:port]` (matched exactly against the registry's `host[:port]`)
or a CIDR (matched against the registry host's addresses); 127.0.0.0/8 and ::1 are always insecure.
For an insecure registry the client tries HTTPS without verifying the certificate and falls back to
plain HTTP when the TLS handshake or connection fails (`session.py`); every other registry is
HTTPS with verification only.

The daemon configures this once at start (`configure`); a daemon process has one setting, as Docker's
registry service has one.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_LOOPBACK: tuple[Network, ...] = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))


def split_host(host: str) -> str:
    """The name or address of `host[:port]` (`[v6]:port` too), without the port."""
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    if host.count(":") == 1:
        return host.rsplit(":", 1)[0]
    return host


def parse(spec: str) -> str | Network:
    """One flag value; ValueError with the reason when it is neither `host[:port]` nor a CIDR."""
    spec = spec.strip()
    if not spec:
        raise ValueError("insecure registry: empty value")
    if "://" in spec:
        raise ValueError(f"insecure registry {spec} should not contain '://'")
    if "/" in spec:
        try:
            return ipaddress.ip_network(spec, strict=False)
        except ValueError:
            raise ValueError(f"insecure registry {spec} is not a valid CIDR") from None
    name = split_host(spec)
    if spec.startswith("["):
        rest = spec.split("]", 1)[1] if "]" in spec else ""
        port = rest[1:] if rest.startswith(":") else rest
    else:
        port = spec.rsplit(":", 1)[1] if spec.count(":") == 1 else ""
    if port and not port.isdigit():
        raise ValueError(f"insecure registry {spec}: invalid port {port!r}")
    if not name or any(c.isspace() for c in name):
        raise ValueError(f"insecure registry {spec}: invalid host")
    return spec.lower()


class InsecureRegistries:
    def __init__(self, specs: Iterable[str] = ()) -> None:
        self.names: set[str] = set()
        self.networks: list[Network] = list(_LOOPBACK)
        for spec in specs:
            entry = parse(spec)
            if isinstance(entry, str):
                self.names.add(entry)
            else:
                self.networks.append(entry)

    def match(self, host: str) -> bool:
        """Whether `host[:port]` is insecure: named exactly, or one of its addresses in a network."""
        host = host.lower()
        if host in self.names:
            return True
        name = split_host(host)
        if name == "localhost":
            return True
        return any(
            addr in net for addr in _addresses(name) for net in self.networks if addr.version == net.version
        )


def _addresses(name: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        return [ipaddress.ip_address(name.split("%", 1)[0])]
    except ValueError:
        pass
    try:  # a host name: its addresses, as Docker's isCIDRMatch looks them up
        infos = socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return []
    out = []
    for info in infos:
        try:
            out.append(ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]))
        except ValueError:
            continue
    return out


_current = InsecureRegistries()


def configure(specs: Iterable[str]) -> None:
    """Set the daemon's list (ValueError on a bad entry, nothing changed)."""
    global _current
    _current = InsecureRegistries(specs)


def is_insecure(host: str) -> bool:
    return _current.match(host)


def registry_config() -> dict[str, object]:
    """`RegistryConfig` of `GET /info` in Docker's shape: the insecure names as index configs,
    the networks (loopback first) as CIDRs."""
    indexes: dict[str, object] = {
        "docker.io": {"Name": "docker.io", "Mirrors": [], "Secure": True, "Official": True}
    }
    for name in sorted(_current.names):
        indexes[name] = {"Name": name, "Mirrors": [], "Secure": False, "Official": False}
    cidrs = [str(n) for n in _current.networks if n.version == 4 or n not in _LOOPBACK]
    return {"IndexConfigs": indexes, "InsecureRegistryCIDRs": cidrs, "Mirrors": []}
