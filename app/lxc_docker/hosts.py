"""Parse daemon addresses (`-H`, `DOCKER_HOST`) in the forms Docker 0.9 accepts; shared by daemon and client.

Kept free of imports beyond `os` because the client imports it on the start path of every command.
"""

from __future__ import annotations

import os

DEFAULT_UNIX_SOCKET = "/var/run/docker.sock"
# Docker 0.9 used 127.0.0.1 as the default host for both the daemon's -H and the client, so
# `-H tcp://:4243` never exposes the API on every interface by accident; a daemon that wants all
# interfaces must say `tcp://0.0.0.0:4243`.
DEFAULT_TCP_HOST = "127.0.0.1"
DEFAULT_TCP_PORT = 4243
# The port Docker chose for the API over TLS (2375 plain, 2376 TLS), used when TLS is on and an
# address names no port.
DEFAULT_TLS_PORT = 2376
DEFAULT_HOST = "unix://" + DEFAULT_UNIX_SOCKET

# Characters that can never be part of a host name or port; rejecting them catches paths, user
# info and query strings that Docker 0.9 did not support in an address.
_FORBIDDEN = frozenset("/@?#\\ \t\r\n")


class Host:
    """One parsed daemon address; immutable.

    proto is "unix", "tcp" or "fd". address is the socket path (unix), "host:port" with IPv6 hosts
    in brackets (tcp), or the fd spec (fd: "*" for every LISTEN_FDS socket, else one fd number).
    host and port are set for tcp only, path for unix only.
    """

    __slots__ = ("proto", "address", "host", "port", "path")

    proto: str
    address: str
    host: str | None
    port: int | None
    path: str | None

    def __init__(
        self,
        proto: str,
        address: str,
        host: str | None = None,
        port: int | None = None,
        path: str | None = None,
    ) -> None:
        for name, value in zip(self.__slots__, (proto, address, host, port, path), strict=True):
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Host is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("Host is immutable")

    def __reduce__(self) -> tuple:
        # Slots plus a refusing __setattr__ defeat the default copy/pickle protocol.
        return (Host, self._key())

    def _key(self) -> tuple:
        return (self.proto, self.address, self.host, self.port, self.path)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Host):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"Host({self.url!r})"

    def __str__(self) -> str:
        return self.url

    @property
    def url(self) -> str:
        """The canonical spec, e.g. `unix:///var/run/docker.sock`, `tcp://127.0.0.1:4243`, `fd://*`."""
        return f"{self.proto}://{self.address}"

    @property
    def fd(self) -> int | None:
        """For `fd://N` the fd number; None for `fd://` / `fd://*` (all sockets) and other protocols."""
        if self.proto != "fd" or self.address == "*":
            return None
        return int(self.address)


def default_host() -> str:
    """The daemon address the client uses without -H: $DOCKER_HOST, else the default unix socket."""
    # An empty DOCKER_HOST counts as unset, as in Docker.
    return os.environ.get("DOCKER_HOST") or DEFAULT_HOST


def parse_host(
    spec: str,
    default_unix: str = DEFAULT_UNIX_SOCKET,
    default_tcp_host: str = DEFAULT_TCP_HOST,
    default_port: int = DEFAULT_TCP_PORT,
) -> Host:
    """Parse `unix:///path`, `unix://`, `tcp://host:port`, `tcp://:port`, `tcp://host`, `host:port`,
    `:port`, `host`, `fd://`, `fd://N`, `fd://*` and `tcp://[::1]:port`; raise ValueError if bad."""
    addr = spec.strip()
    if not addr:
        return Host("unix", default_unix, path=default_unix)
    if addr.startswith("unix://"):
        path = addr[len("unix://") :] or default_unix
        if "\0" in path:
            raise ValueError(f"Invalid bind address format: {spec}")
        return Host("unix", path, path=path)
    if addr.startswith("fd://"):
        which = addr[len("fd://") :] or "*"
        if which != "*" and not (which.isascii() and which.isdigit()):
            raise ValueError(f"Invalid bind address format: {spec} (expected fd://, fd://* or fd://NUMBER)")
        return Host("fd", which if which == "*" else str(int(which)))
    if addr.startswith("tcp://"):
        rest = addr[len("tcp://") :]
    elif "://" in addr:
        raise ValueError(f"Invalid bind address protocol: {spec}")
    else:
        rest = addr
    host, port = _split_host_port(rest, spec, default_tcp_host, default_port)
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return Host("tcp", address, host=host, port=port)


def _split_host_port(rest: str, spec: str, default_host: str, default_port: int) -> tuple[str, int]:
    if not rest or any(c in _FORBIDDEN for c in rest):
        raise ValueError(f"Invalid bind address format: {spec}")
    if rest.startswith("["):
        end = rest.find("]")
        host, tail = rest[1:end], rest[end + 1 :]
        # Brackets are only for IPv6 literals, which always contain a colon.
        if end < 0 or ":" not in host:
            raise ValueError(f"Invalid bind address format: {spec}")
        if not tail:
            return host, default_port
        if not tail.startswith(":"):
            raise ValueError(f"Invalid bind address format: {spec}")
        return host, _parse_port(tail[1:], spec)
    if "]" in rest or rest.count(":") > 1:
        # An unbracketed IPv6 literal is ambiguous (which colon starts the port?), as in Docker.
        raise ValueError(f"Invalid bind address format: {spec} (put IPv6 addresses in brackets: [::1]:4243)")
    host, colon, port = rest.partition(":")
    return host or default_host, _parse_port(port, spec) if colon else default_port


def _parse_port(text: str, spec: str) -> int:
    # Docker 0.9 silently fell back to the default port on a bad number; an error is kinder than a
    # daemon listening somewhere the user did not ask for.
    if not (text.isascii() and text.isdigit()) or not 0 < int(text) < 65536:
        raise ValueError(f"Invalid bind address format: {spec} (port must be a number from 1 to 65535)")
    return int(text)
