"""One client connection of the API server: its socket, the bytes read ahead, and request heads.

The server's selector thread reads a request's head without blocking (`feed`); only when the head is
complete does a worker get the connection (see `reactor.py`). The worker then reads the body through
`read`/`readline` with a timeout, and writes the answer with `write`. Bytes read past one request
(a pipelined next request) stay in `inbox` and travel back with the connection.
"""

from __future__ import annotations

import re
import socket
import time
from typing import Any

from .. import __version__

# The request line and headers together; the docker CLI's largest (X-Registry-Config for a build,
# filters, build args in the query) are a few KiB. Go's server allows 1 MiB; with thousands of
# connections each holding a partial head, a smaller bound keeps the daemon's memory bounded.
MAX_HEAD = 128 * 1024
MAX_HEADERS = 200
RECV_SIZE = 65536

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_DIGITS = re.compile(r"[0-9]+")


class BadRequest(Exception):
    """The request cannot be served as sent; answered with `status` and the connection closed."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class Headers:
    """Request headers, looked up case-insensitively; a repeated header keeps its first value."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self._pairs = pairs
        self._first: dict[str, str] = {}
        for name, value in pairs:
            self._first.setdefault(name.lower(), value)

    def get(self, name: str, default: Any = None) -> Any:
        return self._first.get(name.lower(), default)

    def __getitem__(self, name: str) -> str | None:
        return self._first.get(name.lower())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._first

    def get_all(self, name: str) -> list[str]:
        lowered = name.lower()
        return [v for n, v in self._pairs if n.lower() == lowered]

    def items(self) -> list[tuple[str, str]]:
        return list(self._pairs)


class RequestHead:
    """The parsed request line and headers, with the body's framing already checked."""

    def __init__(self, method: str, target: str, version: str, headers: Headers) -> None:
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
        self.length, self.chunked = _framing(headers)
        connection = {t.strip().lower() for t in (headers.get("Connection") or "").split(",")}
        if version == "HTTP/1.0":
            self.keep_alive = "keep-alive" in connection
        else:
            self.keep_alive = "close" not in connection


def parse_head(raw: bytes) -> RequestHead:
    """Parse a head that ends with an empty line; raise BadRequest for anything malformed."""
    try:
        text = raw.decode("latin-1")
    except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes any byte
        raise BadRequest("malformed request")
    lines = text.split("\r\n") if "\r\n" in text else text.split("\n")
    request_line = lines[0].rstrip("\r")
    parts = request_line.split(" ")
    if len(parts) != 3 or not _TOKEN.fullmatch(parts[0]) or not parts[1]:
        raise BadRequest(f"malformed request line: {request_line[:100]!r}")
    method, target, version = parts
    if version not in ("HTTP/1.1", "HTTP/1.0"):
        raise BadRequest(f"unsupported HTTP version: {version[:20]!r}", 505)
    if not target.startswith("/") or any(c <= " " or c == "\x7f" for c in target):
        raise BadRequest(f"malformed request target: {target[:100]!r}")
    pairs: list[tuple[str, str]] = []
    for line in lines[1:]:
        line = line.rstrip("\r")
        if not line:
            break
        if line[0] in " \t":
            # Obsolete line folding is a request-smuggling vector (RFC 9112 section 5.2).
            raise BadRequest("obsolete header line folding is not accepted")
        name, colon, value = line.partition(":")
        if not colon or not _TOKEN.fullmatch(name):
            raise BadRequest(f"malformed header line: {line[:100]!r}")
        if "\0" in value:
            raise BadRequest(f"invalid value in header {name}")
        pairs.append((name, value.strip(" \t")))
        if len(pairs) > MAX_HEADERS:
            raise BadRequest("too many headers", 431)
    return RequestHead(method, target, version, Headers(pairs))


def _framing(headers: Headers) -> tuple[int | None, bool]:
    """(Content-Length or None, chunked): refuses what would make the body's end ambiguous."""
    codings = ",".join(headers.get_all("Transfer-Encoding"))
    lengths = headers.get_all("Content-Length")
    if codings.strip():
        names = [c.strip().lower() for c in codings.split(",") if c.strip()]
        if names != ["chunked"]:
            raise BadRequest(f"unsupported Transfer-Encoding: {codings[:100]!r}", 501)
        if lengths:
            # Both framings at once is how requests are smuggled past proxies (RFC 9112 section 6.3).
            raise BadRequest("both Transfer-Encoding and Content-Length are set")
        return None, True
    if not lengths:
        return None, False
    values = {v.strip() for value in lengths for v in value.split(",")}
    if len(values) != 1:
        raise BadRequest("conflicting Content-Length values")
    text = values.pop()
    # int() would also take "-1", "+5", " 5" and "1_000": a negative length once made the server
    # read until the client hung up.
    if not _DIGITS.fullmatch(text) or len(text) > 18:
        raise BadRequest(f"invalid Content-Length: {text[:30]!r}")
    return int(text), False


class Connection:
    """A client socket (plain or TLS) with the bytes read ahead of the current request."""

    def __init__(self, sock: socket.socket, listener: Any, peer: str) -> None:
        self.sock = sock
        self.listener = listener
        self.peer = peer
        self.inbox = bytearray()
        self.head: RequestHead | None = None
        self.close_after = False
        self.hijacked = False
        self.lingering = False
        self.deadline = 0.0
        self.handshaken = listener.tls is None
        self.head_started = False

    # -- selector side (non-blocking) ------------------------------------------------------------------

    def feed(self) -> bool | None:
        """Read what is available; True once a whole head is buffered, None at end of stream.

        Raises BadRequest for a head that is too large or malformed.
        """
        while True:
            if self.head_complete():
                return True
            try:
                data = self.sock.recv(RECV_SIZE)
            except (BlockingIOError, InterruptedError):
                return False
            except OSError as e:
                if _wants_io(e):
                    return False
                return None
            if not data:
                return None
            self.inbox += data
            self.head_started = True

    def head_complete(self) -> bool:
        # Leading empty lines before a request line are allowed (RFC 9112 section 2.2).
        while self.inbox[:2] == b"\r\n" or self.inbox[:1] == b"\n":
            del self.inbox[: 2 if self.inbox[:2] == b"\r\n" else 1]
        end = _head_end(self.inbox)
        if end < 0:
            if len(self.inbox) > MAX_HEAD:
                raise BadRequest("request head too large", 431)
            return False
        if end > MAX_HEAD:
            raise BadRequest("request head too large", 431)
        return True

    def take_head(self) -> RequestHead:
        end = _head_end(self.inbox)
        raw = bytes(self.inbox[:end])
        del self.inbox[:end]
        self.head = parse_head(raw)
        return self.head

    def pending(self) -> bool:
        """Bytes already read, or decrypted and waiting inside the TLS layer."""
        if self.inbox:
            return True
        pending = getattr(self.sock, "pending", None)
        return bool(pending and pending())

    # -- worker side (blocking with a timeout) ---------------------------------------------------------

    def _fill(self) -> bool:
        data = self.sock.recv(RECV_SIZE)
        if not data:
            return False
        self.inbox += data
        return True

    def read(self, size: int) -> bytes:
        """Up to `size` bytes, fewer only at the end of the stream (a file's read)."""
        if len(self.inbox) >= size:
            data = bytes(self.inbox[:size])
            del self.inbox[:size]
            return data
        # Large body reads go straight into one buffer, not through the inbox (uploads of images
        # and build contexts run at memory speed on a unix socket).
        buf = bytearray(size)
        view = memoryview(buf)
        got = len(self.inbox)
        view[:got] = self.inbox
        self.inbox.clear()
        while got < size:
            n = self.sock.recv_into(view[got:])
            if not n:
                break
            got += n
        view.release()
        return bytes(buf) if got == size else bytes(buf[:got])

    def readline(self, limit: int = -1) -> bytes:
        start = 0
        while True:
            end = self.inbox.find(b"\n", start)
            if end >= 0 and (limit < 0 or end < limit):
                size = end + 1
                break
            if 0 <= limit <= len(self.inbox):
                size = limit
                break
            start = len(self.inbox)
            if not self._fill():
                size = len(self.inbox)
                break
        data = bytes(self.inbox[:size])
        del self.inbox[:size]
        return data

    def write(self, data: bytes) -> int:
        self.sock.sendall(data)
        return len(data)

    def flush(self) -> None:
        pass  # nothing is buffered on the way out

    def send_head(self, status: int, reason: str, headers: list[tuple[str, str]], body: bytes = b"") -> None:
        """The status line and headers, and with them a small body in the same write (one packet)."""
        lines = [
            f"HTTP/1.1 {status} {reason}",
            f"Server: Docker/{__version__} (linux)",
            f"Date: {http_date()}",
        ]
        lines += [f"{k}: {v}" for k, v in headers]
        if self.close_after:
            lines.append("Connection: close")
        self.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace") + body)

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


def _head_end(buf: bytearray) -> int:
    """Index just past the empty line that ends the head, or -1."""
    crlf = buf.find(b"\r\n\r\n")
    lf = buf.find(b"\n\n")
    ends = [i + 4 for i in (crlf,) if i >= 0] + [i + 2 for i in (lf,) if i >= 0]
    return min(ends) if ends else -1


def _wants_io(error: OSError) -> bool:
    # ssl.SSLWantReadError/SSLWantWriteError, without importing ssl for plain listeners.
    return type(error).__name__ in ("SSLWantReadError", "SSLWantWriteError")


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def http_date(when: float | None = None) -> str:
    """RFC 7231's IMF-fixdate, what email.utils.formatdate(usegmt=True) gives, without importing the
    email package (a dozen modules more on the daemon's start path) and in no locale."""
    t = time.gmtime(when)
    return (
        f"{_DAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon - 1]} {t.tm_year} "
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} GMT"
    )
