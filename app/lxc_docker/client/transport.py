"""HTTP/1.1 to the daemon over unix or tcp sockets: requests, bodies streamed both ways, hijacked streams.

Written against `_socket` and `select` alone because this runs on the start path of every `docker`
command: `http.client` pulls in email, ssl and re (~20 ms, twice Python's own start-up) and even the
`socket` wrapper module costs ~6 ms for its enums.
"""

from __future__ import annotations

import _socket
import select

from lxc_docker import __version__
from lxc_docker.hosts import Host, parse_host

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping
    from typing import BinaryIO

    Body = bytes | bytearray | memoryview | Iterable[bytes] | BinaryIO | None

USER_AGENT = f"Docker-Client/{__version__}"
CANNOT_CONNECT = "Cannot connect to the Docker daemon. Is 'docker -d' running on this host?"

_RECV_SIZE = 65536
_PIECE_SIZE = 65536
_MAX_HEAD = 65536
# Sent in the same write as the head below this size, so a small request is one packet.
_COALESCE = 65536
# Python ignores SIGPIPE, but a CLI that restores it (for `docker ps | head`) must not die on a send
# to a daemon that already hung up.
_NOSIGNAL = getattr(_socket, "MSG_NOSIGNAL", 0)
_NO_BODY_METHODS = frozenset(("GET", "HEAD", "DELETE", "OPTIONS"))
_FRAMING = frozenset(("content-length", "transfer-encoding"))
_TOKEN = frozenset(b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_HEX = frozenset(b"0123456789abcdefABCDEF")

# Body framing modes of a response.
_DONE, _LENGTH, _CHUNKED, _CLOSE = range(4)


class DaemonUnreachable(OSError):
    """Nothing answers at the daemon address (missing socket, refused, unknown host, timeout).

    str() is the message to print; `detail` says what failed, for debug output.
    """

    def __init__(
        self, host: Host, detail: str = "", errno: int | None = None, message: str = CANNOT_CONNECT
    ) -> None:
        super().__init__(errno, message)
        self.host = host
        self.detail = detail

    def __str__(self) -> str:
        return self.strerror


class SocketPermissionDenied(DaemonUnreachable):
    """The daemon's unix socket exists but this user may not connect to it."""


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


def connect(host: Host | str, timeout: float | None = None) -> _socket.socket:
    """Open a stream socket to the daemon; raise DaemonUnreachable (or SocketPermissionDenied) on failure."""
    if isinstance(host, str):
        host = parse_host(host)
    if host.proto == "unix":
        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        try:
            sock.settimeout(timeout)
            sock.connect(host.path)
        except OSError as e:
            sock.close()
            raise _unreachable(host, e) from e
        return sock
    if host.proto == "tcp":
        try:
            infos = _socket.getaddrinfo(host.host, host.port, _socket.AF_UNSPEC, _socket.SOCK_STREAM)
        except OSError as e:
            raise _unreachable(host, e) from e
        error: OSError = OSError(f"no address for {host.host}")
        for family, kind, proto, _, sockaddr in infos:
            sock = _socket.socket(family, kind, proto)
            try:
                sock.settimeout(timeout)
                sock.connect(sockaddr)
                # Heads and chunk headers go out as separate small writes; Nagle would hold them
                # back for a round trip each.
                sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
            except OSError as e:
                sock.close()
                error = e
                continue
            return sock
        raise _unreachable(host, error) from error
    raise ValueError(f"Cannot connect to {host.url}: fd:// addresses are only for the daemon's -H")


def _unreachable(host: Host, error: OSError) -> DaemonUnreachable:
    detail = f"dial {host.proto} {host.address}: {error.strerror or error}"
    if isinstance(error, PermissionError) and host.proto == "unix":
        message = (
            f"Permission denied while trying to connect to the Docker daemon socket at {host.url}: "
            "add your user to the 'docker' group (then log in again) or run the command with sudo"
        )
        return SocketPermissionDenied(host, detail, error.errno, message)
    return DaemonUnreachable(host, detail, error.errno)


def request(
    host: Host | str,
    method: str,
    path: str,
    *,
    headers: Mapping[str, str] | None = None,
    body: Body = None,
    chunked: bool = False,
    timeout: float | None = None,
) -> Response:
    """Send one request and return the response once its head has arrived; the body is read from it.

    bytes bodies go with Content-Length (chunked if `chunked`); file objects and iterables of bytes
    are streamed with chunked encoding and never held whole in memory. `timeout` bounds connecting
    and each wait for the socket, not the whole exchange (`docker events` may stream for hours).
    """
    response, _ = _exchange(host, method, path, headers, body, chunked, timeout, upgrade=False)
    return response


def hijack(
    host: Host | str,
    method: str,
    path: str,
    *,
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
    timeout: float | None = None,
) -> tuple[Response, _socket.socket | None, bytes]:
    """Send an attach-style request asking for `Upgrade: tcp`; return (response, socket, buffered).

    On `101` (or the `200` + raw stream of older daemons) the socket is the raw stream, back in
    blocking mode, and `buffered` holds stream bytes that arrived with the response head: consume
    them before reading the socket. Otherwise socket is None and the response body (the error) is
    readable as usual.
    """
    merged = {"Connection": "Upgrade", "Upgrade": "tcp"}
    given = {name.lower() for name in headers or ()}
    merged = {k: v for k, v in merged.items() if k.lower() not in given}
    merged.update(headers or {})
    response, sock = _exchange(host, method, path, merged, body, False, timeout, upgrade=True)
    if sock is None:
        return response, None, b""
    buffered = response._detach()
    sock.settimeout(None)
    return response, sock, buffered


def _exchange(
    host: Host | str,
    method: str,
    path: str,
    headers: Mapping[str, str] | None,
    body: Body,
    chunked: bool,
    timeout: float | None,
    upgrade: bool,
) -> tuple[Response, _socket.socket | None]:
    if isinstance(host, str):
        host = parse_host(host)
    framing: list[str] = []
    payload: memoryview | None = None
    pieces: Iterable[bytes] | None = None
    if isinstance(body, str):
        raise TypeError("request body must be bytes, a binary file or an iterable of bytes, not str")
    if isinstance(body, bytes | bytearray | memoryview):
        if chunked:
            pieces = (body,)
        else:
            payload = memoryview(body).cast("B")
            framing.append(f"Content-Length: {len(payload)}")
    elif body is None:
        if chunked:
            pieces = ()
        elif method.upper() not in _NO_BODY_METHODS:
            framing.append("Content-Length: 0")
    else:
        pieces = _pieces(body)
    if pieces is not None:
        framing.append("Transfer-Encoding: chunked")
    head = _request_head(host, method, path, headers, framing)

    sock = connect(host, timeout)
    try:
        sender = _Sender(sock, timeout)
        if payload is not None and len(payload) <= _COALESCE:
            sender.send(head + payload)
        else:
            sender.send(head)
            if payload is not None:
                sender.send(payload)
            elif pieces is not None:
                for piece in pieces:
                    if not piece:
                        continue  # an empty chunk would end the body
                    if not sender.send(b"%x\r\n" % len(piece) + piece + b"\r\n"):
                        break
                else:
                    sender.send(b"0\r\n\r\n")
        inbox = sender.finish()
        response = Response(sock, method, inbox, upgrade=upgrade)
    except BaseException:
        sock.close()
        raise
    return response, (sock if response.upgraded else None)


def _pieces(body: Iterable[bytes] | BinaryIO) -> Iterator[bytes]:
    # read1 hands over what a pipe has now instead of waiting to fill the piece, so `tar c | docker
    # load` uploads as the archive is produced.
    read = getattr(body, "read1", None) or getattr(body, "read", None)
    if read is None:
        source: Iterable[bytes] = body  # type: ignore[assignment]
    else:
        source = iter(lambda: read(_PIECE_SIZE), b"")
    for piece in source:
        if isinstance(piece, str):
            raise TypeError("request body must yield bytes, not str (open the file in binary mode)")
        yield piece


def _request_head(
    host: Host, method: str, path: str, headers: Mapping[str, str] | None, framing: list[str]
) -> bytes:
    if not method or not all(b in _TOKEN for b in method.encode("latin-1", "replace")):
        raise ValueError(f"invalid HTTP method {method!r}")
    if not path.startswith("/") or any(c <= " " or c == "\x7f" for c in path):
        raise ValueError(f"invalid request path {path!r}")
    lines = [f"{method} {path} HTTP/1.1"]
    given = set()
    for name, value in (headers or {}).items():
        lowered = name.lower()
        if not name or not all(b in _TOKEN for b in name.encode("latin-1", "replace")):
            raise ValueError(f"invalid header name {name!r}")
        if "\r" in value or "\n" in value or "\0" in value:
            raise ValueError(f"invalid value for header {name}: line breaks are not allowed")
        if lowered in _FRAMING:
            raise ValueError(f"{name} is set by the transport from the body")
        lines.append(f"{name}: {value}")
        given.add(lowered)
    if "host" not in given:
        # A unix socket has no host name; Docker's own client sends a placeholder too.
        lines.append("Host: " + ("docker" if host.proto == "unix" else host.address))
    if "user-agent" not in given:
        lines.append("User-Agent: " + USER_AGENT)
    if "connection" not in given:
        # One request per connection: the CLI makes few, and a closed connection is the only
        # unambiguous end for a body without length.
        lines.append("Connection: close")
    lines.extend(framing)
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")


class _Sender:
    """Writes the request while collecting whatever the daemon answers in the meantime.

    The daemon may stream progress while it still reads the body (`docker import -` reports as it
    reads), so a writer that never reads would deadlock once both socket buffers fill. It may also
    answer with an error and stop reading: then we stop sending and read that answer.
    """

    def __init__(self, sock: _socket.socket, timeout: float | None) -> None:
        self.sock = sock
        self.timeout_ms = None if timeout is None else max(0, int(timeout * 1000))
        self.timeout = timeout
        self.inbox = bytearray()
        self.stopped = False
        self.peer_eof = False
        self._head_checked = False
        self._poll = select.poll()
        self._poll.register(sock.fileno(), select.POLLIN | select.POLLOUT)
        sock.setblocking(False)

    def send(self, data: bytes | memoryview) -> bool:
        """Send all of data; False once the upload should stop (daemon answered or hung up)."""
        view = memoryview(data)
        while view and not self.stopped:
            try:
                sent = self.sock.send(view, _NOSIGNAL)
            except BlockingIOError:
                self._wait()
                continue
            except (BrokenPipeError, ConnectionResetError):
                self.stopped = True
                break
            view = view[sent:]
        if not self.stopped:
            self._drain()
        return not self.stopped

    def finish(self) -> bytearray:
        if self.stopped:
            # Half-close so a daemon still waiting for the rest of the body sees its end.
            try:
                self.sock.shutdown(_socket.SHUT_WR)
            except OSError:
                pass
        self.sock.settimeout(self.timeout)
        return self.inbox

    def _wait(self) -> None:
        self._poll.modify(self.sock.fileno(), select.POLLOUT | (0 if self.peer_eof else select.POLLIN))
        ready = self._poll.poll(self.timeout_ms)
        if not ready:
            raise TimeoutError("timed out sending the request to the Docker daemon")
        if ready[0][1] & (select.POLLIN | select.POLLHUP | select.POLLERR):
            self._drain()

    def _drain(self) -> None:
        while not self.peer_eof:
            try:
                data = self.sock.recv(_RECV_SIZE)
            except BlockingIOError:
                break
            except ConnectionResetError:
                data = b""
            if not data:
                # The daemon has said all it will say; sending more is pointless.
                self.peer_eof = self.stopped = True
                break
            self.inbox += data
        if not self._head_checked and self._early_error():
            self.stopped = True

    def _early_error(self) -> bool:
        end = self.inbox.find(b"\r\n\r\n", 0, _MAX_HEAD)
        if end < 0:
            return False
        self._head_checked = True
        code = self.inbox[9:12]
        # An error status before the body is sent means the daemon will not use the body
        # (RFC 9112 section 9.5 asks clients to stop sending then).
        return self.inbox.startswith(b"HTTP/") and code.isdigit() and int(code) >= 400


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
            while data := self._body_some(_RECV_SIZE):
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
            data = self._body_some(_RECV_SIZE)
            if not data:
                line = bytes(self._lines)
                self._lines.clear()
                return line
            self._lines += data

    def iter_lines(self) -> Iterator[bytes]:
        """Body lines as they arrive (progress and event streams are newline-delimited JSON)."""
        while line := self.readline():
            yield line

    def iter_chunks(self, size: int = _RECV_SIZE) -> Iterator[bytes]:
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
            if total > _MAX_HEAD:
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

    def _read_line(self, limit: int = _MAX_HEAD) -> bytes:
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
            data = self._recv(_RECV_SIZE)
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


def quote(text: str, safe: str = "") -> str:
    """Percent-encode UTF-8 text for a URL; unreserved characters and those in `safe` stay as they are."""
    keep = _UNRESERVED | frozenset(safe.encode("ascii"))
    return "".join(chr(b) if b in keep else f"%{b:02X}" for b in text.encode("utf-8"))


def api_path(version: str | None, path: str, query: Mapping[str, object] | None = None) -> str:
    """`/v1.9/images/json?all=1`: version prefix, path as given, query percent-encoded.

    Query values: None is left out, True/False become 1/0, a list or tuple repeats the key; dicts
    (filters) must be JSON-encoded by the caller. Quote names placed in `path` with `quote(name, "/")`.
    """
    if not path.startswith("/"):
        path = "/" + path
    if version:
        path = f"/v{version.removeprefix('v')}{path}"
    parts = []
    for key, value in (query or {}).items():
        for item in value if isinstance(value, list | tuple) else (value,):
            if item is None:
                continue
            if isinstance(item, dict):
                raise TypeError(f"query parameter {key!r}: encode dicts as JSON first")
            if isinstance(item, bool):
                item = int(item)
            parts.append(f"{quote(str(key))}={quote(str(item))}")
    return f"{path}?{'&'.join(parts)}" if parts else path
