"""A small rtnetlink client for the daemon's start: routes, addresses and links, and the bridge.

The start of `docker -d` needs a handful of requests (does the bridge exist, its address, the default
route's MTU; at a first boot: create the bridge, address it, bring it up). pyroute2 answers them too,
but importing it loads its whole library (~150 modules, ~0.1 s natively, 2 s and more in an emulated
boot2docker VM), so these requests are made here with one AF_NETLINK socket and struct, and pyroute2
is loaded at the first container start (veth pairs, namespaces). Every call opens its own socket:
request threads call in concurrently, and a socket costs a few microseconds.

Message layouts are the kernel's (include/uapi/linux/{netlink,rtnetlink,if_link,if_addr}.h).
"""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
import struct
from collections.abc import Iterator
from typing import NamedTuple

NETLINK_ROUTE = 0

NLMSG_ERROR, NLMSG_DONE = 2, 3
NLM_F_REQUEST, NLM_F_MULTI, NLM_F_ACK = 0x1, 0x2, 0x4
NLM_F_DUMP = 0x300
NLM_F_EXCL, NLM_F_CREATE = 0x200, 0x400

RTM_NEWLINK, RTM_DELLINK, RTM_GETLINK = 16, 17, 18
RTM_NEWADDR, RTM_GETADDR = 20, 22
RTM_GETROUTE = 26

IFLA_ADDRESS, IFLA_IFNAME, IFLA_MTU, IFLA_LINKINFO = 1, 3, 4, 18
IFLA_INFO_KIND = 1
IFA_ADDRESS, IFA_LOCAL = 1, 2
RTA_DST, RTA_OIF, RTA_TABLE = 1, 4, 15
IFF_UP = 0x1

_NLMSGHDR = struct.Struct("=IHHII")  # len, type, flags, seq, pid
_IFINFOMSG = struct.Struct("=BxHiII")  # family, (pad), type, index, flags, change
_IFADDRMSG = struct.Struct("=BBBBI")  # family, prefixlen, flags, scope, index
_RTMSG = struct.Struct("=BBBBBBBBI")  # family, dst_len, src_len, tos, table, protocol, scope, type, flags
_RTATTR = struct.Struct("=HH")  # len, type


def _align(n: int) -> int:
    return (n + 3) & ~3


def attr(kind: int, data: bytes) -> bytes:
    """One attribute (rtattr), padded to 4 bytes."""
    raw = _RTATTR.pack(_RTATTR.size + len(data), kind) + data
    return raw + b"\0" * (_align(len(raw)) - len(raw))


def parse_attrs(data: bytes) -> dict[int, bytes]:
    """The attributes of a message body after its fixed header (the first of each type)."""
    found: dict[int, bytes] = {}
    at = 0
    while at + _RTATTR.size <= len(data):
        length, kind = _RTATTR.unpack_from(data, at)
        if length < _RTATTR.size or at + length > len(data):
            break
        found.setdefault(kind & 0x3FFF, data[at + _RTATTR.size : at + length])  # without NLA_F_ flags
        at += _align(length)
    return found


class Rtnl:
    """One NETLINK_ROUTE socket: requests, acknowledged or dumped."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, NETLINK_ROUTE)
        self.sock.bind((0, 0))
        self.seq = 0

    def __enter__(self) -> Rtnl:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.sock.close()

    def _send(self, kind: int, flags: int, body: bytes) -> int:
        self.seq += 1
        self.sock.send(_NLMSGHDR.pack(_NLMSGHDR.size + len(body), kind, flags, self.seq, 0) + body)
        return self.seq

    def _replies(self, seq: int) -> Iterator[tuple[int, int, bytes]]:
        """(type, flags, body) of each reply to `seq`, up to its end; an error reply raises OSError."""
        while True:
            data = self.sock.recv(1 << 16)
            at = 0
            while at + _NLMSGHDR.size <= len(data):
                length, kind, flags, msg_seq, _ = _NLMSGHDR.unpack_from(data, at)
                if length < _NLMSGHDR.size:
                    raise OSError(errno.EPROTO, "malformed netlink message")
                body = data[at + _NLMSGHDR.size : at + length]
                at += _align(length)
                if msg_seq != seq:
                    continue  # a late answer to an earlier request of this socket
                if kind == NLMSG_ERROR:
                    code = -struct.unpack_from("=i", body)[0]
                    if code:
                        raise OSError(code, os.strerror(code))
                    return  # the acknowledgement
                if kind == NLMSG_DONE:
                    return
                yield kind, flags, body
                if not flags & NLM_F_MULTI:
                    return

    def dump(self, kind: int, body: bytes) -> list[tuple[int, bytes]]:
        """Every object a GET request with NLM_F_DUMP lists: (message type, body)."""
        seq = self._send(kind, NLM_F_REQUEST | NLM_F_DUMP, body)
        return [(t, b) for t, _, b in self._replies(seq)]

    def get(self, kind: int, body: bytes) -> bytes:
        """The one object a GET request names."""
        seq = self._send(kind, NLM_F_REQUEST, body)
        for _, _, reply in self._replies(seq):
            return reply
        raise OSError(errno.ENOENT, "no answer")

    def change(self, kind: int, body: bytes, flags: int = 0) -> None:
        """A NEW/DEL request, waited for until the kernel acknowledges it (or raises its errno)."""
        seq = self._send(kind, NLM_F_REQUEST | NLM_F_ACK | flags, body)
        for _ in self._replies(seq):
            pass


# NamedTuples, not dataclasses: a dataclass costs ~0.7 ms to define (it compiles its methods), 20 ms
# and more at the start of a daemon in an emulated VM.
class Route(NamedTuple):
    table: int
    dst_len: int
    dst: str | None
    oif: int | None


class Address(NamedTuple):
    index: int
    prefixlen: int
    address: str | None  # IFA_ADDRESS: the peer's on point-to-point links, else the same as local
    local: str | None  # IFA_LOCAL


def routes(family: int = socket.AF_INET) -> list[Route]:
    found = []
    with Rtnl() as nl:
        for _, body in nl.dump(RTM_GETROUTE, _RTMSG.pack(family, 0, 0, 0, 0, 0, 0, 0, 0)):
            _, dst_len, _, _, table, _, _, _, _ = _RTMSG.unpack_from(body)
            attrs = parse_attrs(body[_RTMSG.size :])
            if RTA_TABLE in attrs:  # tables above 255 are only there
                table = struct.unpack("=I", attrs[RTA_TABLE][:4])[0]
            dst = socket.inet_ntop(family, attrs[RTA_DST]) if RTA_DST in attrs else None
            oif = struct.unpack("=I", attrs[RTA_OIF][:4])[0] if RTA_OIF in attrs else None
            found.append(Route(table, dst_len, dst, oif))
    return found


def addresses(family: int = socket.AF_INET, index: int = 0) -> list[Address]:
    """The addresses of `family` on interface `index` (every interface with 0)."""
    found = []
    with Rtnl() as nl:
        for _, body in nl.dump(RTM_GETADDR, _IFADDRMSG.pack(family, 0, 0, 0, 0)):
            fam, prefixlen, _, _, ifindex = _IFADDRMSG.unpack_from(body)
            if fam != family or (index and ifindex != index):
                continue
            attrs = parse_attrs(body[_IFADDRMSG.size :])
            address, local = (
                socket.inet_ntop(family, attrs[k]) if k in attrs else None for k in (IFA_ADDRESS, IFA_LOCAL)
            )
            found.append(Address(ifindex, prefixlen, address, local))
    return found


def link_index(name: str) -> int | None:
    try:
        return socket.if_nametoindex(name)
    except OSError:
        return None


def link_mtu(index: int) -> int | None:
    with Rtnl() as nl:
        try:
            body = nl.get(RTM_GETLINK, _IFINFOMSG.pack(socket.AF_UNSPEC, 0, index, 0, 0))
        except OSError as e:
            if e.errno == errno.ENODEV:
                return None
            raise
    attrs = parse_attrs(body[_IFINFOMSG.size :])
    return struct.unpack("=I", attrs[IFLA_MTU][:4])[0] if IFLA_MTU in attrs else None


def _mac(text: str) -> bytes:
    return bytes(int(part, 16) for part in text.split(":"))


def create_bridge(name: str, mac: str, mtu: int = 0) -> int:
    """A new bridge `name` with address `mac` (down); returns its index. EEXIST when there is one."""
    attrs = attr(IFLA_IFNAME, name.encode() + b"\0") + attr(IFLA_ADDRESS, _mac(mac))
    if mtu:
        attrs += attr(IFLA_MTU, struct.pack("=I", mtu))
    attrs += attr(IFLA_LINKINFO, attr(IFLA_INFO_KIND, b"bridge"))
    body = _IFINFOMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0) + attrs
    with Rtnl() as nl:
        nl.change(RTM_NEWLINK, body, NLM_F_CREATE | NLM_F_EXCL)
    index = link_index(name)
    if index is None:
        raise OSError(errno.ENODEV, f"bridge {name} vanished as it was created")
    return index


def set_link(index: int, *, mtu: int = 0, up: bool | None = None) -> None:
    """Set the MTU of interface `index` and/or bring it up or down."""
    flags = IFF_UP if up else 0
    change = IFF_UP if up is not None else 0
    attrs = attr(IFLA_MTU, struct.pack("=I", mtu)) if mtu else b""
    with Rtnl() as nl:
        nl.change(RTM_NEWLINK, _IFINFOMSG.pack(socket.AF_UNSPEC, 0, index, flags, change) + attrs)


def add_address(index: int, iface: ipaddress.IPv4Interface | ipaddress.IPv6Interface) -> None:
    """Add `iface` (address/prefix) to interface `index`; EEXIST when it is there already."""
    family = socket.AF_INET if iface.version == 4 else socket.AF_INET6
    raw = iface.ip.packed
    body = _IFADDRMSG.pack(family, iface.network.prefixlen, 0, 0, index)
    body += attr(IFA_LOCAL, raw) + attr(IFA_ADDRESS, raw)
    with Rtnl() as nl:
        nl.change(RTM_NEWADDR, body, NLM_F_CREATE | NLM_F_EXCL)


def delete_link(index: int) -> None:
    with Rtnl() as nl:
        nl.change(RTM_DELLINK, _IFINFOMSG.pack(socket.AF_UNSPEC, 0, index, 0, 0))
