"""Bookkeeping of host ports per protocol and host IP: explicit requests and dynamic ones (49153-65535).

It only tracks who holds what; whether the kernel agrees is found out when the proxy binds the port.
"""

from __future__ import annotations

import threading

from ..errors import Conflict, SystemError_

DYNAMIC_START = 49153
DYNAMIC_END = 65535
ANY_IP = "0.0.0.0"


class PortAlreadyAllocated(Conflict):
    """A host port asked for explicitly is held by another mapping or by another program."""

    def __init__(self, host_ip: str, port: int, reason: str = "port is already allocated") -> None:
        super().__init__(f"Bind for {host_ip}:{port} failed: {reason}")
        self.host_ip = host_ip
        self.port = port


class PortAllocator:
    """Who holds each (protocol, host IP, port).

    A port held on 0.0.0.0 conflicts with the same port on every address (and the reverse), because
    that is what bind(2) will say; two specific addresses do not conflict with each other.
    """

    def __init__(self, start: int = DYNAMIC_START, end: int = DYNAMIC_END) -> None:
        self.start, self.end = start, end
        self._held: dict[tuple[str, int], dict[str, str]] = {}
        # Dynamic ports move forward and wrap, so a port freed a moment ago is not handed out again
        # while a client may still be talking to the old mapping.
        self._cursor: dict[str, int] = {}
        self._lock = threading.Lock()

    def _conflicts(self, proto: str, host_ip: str, port: int) -> bool:
        holders = self._held.get((proto, port))
        if not holders:
            return False
        return host_ip == ANY_IP or ANY_IP in holders or host_ip in holders

    def request(self, proto: str, host_ip: str, port: int, owner: str) -> int:
        """Hold `port` (or, when 0, the next free dynamic port) for `owner`; returns the port."""
        with self._lock:
            if port:
                if self._held.get((proto, port), {}).get(host_ip) == owner:
                    return port
                if self._conflicts(proto, host_ip, port):
                    raise PortAlreadyAllocated(host_ip, port)
                self._held.setdefault((proto, port), {})[host_ip] = owner
                return port
            span = self.end - self.start + 1
            last = self._cursor.get(proto, self.end)
            for step in range(1, span + 1):
                candidate = self.start + (last - self.start + step) % span
                if not self._conflicts(proto, host_ip, candidate):
                    self._held.setdefault((proto, candidate), {})[host_ip] = owner
                    self._cursor[proto] = candidate
                    return candidate
        raise SystemError_(f"all {proto} ports from {self.start} to {self.end} are allocated on {host_ip}")

    def release(self, proto: str, host_ip: str, port: int, owner: str | None = None) -> bool:
        """Free the port; with `owner`, only if that owner holds it. Returns whether it was freed."""
        with self._lock:
            holders = self._held.get((proto, port))
            if not holders or host_ip not in holders:
                return False
            if owner is not None and holders[host_ip] != owner:
                return False
            del holders[host_ip]
            if not holders:
                del self._held[(proto, port)]
            return True

    def allocated(self) -> list[tuple[str, str, int, str]]:
        """Every held (proto, host IP, port, owner), for tests and diagnostics."""
        with self._lock:
            return sorted(
                (proto, ip, port, who)
                for (proto, port), holders in self._held.items()
                for ip, who in holders.items()
            )
