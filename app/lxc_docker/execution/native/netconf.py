"""Network set-up from inside the container's network namespace, with ioctls on a socket: no `ip`
binary is needed in the image, and no netlink library on the init's start-up path.

`loopback_up()` runs for every container. `configure(network)` is the hook for a container with a
network: the daemon has moved the host-side veth end into the namespace under its host name; this
renames it eth0 and gives it its MAC, MTU, IPv4 address and default route. A networking layer that
prefers to do this from the host side (setns + netlink) can pass a Network with an empty
`interface`, and the init then leaves eth0 alone.
"""

from __future__ import annotations

import _socket
import ctypes
import fcntl
import sys

_AF_INET = 2
_SOCK_DGRAM = 2
_ARPHRD_ETHER = 1
_IFF_UP = 0x1
_IFNAMSIZ = 16
_IFREQ_SIZE = 40  # struct ifreq: the name, then a 24-byte union

SIOCADDRT = 0x890B
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
SIOCSIFADDR = 0x8916
SIOCSIFBRDADDR = 0x891A
SIOCSIFNETMASK = 0x891C
SIOCSIFMTU = 0x8922
SIOCSIFNAME = 0x8923
SIOCSIFHWADDR = 0x8924

_RTF_UP = 0x1
_RTF_GATEWAY = 0x2


class _SockaddrIn(ctypes.Structure):
    _fields_ = [("family", ctypes.c_ushort), ("port", ctypes.c_ushort), ("addr", ctypes.c_char * 4),
                ("zero", ctypes.c_char * 8)]  # fmt: skip


class _RtEntry(ctypes.Structure):  # struct rtentry, <linux/route.h>
    _fields_ = [
        ("pad1", ctypes.c_ulong),
        ("dst", _SockaddrIn),
        ("gateway", _SockaddrIn),
        ("genmask", _SockaddrIn),
        ("flags", ctypes.c_ushort),
        ("pad2", ctypes.c_short),
        ("pad3", ctypes.c_ulong),
        ("pad4", ctypes.c_void_p),
        ("metric", ctypes.c_short),
        ("dev", ctypes.c_char_p),
        ("mtu", ctypes.c_ulong),
        ("window", ctypes.c_ulong),
        ("irtt", ctypes.c_ushort),
    ]


def _ifreq(name: str, payload: bytes = b"") -> bytes:
    return name.encode().ljust(_IFNAMSIZ, b"\0")[:_IFNAMSIZ] + payload.ljust(_IFREQ_SIZE - _IFNAMSIZ, b"\0")


def _sockaddr_in(address: str) -> bytes:
    return bytes(_SockaddrIn(_AF_INET, 0, _socket.inet_aton(address)))


def _set_up(fd: int, name: str) -> None:
    flags = int.from_bytes(fcntl.ioctl(fd, SIOCGIFFLAGS, _ifreq(name))[16:18], sys.byteorder)
    fcntl.ioctl(fd, SIOCSIFFLAGS, _ifreq(name, (flags | _IFF_UP).to_bytes(2, sys.byteorder)))


def loopback_up() -> None:
    """Bring `lo` up, as Docker does for every container (its namespace starts with lo down)."""
    sock = _socket.socket(_AF_INET, _SOCK_DGRAM)
    try:
        _set_up(sock.fileno(), "lo")
    finally:
        sock.close()


def _prefix_mask(prefix: int) -> str:
    bits = (0xFFFFFFFF << (32 - prefix)) & 0xFFFFFFFF
    return _socket.inet_ntoa(bits.to_bytes(4, "big"))


def configure(network: dict, name: str = "eth0") -> None:
    """Rename the moved-in interface `network["interface"]` to `name` and configure it."""
    sock = _socket.socket(_AF_INET, _SOCK_DGRAM)
    fd = sock.fileno()
    try:
        current = network["interface"]
        if current != name:
            fcntl.ioctl(fd, SIOCSIFNAME, _ifreq(current, name.encode()))
        if network.get("mac"):
            mac = bytes(int(b, 16) for b in network["mac"].split(":"))
            family = _ARPHRD_ETHER.to_bytes(2, sys.byteorder)
            fcntl.ioctl(fd, SIOCSIFHWADDR, _ifreq(name, family + mac))
        if network.get("mtu"):
            fcntl.ioctl(fd, SIOCSIFMTU, _ifreq(name, int(network["mtu"]).to_bytes(4, sys.byteorder)))
        if network.get("address"):
            address, _, prefix = network["address"].partition("/")
            bits = int(prefix or 32)
            fcntl.ioctl(fd, SIOCSIFADDR, _ifreq(name, _sockaddr_in(address)))
            fcntl.ioctl(fd, SIOCSIFNETMASK, _ifreq(name, _sockaddr_in(_prefix_mask(bits))))
            if bits < 31:
                host = int.from_bytes(_socket.inet_aton(address), "big")
                broadcast = _socket.inet_ntoa((host | 0xFFFFFFFF >> bits).to_bytes(4, "big"))
                fcntl.ioctl(fd, SIOCSIFBRDADDR, _ifreq(name, _sockaddr_in(broadcast)))
        _set_up(fd, name)
        if network.get("gateway"):
            route = _RtEntry()
            route.dst = _SockaddrIn(_AF_INET, 0, bytes(4))
            route.genmask = _SockaddrIn(_AF_INET, 0, bytes(4))
            route.gateway = _SockaddrIn(_AF_INET, 0, _socket.inet_aton(network["gateway"]))
            route.flags = _RTF_UP | _RTF_GATEWAY
            fcntl.ioctl(fd, SIOCADDRT, bytes(route))
    finally:
        sock.close()
