"""The journald driver: each line a journal entry sent over the journal's native protocol (datagrams
to /run/systemd/journal/socket), with Docker's fields MESSAGE, PRIORITY (6 stdout, 3 stderr),
CONTAINER_ID, CONTAINER_ID_FULL, CONTAINER_NAME, CONTAINER_TAG, plus the `labels`/`env` it names.

Docker has no option for the socket's path; `LXC_DOCKER_JOURNALD_SOCKET` moves it, for the tests
only (they bind a socket of their own rather than write into the host's journal).
"""

from __future__ import annotations

import array
import os
import re
import socket
import struct

from .base import AsyncSender, LogInfo

SOCKET = "/run/systemd/journal/socket"
PRIORITY = {"stdout": b"6", "stderr": b"3"}
_FIELD = re.compile(r"[^A-Z0-9_]")


def socket_path() -> str:
    return os.environ.get("LXC_DOCKER_JOURNALD_SOCKET") or SOCKET


def field_name(key: str) -> str:
    """Journal field names are upper case letters, digits and underscores, not starting with one
    (Docker's journald driver maps label and env names the same way)."""
    name = _FIELD.sub("_", key.upper()).lstrip("_")
    return name or "_"


def encode(fields: list[tuple[str, bytes]]) -> bytes:
    """The native protocol: `KEY=value\\n`, or `KEY\\n` + 64-bit LE length + value + `\\n` when the
    value holds a newline."""
    out = bytearray()
    for key, value in fields:
        k = key.encode()
        if b"\n" in value:
            out += k + b"\n" + struct.pack("<Q", len(value)) + value + b"\n"
        else:
            out += k + b"=" + value + b"\n"
    return bytes(out)


class JournaldDriver:
    name = "journald"

    def __init__(self, info: LogInfo) -> None:
        self.path = socket_path()
        if not os.path.exists(self.path):
            raise OSError("journald is not enabled on this host")
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8 << 20)
        self._vars = [
            ("CONTAINER_ID", info.container_id[:12].encode()),
            ("CONTAINER_ID_FULL", info.container_id.encode()),
            ("CONTAINER_NAME", info.short_name.encode()),
            ("CONTAINER_TAG", info.tag("{{.ID}}").encode()),
        ] + [(field_name(k), v.encode()) for k, v in sorted(info.extra().items())]
        self._sender = AsyncSender(f"journald {info.container_id[:12]}", self._send, max_retries=1)

    def log(self, stream: str, line: bytes, when_ns: int, partial: bool = False) -> None:
        fields = [("MESSAGE", line), ("PRIORITY", PRIORITY.get(stream, b"6")), *self._vars]
        self._sender.put(encode(fields))

    def _send(self, payload: bytes) -> None:
        try:
            self._sock.sendto(payload, self.path)
        except OSError as e:
            if e.errno not in (90, 105):  # EMSGSIZE, ENOBUFS: too big for a datagram
                raise
            self._send_memfd(payload)

    def _send_memfd(self, payload: bytes) -> None:
        # As sd_journal_send: a large entry goes in a sealed memfd whose descriptor is sent alone.
        fd = os.memfd_create("journal-entry", os.MFD_CLOEXEC | getattr(os, "MFD_ALLOW_SEALING", 2))
        try:
            os.write(fd, payload)
            try:
                import fcntl

                seals = 0x1 | 0x2 | 0x4 | 0x8  # F_SEAL_SEAL | SHRINK | GROW | WRITE
                fcntl.fcntl(fd, 1033, seals)  # F_ADD_SEALS
            except OSError:
                pass
            rights = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [fd]))]
            self._sock.sendmsg([], rights, 0, self.path)
        finally:
            os.close(fd)

    def close(self) -> None:
        self._sender.close()
        self._sock.close()
