"""The embedded DNS server of user-defined networks: 127.0.0.11:53 inside each container.

Design: for each container on a user-defined network the daemon creates a UDP socket *inside the
container's network namespace* (socket(2) on a short-lived thread that setns()ed there, see
netns.run_in_netns) and binds it to 127.0.0.11:53 on the container's own loopback; a socket stays
in the namespace it was created in, so one selector thread of the daemon serves every container
without any DNAT rule, and knows which container asked from the socket the query came in on.

Only A and AAAA queries for names the daemon knows (containers and aliases on the networks the asking
container shares) are answered, AAAA with the addresses on IPv6 networks; another type for such a
name gets an empty answer, anything else NXDOMAIN
and any other opcode or class REFUSED. Nothing is forwarded. The query parser is strict and bounded:
at most 512 bytes, one question, no compression pointers, labels of at most 63 bytes, 255 in all.
"""

from __future__ import annotations

import logging
import os
import selectors
import socket
import struct
import threading
from collections.abc import Callable

from .netns import run_in_netns

log = logging.getLogger(__name__)

ADDRESS = "127.0.0.11"
PORT = 53
MAX_QUERY = 512
TTL = 600
TYPE_A, TYPE_AAAA, CLASS_IN = 1, 28, 1
NOERROR, FORMERR, NXDOMAIN, REFUSED = 0, 1, 3, 5

# (container id, name) -> its IPv4 and IPv6 addresses, None: unknown
Lookup = Callable[[str, str], "list[str] | None"]


class Query:
    __slots__ = ("ident", "flags", "name", "qtype", "qclass", "question")

    def __init__(self, ident: int, flags: int, name: str, qtype: int, qclass: int, question: bytes) -> None:
        self.ident, self.flags, self.name = ident, flags, name
        self.qtype, self.qclass, self.question = qtype, qclass, question


def parse_query(data: bytes) -> Query | None:
    """One standard query, or None for anything this server will not even answer (not a query,
    truncated, oversized, several questions, compression)."""
    if len(data) < 12 or len(data) > MAX_QUERY:
        return None
    ident, flags, qdcount, ancount, nscount, _arcount = struct.unpack("!6H", data[:12])
    if flags & 0x8000 or qdcount != 1 or ancount or nscount:
        return None
    pos, labels, total = 12, [], 0
    while True:
        if pos >= len(data):
            return None
        length = data[pos]
        pos += 1
        if length == 0:
            break
        if length > 63 or pos + length > len(data):
            return None  # includes 0xC0 compression pointers, which a question never needs
        total += length + 1
        if total > 255:
            return None
        label = data[pos : pos + length]
        pos += length
        try:
            labels.append(label.decode("ascii").lower())
        except UnicodeDecodeError:
            return None
    if pos + 4 > len(data):
        return None
    qtype, qclass = struct.unpack("!HH", data[pos : pos + 4])
    return Query(ident, flags, ".".join(labels), qtype, qclass, data[12 : pos + 4])


def build_response(q: Query, rcode: int, addresses: list[str]) -> bytes:
    # QR, the query's opcode and RD, RA (we answer for what we know), the rcode.
    flags = 0x8000 | (q.flags & 0x7900) | 0x0080 | rcode
    answers = b""
    for address in addresses:
        if ":" in address:
            packed, rtype = socket.inet_pton(socket.AF_INET6, address), TYPE_AAAA
        else:
            packed, rtype = socket.inet_aton(address), TYPE_A
        answers += struct.pack("!HHHIH", 0xC00C, rtype, CLASS_IN, TTL, len(packed)) + packed
    return struct.pack("!6H", q.ident, flags, 1, len(addresses), 0, 0) + q.question + answers


def answer(q: Query, lookup: Callable[[str], list[str] | None]) -> bytes:
    opcode = (q.flags >> 11) & 0xF
    if opcode != 0 or q.qclass != CLASS_IN:
        return build_response(q, REFUSED, [])
    found = lookup(q.name.rstrip(".")) if q.name else None
    if found is None:
        return build_response(q, NXDOMAIN, [])
    if q.qtype == TYPE_A:
        return build_response(q, NOERROR, [a for a in found if ":" not in a])
    if q.qtype == TYPE_AAAA:
        return build_response(q, NOERROR, [a for a in found if ":" in a])
    return build_response(q, NOERROR, [])


def _bind() -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC | socket.SOCK_NONBLOCK)
    try:
        s.bind((ADDRESS, PORT))
    except BaseException:
        s.close()
        raise
    return s


class Resolver:
    """One thread answering on the 127.0.0.11 sockets of every container that has one."""

    def __init__(self, lookup: Lookup) -> None:
        self.lookup = lookup
        self._sel = selectors.DefaultSelector()
        self._socks: dict[str, socket.socket] = {}
        self._lock = threading.Lock()
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._sel.register(self._wake_r, selectors.EVENT_READ, None)
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name="dns", daemon=True)
        self._thread.start()

    def serve(self, container_id: str, pid: int) -> None:
        """Listen in the namespace of process `pid` for `container_id` (again: the old socket goes)."""
        sock = run_in_netns(pid, _bind)
        self.stop(container_id)
        with self._lock:
            if self._closed:
                sock.close()
                return
            self._socks[container_id] = sock
            self._sel.register(sock, selectors.EVENT_READ, container_id)
        os.write(self._wake_w, b"x")

    def serving(self, container_id: str) -> bool:
        with self._lock:
            return container_id in self._socks

    def stop(self, container_id: str) -> None:
        # Closing matters: an open socket keeps the container's network namespace alive.
        with self._lock:
            sock = self._socks.pop(container_id, None)
            if sock is not None:
                self._sel.unregister(sock)
        if sock is not None:
            sock.close()
            os.write(self._wake_w, b"x")

    def close(self) -> None:
        with self._lock:
            self._closed = True
            ids = list(self._socks)
        for cid in ids:
            self.stop(cid)
        os.write(self._wake_w, b"x")
        self._thread.join(5)
        if not self._thread.is_alive():
            os.close(self._wake_r)
            os.close(self._wake_w)

    def _loop(self) -> None:
        while True:
            with self._lock:
                if self._closed and not self._socks:
                    break
            for key, _ in self._sel.select():
                if key.data is None:
                    try:
                        os.read(self._wake_r, 512)
                    except BlockingIOError:
                        pass
                    continue
                self._handle(key.fileobj, key.data)  # type: ignore[arg-type]
        self._sel.close()

    def _handle(self, sock: socket.socket, container_id: str) -> None:
        for _ in range(64):  # bounded per wake-up, so one busy container cannot starve the others
            try:
                data, peer = sock.recvfrom(MAX_QUERY + 1)
            except (BlockingIOError, OSError):
                return
            q = parse_query(data)
            if q is None:
                continue
            try:
                reply = answer(q, lambda name: self.lookup(container_id, name))
            except Exception:
                log.exception("dns lookup for %s", container_id[:12])
                reply = build_response(q, 2, [])  # SERVFAIL
            try:
                sock.sendto(reply, peer)
            except OSError:
                pass
