"""Hands out IPv6 addresses of a user-defined network's pool, each to one owner at a time.

An IPv6 pool is too large to walk (a /64 has 2**64 addresses), so allocation only looks at the
addresses held: it moves forward from the last one handed out, like the IPv4 allocator, and skips
the subnet's own address (the subnet-router anycast address) and the gateway. Nothing is persisted:
the daemon `reserve()`s the addresses of running containers after a restart, as for IPv4.
"""

from __future__ import annotations

import ipaddress
import threading

from ..errors import Conflict, SystemError_


class IP6Allocator:
    def __init__(
        self, subnet: ipaddress.IPv6Network | str, gateway: ipaddress.IPv6Address | str, pool: str = ""
    ) -> None:
        self.subnet = ipaddress.IPv6Network(subnet)
        self.pool = ipaddress.IPv6Network(pool) if pool else self.subnet
        self.gateway = ipaddress.IPv6Address(gateway)
        self._owners: dict[ipaddress.IPv6Address, str] = {}
        self._last = self.pool.network_address
        self._lock = threading.Lock()

    def _usable(self, address: ipaddress.IPv6Address) -> bool:
        return address in self.pool and address not in (self.subnet.network_address, self.gateway)

    def allocate(self, owner: str) -> ipaddress.IPv6Address:
        """The next free address of the pool after the last one handed out, wrapping around."""
        first, size = int(self.pool.network_address), self.pool.num_addresses
        with self._lock:
            # At most len(owners) + 2 candidates are taken or excluded, so this ends quickly.
            for step in range(1, min(size, len(self._owners) + 3) + 1):
                candidate = ipaddress.IPv6Address(first + (int(self._last) - first + step) % size)
                if candidate in self._owners or not self._usable(candidate):
                    continue
                self._owners[candidate] = owner
                self._last = candidate
                return candidate
        raise SystemError_(f"no available IPv6 addresses on network {self.pool}")

    def reserve(self, ip: ipaddress.IPv6Address | str, owner: str) -> None:
        """Hold `ip` (an address asked for, or restore after a restart); idempotent for one owner."""
        address = ipaddress.IPv6Address(ip)
        if address not in self.subnet or address in (self.subnet.network_address, self.gateway):
            raise Conflict(f"IP {address} cannot be given to a container in network {self.subnet}")
        with self._lock:
            holder = self._owners.get(address)
            if holder is not None and holder != owner:
                raise Conflict(f"IP {address} is already allocated")
            self._owners[address] = owner

    def release(self, ip: ipaddress.IPv6Address | str, owner: str | None = None) -> bool:
        try:
            address = ipaddress.IPv6Address(ip)
        except ValueError:
            return False
        with self._lock:
            holder = self._owners.get(address)
            if holder is None or (owner is not None and holder != owner):
                return False
            del self._owners[address]
            return True

    def allocated(self) -> dict[str, str]:
        with self._lock:
            return {str(a): who for a, who in self._owners.items()}
