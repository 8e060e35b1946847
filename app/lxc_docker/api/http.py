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
from ..errors import DockerError, InvalidParameter

# JSON request bodies (create, start, commit, copy) are read whole into memory, so they are capped;
# a create body with a large environment is a few KiB. Streamed bodies (build contexts, image
# import and load, PUT archive) are read piece by piece and have no cap.
MAX_JSON_BODY = 4 << 20
_INT64 = 1 << 63
_HEX_SIZE = re.compile(rb"[0-9a-fA-F]{1,16}")
_TRUE = {"1", "true", "True", "TRUE", "t", "T", "yes"}


class PayloadTooLarge(DockerError):
    status = 413


class BodyReader:
    """A file-like view of the request body that never reads past it (keep-alive safe)."""

    def __init__(self, rfile: Any, length: int | None, chunked: bool) -> None:
        if length is not None and length < 0:
            raise InvalidParameter(f"invalid Content-Length: {length}")
        self._rfile = rfile
        self.length = length
        self.chunked = chunked
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
        # Set by the server for tcp listeners: a JSON body must say it is one (see Request.json).
        self.json_type_required = False
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
            number = int(value)
        except ValueError:
            raise InvalidParameter(f"invalid value for {name}: {value!r}")
        # As Go's strconv.ParseInt(value, 10, 64): a larger number is an error, not a 500 later.
        if not -_INT64 <= number < _INT64:
            raise InvalidParameter(f"invalid value for {name}: {value!r} is out of range")
        return number

    def q_json(self, name: str) -> Any:
        value = self.q(name)
        if not value:
            return None
        try:
            return json.loads(value)
        except ValueError:
            raise InvalidParameter(f"invalid JSON in {name}: {value[:100]!r}")
        except RecursionError:
            raise InvalidParameter(f"invalid JSON in {name}: nested too deeply")

    def json(self, required: bool = False, limit: int = MAX_JSON_BODY) -> Any:
        """The body as JSON (None if empty): 413 past `limit` bytes, 400 if malformed or mislabelled."""
        if self.body.length is not None and self.body.length > limit:
            # Refused before reading a byte: a declared 2 GB body once grew the daemon by 200 MB.
            raise PayloadTooLarge(f"request body too large: {self.body.length} bytes (limit {limit})")
        parts: list[bytes] = []
        total = 0
        while total <= limit:
            piece = self.body.read(min(1 << 20, limit + 1 - total))
            if not piece:
                break
            parts.append(piece)
            total += len(piece)
        if total > limit:
            raise PayloadTooLarge(f"request body too large: more than {limit} bytes")
        raw = b"".join(parts)
        if not raw.strip():
            if required:
                raise InvalidParameter("a JSON body is required")
            return None
        if self.json_type_required:
            # A web page can POST text/plain or form bodies to any address without asking (no CORS
            # preflight); it cannot send application/json. Later Docker's words and status.
            content_type = self.headers.get("Content-Type") or ""
            if content_type.partition(";")[0].strip().lower() != "application/json":
                raise InvalidParameter(
                    f"unsupported Content-Type header ({content_type}): must be 'application/json'"
                )
        try:
            return json.loads(raw)
        except ValueError as e:
            raise InvalidParameter(f"invalid JSON body: {e}")
        except RecursionError:
            raise InvalidParameter("invalid JSON body: nested too deeply")

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
