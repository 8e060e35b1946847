"""HTTP/1.1 to the daemon over unix or tcp sockets: requests, bodies streamed both ways, hijacked streams.

Written against `_socket` and `select` alone because this runs on the start path of every `docker`
command: `http.client` pulls in email, ssl and re (~20 ms, twice Python's own start-up). The pieces
live beside this module: `message` (paths, request heads, body pieces) and `response` (reading the
answer); the names callers use are importable from here. This one connects and runs the exchange.
"""

from __future__ import annotations

import _socket
import select

from lxc_docker.hosts import Host, parse_host

from .message import USER_AGENT, api_path, body_pieces, quote, request_head
from .response import MAX_HEAD, RECV_SIZE, Headers, ProtocolError, Response

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from typing import Any, BinaryIO

    Body = bytes | bytearray | memoryview | Iterable[bytes] | BinaryIO | None

__all__ = [
    "CANNOT_CONNECT",
    "USER_AGENT",
    "DaemonUnreachable",
    "Headers",
    "ProtocolError",
    "Response",
    "SocketPermissionDenied",
    "api_path",
    "connect",
    "hijack",
    "quote",
    "request",
]

CANNOT_CONNECT = "Cannot connect to the Docker daemon. Is 'docker -d' running on this host?"


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


def connect(host: Host | str, timeout: float | None = None) -> _socket.socket:
    """Open a stream socket to the daemon; raise DaemonUnreachable (or SocketPermissionDenied) on failure."""
    if isinstance(host, str):
        host = parse_host(host)
    if host.proto == "unix":
        family = getattr(_socket, "AF_UNIX", None)
        if family is None:
            # Windows' Python has no unix sockets: the daemon there is reached over tcp (boot2docker
            # forwards 127.0.0.1:4243 into its VM).
            raise DaemonUnreachable(
                host,
                "unix sockets are not available on this system",
                message=f"Cannot connect to {host.url}: unix sockets are not available on this system. "
                "Set DOCKER_HOST (or -H) to the daemon's tcp:// address, e.g. tcp://127.0.0.1:4243 "
                "(`boot2docker shellinit` prints it).",
            )
        sock = _socket.socket(family, _socket.SOCK_STREAM)
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
            tls = getattr(host, "tls", None)
            return _start_tls(sock, host, tls) if tls is not None else sock
        raise _unreachable(host, error) from error
    raise ValueError(f"Cannot connect to {host.url}: fd:// addresses are only for the daemon's -H")


def _start_tls(sock: _socket.socket, host: Host, tls: Any) -> _socket.socket:
    """Wrap a connected tcp socket in TLS and complete the handshake (with the socket's timeout)."""
    import socket
    import ssl

    try:
        ctx = tls.context()
    except ValueError as e:
        sock.close()
        raise DaemonUnreachable(host, str(e), message=f"Could not set up TLS for {host.url}: {e}") from e
    plain = socket.socket(fileno=sock.detach())
    try:
        return ctx.wrap_socket(plain, server_hostname=host.host)
    except (ssl.SSLError, ssl.CertificateError, OSError) as e:
        plain.close()
        raise DaemonUnreachable(
            host, str(e), message=f"Cannot connect to the Docker daemon at {host.url}: {tls_reason(e)}"
        ) from e


def tls_reason(error: BaseException) -> str:
    """A TLS failure in words: what the handshake or the daemon's alert said."""
    text = getattr(error, "verify_message", None) or getattr(error, "reason", None) or str(error)
    text = str(text).replace("_", " ").lower()
    return f"TLS: {text}"


def _unreachable(host: Host, error: OSError) -> DaemonUnreachable:
    detail = f"dial {host.proto} {host.address}: {error.strerror or error}"
    if isinstance(error, PermissionError) and host.proto == "unix":
        message = (
            f"Permission denied while trying to connect to the Docker daemon socket at {host.url}: "
            "add your user to the 'docker' group (then log in again) or run the command with sudo"
        )
        return SocketPermissionDenied(host, detail, error.errno, message)
    return DaemonUnreachable(host, detail, error.errno)


# Sent in the same write as the head below this size, so a small request is one packet.
_COALESCE = 65536
# Python ignores SIGPIPE, but a CLI that restores it (for `docker ps | head`) must not die on a send
# to a daemon that already hung up.
_NOSIGNAL = getattr(_socket, "MSG_NOSIGNAL", 0)
_NO_BODY_METHODS = frozenset(("GET", "HEAD", "DELETE", "OPTIONS"))


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
        pieces = body_pieces(body)
    if pieces is not None:
        framing.append("Transfer-Encoding: chunked")
    head = request_head(host, method, path, headers, framing)

    sock = connect(host, timeout)
    try:
        sender = _Sender(sock, timeout, getattr(host, "tls", None) is not None)
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
    except OSError as e:
        sock.close()
        if type(e).__module__ == "ssl":
            # With TLS 1.3 a daemon refusing our certificate says so after the handshake.
            raise DaemonUnreachable(
                host, str(e), message=f"Cannot connect to the Docker daemon at {host.url}: {tls_reason(e)}"
            ) from e
        raise
    except BaseException:
        sock.close()
        raise
    return response, (sock if response.upgraded else None)


class _Sender:
    """Writes the request while collecting whatever the daemon answers in the meantime.

    The daemon may stream progress while it still reads the body (`docker import -` reports as it
    reads), so a writer that never reads would deadlock once both socket buffers fill. It may also
    answer with an error and stop reading: then we stop sending and read that answer.
    """

    def __init__(self, sock: _socket.socket, timeout: float | None, tls: bool = False) -> None:
        self.sock = sock
        # An SSL socket takes no send flags and says "would block" with its own exceptions.
        self._flags = 0 if tls else _NOSIGNAL
        self._would_block: tuple[type[BaseException], ...] = (BlockingIOError,)
        if tls:
            import ssl

            self._would_block = (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError)
        self.timeout_ms = None if timeout is None else max(0, int(timeout * 1000))
        self.timeout = timeout
        self.inbox = bytearray()
        self.stopped = False
        self.peer_eof = False
        self._head_checked = False
        # Windows has no poll(); select() on one socket serves there (no descriptor-number limit
        # applies to Windows' select).
        self._poll = select.poll() if hasattr(select, "poll") else None
        if self._poll is not None:
            self._poll.register(sock.fileno(), select.POLLIN | select.POLLOUT)
        sock.setblocking(False)

    def send(self, data: bytes | memoryview) -> bool:
        """Send all of data; False once the upload should stop (daemon answered or hung up)."""
        view = memoryview(data)
        while view and not self.stopped:
            try:
                sent = self.sock.send(view, self._flags)
            except self._would_block:
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
        if self._poll is None:
            readable, writable, _ = select.select(
                [] if self.peer_eof else [self.sock], [self.sock], [], self.timeout
            )
            if not (readable or writable):
                raise TimeoutError("timed out sending the request to the Docker daemon")
            if readable:
                self._drain()
            return
        self._poll.modify(self.sock.fileno(), select.POLLOUT | (0 if self.peer_eof else select.POLLIN))
        ready = self._poll.poll(self.timeout_ms)
        if not ready:
            raise TimeoutError("timed out sending the request to the Docker daemon")
        if ready[0][1] & (select.POLLIN | select.POLLHUP | select.POLLERR):
            self._drain()

    def _drain(self) -> None:
        while not self.peer_eof:
            try:
                data = self.sock.recv(RECV_SIZE)
            except self._would_block:
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
        end = self.inbox.find(b"\r\n\r\n", 0, MAX_HEAD)
        if end < 0:
            return False
        self._head_checked = True
        code = self.inbox[9:12]
        # An error status before the body is sent means the daemon will not use the body
        # (RFC 9112 section 9.5 asks clients to stop sending then).
        return self.inbox.startswith(b"HTTP/") and code.isdigit() and int(code) >= 400
