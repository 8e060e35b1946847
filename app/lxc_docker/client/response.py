"""Reading the daemon's HTTP/1.1 answer: status line, headers, and a body framed by length, chunks or close.

The body is read on demand from the socket, so progress and event streams are handed over line by
line as they arrive.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    import _socket
    from collections.abc import Iterator

RECV_SIZE = 65536
MAX_HEAD = 65536
_HEX = frozenset(b"0123456789abcdefABCDEF")

# Body framing modes of a response.
_DONE, _LENGTH, _CHUNKED, _CLOSE = range(4)


class ProtocolError(OSError):
    """The daemon's answer was not valid HTTP, or the connection broke in the middle of it."""


class Headers(dict):
    """Response headers: keys stored lowercase, looked up case-insensitively; repeats joined by ", "."""

    def __getitem__(self, name: str) -> str:
        return dict.__getitem__(self, name.lower())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and dict.__contains__(self, name.lower())

    def get(self, name: str, default: str | None = None) -> str | None:
        return dict.get(self, name.lower(), default)


class Response:
    """A response whose head has been read; the body is read on demand and the socket closed at its end."""

    def __init__(
        self, sock: _socket.socket, method: str, buffered: bytes | bytearray = b"", upgrade: bool = False
    ) -> None:
        self._sock: _socket.socket | None = sock
        self._buf = bytearray(buffered)
        self._eof = False
        self._lines = bytearray()  # body bytes read ahead by readline()
        self._mode = _DONE
        self._left = 0
        self._need_crlf = False
        self.upgraded = False
        self.version, self.status, self.reason = self._read_status()
        # Interim answers (100 Continue) precede the real one; 101 is the real one for a hijack.
        while 100 <= self.status < 200 and self.status != 101:
            self._read_headers()
            self.version, self.status, self.reason = self._read_status()
        self.headers = self._read_headers()
        if upgrade and self.status in (101, 200):
            self.upgraded = True
        else:
            self._mode, self._left = self._framing(method)
            if self._mode == _DONE:
                self._done()

    def __enter__(self) -> Response:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[bytes]:
        return self.iter_lines()

    def __repr__(self) -> str:
        return f"<Response {self.status} {self.reason}>"

    def close(self) -> None:
        """Drop the connection, even if the body was not read to its end."""
        self._mode = _DONE
        self._eof = True
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def read(self, size: int = -1) -> bytes:
        """The body up to `size` bytes (all of it if negative); fewer only at the end of the body."""
        if size is None or size < 0:
            parts = [bytes(self._lines)]
            self._lines.clear()
            while data := self._body_some(RECV_SIZE):
                parts.append(data)
            return b"".join(parts)
        out = bytearray(self._lines[:size])
        del self._lines[:size]
        while len(out) < size and (data := self._body_some(size - len(out))):
            out += data
        return bytes(out)

    def readline(self) -> bytes:
        """The next body line including its b"\\n" (the rest at the end; b"" once all is read).

        Returns as soon as the line is complete: a stream such as `docker events` is never waited on
        to fill a buffer.
        """
        start = 0
        while True:
            end = self._lines.find(b"\n", start)
            if end >= 0:
                line = bytes(self._lines[: end + 1])
                del self._lines[: end + 1]
                return line
            start = len(self._lines)
            data = self._body_some(RECV_SIZE)
            if not data:
                line = bytes(self._lines)
                self._lines.clear()
                return line
            self._lines += data

    def iter_lines(self) -> Iterator[bytes]:
        """Body lines as they arrive (progress and event streams are newline-delimited JSON)."""
        while line := self.readline():
            yield line

    def iter_chunks(self, size: int = RECV_SIZE) -> Iterator[bytes]:
        """Body pieces of at most `size` bytes, each handed over as soon as it has arrived."""
        if self._lines:
            data = bytes(self._lines)
            self._lines.clear()
            yield data
        while data := self._body_some(size):
            yield data

    # -- head ---------------------------------------------------------------------------------

    def _read_status(self) -> tuple[str, int, str]:
        line = self._read_line()
        if not line:
            raise ProtocolError("The Docker daemon closed the connection without answering")
        parts = line.decode("latin-1").rstrip("\r\n").split(" ", 2)
        if (
            len(parts) < 2
            or not parts[0].startswith("HTTP/")
            or not (parts[1].isdigit() and len(parts[1]) == 3)
        ):
            raise ProtocolError(f"malformed status line from the Docker daemon: {line[:100]!r}")
        return parts[0], int(parts[1]), parts[2] if len(parts) > 2 else ""

    def _read_headers(self) -> Headers:
        headers = Headers()
        total = 0
        last = None
        while True:
            line = self._read_line()
            total += len(line)
            if total > MAX_HEAD:
                raise ProtocolError("response head from the Docker daemon is too large")
            if not line.endswith(b"\n"):
                raise ProtocolError(
                    "The Docker daemon closed the connection in the middle of the response head"
                )
            text = line.decode("latin-1").rstrip("\r\n")
            if not text:
                return headers
            if text[0] in " \t" and last is not None:
                # Obsolete line folding: a continuation of the previous header.
                dict.__setitem__(headers, last, headers[last] + " " + text.strip())
                continue
            name, colon, value = text.partition(":")
            if not colon or not name or name != name.strip():
                raise ProtocolError(f"malformed header line from the Docker daemon: {line[:100]!r}")
            last = name.lower()
            value = value.strip()
            if last in headers:
                value = headers[last] + ", " + value
            dict.__setitem__(headers, last, value)

    def _framing(self, method: str) -> tuple[int, int]:
        if method.upper() == "HEAD" or self.status < 200 or self.status in (204, 304):
            return _DONE, 0
        coding = self.headers.get("transfer-encoding")
        if coding is not None:
            if coding.rsplit(",", 1)[-1].strip().lower() == "chunked":
                return _CHUNKED, 0
            return _CLOSE, 0
        length = self.headers.get("content-length")
        if length is None:
            return _CLOSE, 0
        values = {v.strip() for v in length.split(",")}
        text = values.pop()
        if values or not (text.isascii() and text.isdigit()):
            raise ProtocolError(f"invalid Content-Length from the Docker daemon: {length!r}")
        return (_LENGTH, int(text)) if int(text) else (_DONE, 0)

    # -- body ---------------------------------------------------------------------------------

    def _body_some(self, size: int) -> bytes:
        """Up to `size` body bytes, blocking only until at least one is available; b"" at the end."""
        mode = self._mode
        if mode == _DONE:
            return b""
        if mode == _CLOSE:
            data = self._raw_some(size)
            if not data:
                self._done()
            return data
        if mode == _CHUNKED and not self._left and not self._next_chunk():
            return b""
        data = self._raw_some(min(size, self._left))
        if not data:
            self.close()
            raise ProtocolError("The Docker daemon closed the connection in the middle of the response body")
        self._left -= len(data)
        if not self._left:
            if mode == _LENGTH:
                self._done()
            else:
                # The CRLF after the chunk data is consumed with the next chunk's size line, so a
                # complete chunk is handed over without waiting for more bytes.
                self._need_crlf = True
        return data

    def _next_chunk(self) -> bool:
        if self._need_crlf:
            if self._read_line(limit=2).strip():
                raise ProtocolError("malformed chunked body from the Docker daemon (no CRLF after data)")
            self._need_crlf = False
        line = self._read_line()
        if not line.endswith(b"\n"):
            self.close()
            raise ProtocolError("The Docker daemon closed the connection in the middle of the response body")
        size = line.split(b";", 1)[0].strip()
        if not size or not all(b in _HEX for b in size):
            raise ProtocolError(f"malformed chunk size from the Docker daemon: {line[:100]!r}")
        self._left = int(size, 16)
        if self._left:
            return True
        # The last chunk; skip any trailer fields up to the blank line.
        while (line := self._read_line()).strip():
            pass
        self._done()
        return False

    def _done(self) -> None:
        # We asked for Connection: close, so nothing more can come on this socket.
        self.close()

    # -- raw socket ---------------------------------------------------------------------------

    def _recv(self, size: int) -> bytes:
        if self._eof or self._sock is None:
            return b""
        try:
            data = self._sock.recv(size)
        except ConnectionResetError:
            # A reset after the daemon's answer (it closed with our upload unread) only means the
            # end; a truncated body is still caught by its framing.
            data = b""
        if not data:
            self._eof = True
        return data

    def _raw_some(self, size: int) -> bytes:
        if self._buf:
            data = bytes(self._buf[:size])
            del self._buf[:size]
            return data
        return self._recv(size)

    def _read_line(self, limit: int = MAX_HEAD) -> bytes:
        start = 0
        while True:
            end = self._buf.find(b"\n", start)
            if end >= 0:
                line = bytes(self._buf[: end + 1])
                del self._buf[: end + 1]
                return line
            if len(self._buf) > limit:
                raise ProtocolError("line too long in the response from the Docker daemon")
            start = len(self._buf)
            data = self._recv(RECV_SIZE)
            if not data:
                line = bytes(self._buf)
                self._buf.clear()
                return line
            self._buf += data

    def _detach(self) -> bytes:
        """Give up the socket to a hijacking caller; return the stream bytes read past the head."""
        buffered = bytes(self._buf)
        self._buf.clear()
        self._sock = None
        self._mode = _DONE
        self._eof = True
        return buffered
