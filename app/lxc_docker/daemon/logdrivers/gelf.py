"""The gelf driver: each line a GELF 1.1 message (JSON) in UDP datagrams to `gelf-address`, compressed
with gzip (default), zlib or not at all, and split into GELF chunks when larger than one datagram
should be, with Docker's extra fields (_container_id, _container_name, _image_id, _image_name,
_command, _tag, _created, plus `labels`/`env`).
"""

from __future__ import annotations

import gzip
import json
import os
import socket
import zlib

from ...runconfig import logopts
from .base import AsyncSender, LogInfo

LEVEL = {"stdout": 6, "stderr": 3}
CHUNK_SIZE = 1420  # go-gelf's: fits an Ethernet frame with IP and UDP headers
CHUNK_MAGIC = b"\x1e\x0f"
MAX_CHUNKS = 128  # GELF's limit


def compress(data: bytes, kind: str, level: int) -> bytes:
    if kind == "gzip":
        return gzip.compress(data, compresslevel=6 if level < 0 else level, mtime=0)
    if kind == "zlib":
        return zlib.compress(data, level)
    return data


def chunks(payload: bytes, message_id: bytes) -> list[bytes]:
    """GELF chunking: magic, 8-byte message id, sequence number, count, then a slice of the payload."""
    if len(payload) <= CHUNK_SIZE:
        return [payload]
    size = CHUNK_SIZE - 12
    parts = [payload[i : i + size] for i in range(0, len(payload), size)]
    if len(parts) > MAX_CHUNKS:
        raise OSError(f"gelf: message too large ({len(payload)} bytes compressed)")
    return [CHUNK_MAGIC + message_id + bytes([n, len(parts)]) + part for n, part in enumerate(parts)]


class GelfDriver:
    name = "gelf"

    def __init__(self, info: LogInfo) -> None:
        config = info.config
        self.address = logopts.gelf_address(config.get("gelf-address", ""))
        self.compression, self.level = logopts.gelf_compression(config)
        self.hostname = socket.gethostname()
        fields = {
            "_container_id": info.container_id,
            "_container_name": info.short_name,
            "_image_id": info.image_id,
            "_image_name": info.image_name,
            "_command": info.command,
            "_tag": info.tag("{{.ID}}"),
            "_created": info.created,
        }
        for key, value in info.extra().items():
            fields["_" + key] = value
        self._fields = fields
        family = socket.AF_INET6 if ":" in self.address.host else socket.AF_INET
        self._sock = socket.socket(family, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        # Fails the start on a name that does not resolve, as Docker's dial does.
        self._sock.connect((self.address.host, self.address.port))
        self._sender = AsyncSender(f"gelf {info.container_id[:12]}", self._send, max_retries=1)

    def message(self, stream: str, line: bytes, when_ns: int) -> dict:
        msg = {
            "version": "1.1",
            "host": self.hostname,
            "short_message": line.decode("utf-8", "replace"),
            "timestamp": round(when_ns / 1e9, 6),
            "level": LEVEL.get(stream, 6),
        }
        msg.update(self._fields)
        return msg

    def log(self, stream: str, line: bytes, when_ns: int, partial: bool = False) -> None:
        data = json.dumps(self.message(stream, line, when_ns), separators=(",", ":")).encode()
        self._sender.put(compress(data, self.compression, self.level))

    def _send(self, payload: bytes) -> None:
        for datagram in chunks(payload, os.urandom(8)):
            self._sock.send(datagram)

    def close(self) -> None:
        self._sender.close()
        self._sock.close()
