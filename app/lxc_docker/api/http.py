"""Request and response objects the handlers see, over Python's http.server connection.

Handlers never touch the socket protocol: they read the query, the headers and the body (plain,
Content-Length or chunked) from `Request`, and answer through `Response` as one JSON document, a
chunked stream, a raw tar, or a hijacked connection.
"""

from __future__ import annotations

import json
import re
from typing import Any, BinaryIO
from urllib.parse import parse_qs

from .. import ADVERTISED_API_VERSION
from ..errors import InvalidParameter

_HEX_SIZE = re.compile(rb"[0-9a-fA-F]{1,16}")
_TRUE = {"1", "true", "True", "TRUE", "t", "T", "yes"}


class BodyReader:
    """A file-like view of the request body that never reads past it (keep-alive safe)."""

    def __init__(self, rfile: BinaryIO, length: int | None, chunked: bool) -> None:
        self._rfile = rfile
        self._left = length if length is not None else 0
        self._chunked = chunked
        self._chunk_left = 0
        self.done = not chunked and self._left == 0

    def read(self, size: int = -1) -> bytes:
        if self.done:
            return b""
        if size is None or size < 0:
            parts = []
            while True:
                piece = self.read(1 << 20)
                if not piece:
                    return b"".join(parts)
                parts.append(piece)
        if self._chunked:
            return self._read_chunked(size)
        data = self._rfile.read(min(size, self._left))
        if not data:
            raise InvalidParameter("request body ended early")
        self._left -= len(data)
        if self._left == 0:
            self.done = True
        return data

    def _read_chunked(self, size: int) -> bytes:
        if self._chunk_left == 0:
            line = self._rfile.readline(1024)
            if not line:
                raise InvalidParameter("request body ended early")
            digits = line.split(b";", 1)[0].strip()
            # int(x, 16) alone also takes "-5", "+5", "0x5" and "1_0"; a negative size would make
            # the read below swallow the rest of the connection.
            if not _HEX_SIZE.fullmatch(digits):
                raise InvalidParameter("malformed chunked request body")
            self._chunk_left = int(digits, 16)
            if self._chunk_left == 0:
                # Trailers end with an empty line.
                while self._rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass
                self.done = True
                return b""
        data = self._rfile.read(min(size, self._chunk_left))
        if not data:
            raise InvalidParameter("request body ended early")
        self._chunk_left -= len(data)
        if self._chunk_left == 0:
            self._rfile.readline(16)
        return data

    def readinto(self, buf: Any) -> int:
        data = self.read(len(buf))
        buf[: len(data)] = data
        return len(data)

    def readable(self) -> bool:
        return True

    def drain(self) -> None:
        while not self.done and self.read(1 << 16):
            pass


class Request:
    def __init__(
        self, method: str, path: str, query: str, headers: Any, body: BodyReader, version: tuple[int, int]
    ) -> None:
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body
        self.version = version
        self.params: dict[str, str] = {}
        self._query = parse_qs(query, keep_blank_values=True)

    def q(self, name: str, default: str = "") -> str:
        values = self._query.get(name)
        return values[-1] if values else default

    def q_all(self, name: str) -> list[str]:
        return self._query.get(name, [])

    def has(self, name: str) -> bool:
        return name in self._query

    def q_bool(self, name: str, default: bool = False) -> bool:
        values = self._query.get(name)
        if not values:
            return default
        return values[-1] in _TRUE

    def q_int(self, name: str, default: int = 0) -> int:
        value = self.q(name)
        if value == "":
            return default
        try:
            return int(value)
        except ValueError:
            raise InvalidParameter(f"invalid value for {name}: {value!r}")

    def q_json(self, name: str) -> Any:
        value = self.q(name)
        if not value:
            return None
        try:
            return json.loads(value)
        except ValueError:
            raise InvalidParameter(f"invalid JSON in {name}: {value!r}")

    def json(self, required: bool = False) -> Any:
        raw = self.body.read()
        if not raw.strip():
            if required:
                raise InvalidParameter("a JSON body is required")
            return None
        try:
            return json.loads(raw)
        except ValueError as e:
            raise InvalidParameter(f"invalid JSON body: {e}")

    def at_least(self, major: int, minor: int) -> bool:
        return self.version >= (major, minor)


class ChunkedWriter:
    """Writes an HTTP chunked body; each write is flushed at once so streams are live."""

    def __init__(self, wfile: BinaryIO) -> None:
        self._wfile = wfile
        self.closed = False

    def write(self, data: bytes) -> int:
        if data:
            self._wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self._wfile.flush()
        return len(data)

    def write_json(self, obj: Any) -> None:
        self.write(json.dumps(obj).encode() + b"\r\n")

    def flush(self) -> None:
        pass

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._wfile.write(b"0\r\n\r\n")
            self._wfile.flush()


def common_headers(cors: bool) -> list[tuple[str, str]]:
    headers = [
        ("Api-Version", ADVERTISED_API_VERSION),
        ("Ostype", "linux"),
        ("Docker-Experimental", "false"),
    ]
    if cors:
        headers += [
            ("Access-Control-Allow-Origin", "*"),
            (
                "Access-Control-Allow-Headers",
                "Origin, X-Requested-With, Content-Type, Accept, X-Registry-Auth",
            ),
            ("Access-Control-Allow-Methods", "GET, POST, DELETE, PUT, OPTIONS, HEAD"),
        ]
    return headers
