"""Hands out container addresses from the bridge subnet, each to one owner at a time.

Nothing is persisted here: the daemon stores every container's NetworkSettings and, after a restart,
`reserve()`s the addresses of the containers still running before anything new is allocated.
"""

from __future__ import annotations

import ipaddress
import threading

from ..errors import Conflict, SystemError_


class IPAllocator:
    """Sequential allocation over one IPv4 network, skipping network, broadcast and gateway addresses.

    Allocation moves forward from the last address handed out and wraps around, so an address that
    was just released is the last to be reused: a container started right after another stopped
    does not inherit its address while peers may still hold it in their ARP caches.
    """

    def __init__(self, network: ipaddress.IPv4Network | str, gateway: ipaddress.IPv4Address | str) -> None:
        self.network = ipaddress.IPv4Network(network, strict=False)
        self.gateway = ipaddress.IPv4Address(gateway)
        if self.network.prefixlen > 30:
            raise SystemError_(f"network {self.network} is too small for containers (at most /30)")
        self._base = int(self.network.network_address)
        self._size = self.network.num_addresses
        self._owners: dict[int, str] = {}
        # Offset of the last address handed out; Docker's first container got .0.2, so start after .0.1.
        self._cursor = 1
        self._lock = threading.Lock()

    def _offset(self, ip: ipaddress.IPv4Address | str) -> int:
        address = ipaddress.IPv4Address(ip)
        if address not in self.network:
            raise Conflict(f"IP {address} is not in network {self.network}")
        return int(address) - self._base

    def _usable(self, offset: int) -> bool:
        return 0 < offset < self._size - 1 and offset != int(self.gateway) - self._base

    def allocate(self, owner: str) -> ipaddress.IPv4Address:
        """Reserve the next free address for `owner`."""
        with self._lock:
            usable = self._size - 2
            for step in range(1, usable + 1):
                offset = (self._cursor - 1 + step) % usable + 1
                if offset in self._owners or not self._usable(offset):
                    continue
                self._owners[offset] = owner
                self._cursor = offset
                return ipaddress.IPv4Address(self._base + offset)
        raise SystemError_(f"no available IP addresses on network {self.network}")

    def reserve(self, ip: ipaddress.IPv4Address | str, owner: str) -> None:
        """Mark `ip` as held by `owner` (restore after a restart); idempotent for the same owner."""
        offset = self._offset(ip)
        if not self._usable(offset):
            raise Conflict(f"IP {ip} cannot be given to a container in network {self.network}")
        with self._lock:
            holder = self._owners.get(offset)
            if holder is not None and holder != owner:
                raise Conflict(f"IP {ip} is already allocated")
            self._owners[offset] = owner

    def release(self, ip: ipaddress.IPv4Address | str, owner: str | None = None) -> bool:
        """Free `ip`; with `owner`, only if that owner holds it. Returns whether it was freed."""
        try:
            offset = self._offset(ip)
        except (Conflict, ValueError):
            return False
        with self._lock:
            holder = self._owners.get(offset)
            if holder is None or (owner is not None and holder != owner):
                return False
            del self._owners[offset]
            return True

    def owner(self, ip: ipaddress.IPv4Address | str) -> str | None:
        try:
            offset = self._offset(ip)
        except (Conflict, ValueError):
            return None
        with self._lock:
            return self._owners.get(offset)

    def allocated(self) -> dict[str, str]:
        """Every held address → its owner (for tests and `info`)."""
        with self._lock:
            return {str(ipaddress.IPv4Address(self._base + o)): who for o, who in self._owners.items()}
