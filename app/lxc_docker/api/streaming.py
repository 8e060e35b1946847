"""Helpers the handlers share for writing large bodies into a chunked response."""

from __future__ import annotations

import base64
import json
from typing import Any, Protocol


class Writer(Protocol):
    def write(self, data: bytes) -> int: ...


class Buffered:
    """Coalesces tarfile's 10 KiB writes into large HTTP chunks (one chunk per `size` bytes)."""

    def __init__(self, writer: Writer, size: int = 1 << 20) -> None:
        self._writer = writer
        self._buf = bytearray()
        self._size = size

    def write(self, data: bytes) -> int:
        self._buf += data
        if len(self._buf) >= self._size:
            self.flush()
        return len(data)

    def flush(self) -> None:
        if self._buf:
            self._writer.write(bytes(self._buf))
            self._buf.clear()


def stat_header(st: dict[str, Any]) -> str:
    """The `X-Docker-Container-Path-Stat` value: the path's stat as base64 JSON."""
    return base64.b64encode(json.dumps(st).encode()).decode()


class LazyJSONStream:
    """A JSON progress stream (pull, push) whose headers go out with its first message: a failure
    before any progress is the response's status (what the SDK maps to NotFound and friends), a
    later one an `errorDetail` line, as Docker sends it."""

    def __init__(self, res: Any) -> None:
        self._res = res
        self._writer: Any = None

    @property
    def started(self) -> bool:
        return self._writer is not None

    def write(self, msg: dict[str, Any]) -> None:
        if self._writer is None:
            self._writer = self._res.stream()
        self._writer.write_json(msg)

    def error(self, message: str) -> None:
        self.write({"errorDetail": {"message": message}, "error": message})
