"""A small threaded HTTP/1.1 server for the registry: one thread per connection, keep-alive,
request bodies by Content-Length or chunked, responses from bytes or a file range (sendfile).

The daemon's reactor (`api/reactor.py`) sits in the `api` layer, above the registry; the layer
contract forbids importing it here, and a registry serves few, long transfers where a thread per
connection costs nothing. The strictness that matters is kept: one framing per request (both
Content-Length and Transfer-Encoding is a 400), decimal lengths only, hex chunk sizes only, and a
body the handler did not read to its end closes the connection instead of being parsed as the next
request.
"""

from __future__ import annotations

import http.server
import json
import os
import socket
import socketserver
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

_MAX_CHUNK_LINE = 1024
IDLE_TIMEOUT = 300.0
MAX_CONNECTIONS = 256  # shared by every listener of the process


class BadRequest(Exception):
    """A request whose framing cannot be trusted; answered 400 and the connection closed."""


class Body:
    """The request body as a stream: `read(n)` returns at most n bytes, b"" at the end."""

    def __init__(self, rfile, length: int | None, chunked: bool) -> None:
        self._rfile = rfile
        self._left = length or 0
        self._chunked = chunked
        self._chunk_left = 0
        self.done = not chunked and not length
        self.received = 0

    def read(self, n: int = 1 << 20) -> bytes:
        if self.done:
            return b""
        if self._chunked:
            return self._read_chunked(n)
        data = self._rfile.read(min(n, self._left))
        if not data:
            raise ConnectionError(f"client closed the connection with {self._left} body bytes missing")
        self._left -= len(data)
        self.received += len(data)
        self.done = self._left == 0
        return data

    def _read_chunked(self, n: int) -> bytes:
        if self._chunk_left == 0:
            line = self._rfile.readline(_MAX_CHUNK_LINE)
            if not line.endswith(b"\n"):
                raise ConnectionError("body ended inside a chunk header")
            size_text = line.split(b";", 1)[0].strip()
            if not size_text or any(c not in b"0123456789abcdefABCDEF" for c in size_text):
                raise BadRequest(f"malformed chunk size: {size_text[:40]!r}")
            self._chunk_left = int(size_text, 16)
            if self._chunk_left == 0:
                while True:  # trailers, up to the empty line
                    trailer = self._rfile.readline(_MAX_CHUNK_LINE)
                    if trailer in (b"\r\n", b"\n", b""):
                        break
                self.done = True
                return b""
        data = self._rfile.read(min(n, self._chunk_left))
        if not data:
            raise ConnectionError("client closed the connection inside a chunk")
        self._chunk_left -= len(data)
        self.received += len(data)
        if self._chunk_left == 0 and self._rfile.readline(_MAX_CHUNK_LINE) not in (b"\r\n", b"\n"):
            raise BadRequest("chunk not followed by CRLF")
        return data

    def read_all(self, limit: int) -> bytes:
        parts: list[bytes] = []
        total = 0
        while chunk := self.read():
            total += len(chunk)
            if total > limit:
                raise BadRequest(f"body larger than {limit} bytes")
            parts.append(chunk)
        return b"".join(parts)

    def json(self, limit: int = 4 << 20) -> object:
        raw = self.read_all(limit)
        try:
            return json.loads(raw) if raw.strip() else None
        except ValueError as e:
            raise BadRequest(f"invalid JSON body: {e}") from None


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: object  # email.message.Message: case-insensitive get()
    body: Body
    params: dict[str, str] = field(default_factory=dict)

    def arg(self, name: str, default: str = "") -> str:
        values = self.query.get(name)
        return values[0] if values else default

    def header(self, name: str) -> str:
        return self.headers.get(name, "") or ""


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    # A file range to send instead of `body`: (path, offset, length).
    file: tuple[str, int, int] | None = None
    head: bool = False  # HEAD: send Content-Length of the body but not the body


def json_response(status: int, obj: object, headers: list[tuple[str, str]] | None = None) -> Response:
    body = json.dumps(obj).encode()
    return Response(status, body, [("Content-Type", "application/json")] + (headers or []))


Handler = Callable[[Request], Response]


def make_handler_class(app: Callable[[Request], Response], debug: bool) -> type:
    class _Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # A client silent this long (idle keep-alive, or stalled mid-body) gives its thread back; a
        # stalled upload is then removed like a cut one.
        timeout = IDLE_TIMEOUT
        server_version = "lxc-docker-registry"
        sys_version = ""

        def version_string(self) -> str:
            return self.server_version

        def handle_one_request(self) -> None:
            try:
                super().handle_one_request()
            except (ConnectionError, TimeoutError):
                self.close_connection = True

        def __getattr__(self, name: str):
            # BaseHTTPRequestHandler dispatches to do_<METHOD>; every method goes to one place.
            if name.startswith("do_"):
                return self._serve
            raise AttributeError(name)

        def _serve(self) -> None:
            split = urlsplit(self.path)
            try:
                body = self._body()
            except BadRequest as e:
                self.close_connection = True
                self._send(json_response(400, {"error": str(e)}))
                return
            request = Request(self.command, split.path, parse_qs(split.query), self.headers, body)
            try:
                response = app(request)
            except BadRequest as e:
                response = json_response(400, {"error": str(e)})
                self.close_connection = True
            except (ConnectionError, TimeoutError):
                raise  # the client is gone: nobody to answer
            except Exception as e:  # a full disk, a bug: answer 500, keep serving, log it
                sys.stderr.write(f"registry: {self.command} {split.path}: {type(e).__name__}: {e}\n")
                response = json_response(
                    500, {"errors": [{"code": "UNKNOWN", "message": str(e), "detail": None}]}
                )
                self.close_connection = True
            if not body.done:
                self.close_connection = True  # unread body: never parse it as the next request
            self._send(response)

        def _body(self) -> Body:
            te = self.headers.get("Transfer-Encoding")
            cl = self.headers.get_all("Content-Length") or []
            if te is not None:
                if cl:
                    raise BadRequest("both Content-Length and Transfer-Encoding")
                if te.strip().lower() != "chunked":
                    raise BadRequest(f"unsupported Transfer-Encoding: {te}")
                return Body(self.rfile, None, True)
            if len(cl) > 1:
                raise BadRequest("more than one Content-Length")
            if cl:
                text = cl[0].strip()
                if not text.isascii() or not text.isdigit():
                    raise BadRequest(f"invalid Content-Length: {text[:40]!r}")
                return Body(self.rfile, int(text), False)
            return Body(self.rfile, 0, False)

        def _send(self, response: Response) -> None:
            self.send_response(response.status)
            names = {k.lower() for k, _ in response.headers}
            for k, v in response.headers:
                self.send_header(k, v)
            length = response.file[2] if response.file else len(response.body)
            if "content-length" not in names:
                self.send_header("Content-Length", str(length))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if response.head or self.command == "HEAD":
                return
            if response.file:
                path, offset, count = response.file
                with open(path, "rb") as f:
                    self.connection.sendfile(f, offset, count)
            elif response.body:
                self.wfile.write(response.body)

        def log_message(self, format: str, *args: object) -> None:
            if debug:
                # A TLS hello sent to a plain port arrives as a "request line": keep the log readable.
                line = (format % args).encode("ascii", "backslashreplace").decode()
                sys.stderr.write(f"registry: {line}\n")

    return _Handler


class _Bounded(socketserver.ThreadingMixIn):
    """A thread per connection, up to MAX_CONNECTIONS: past that a new connection is closed at once
    rather than given a thread (a flood of idle connections cannot exhaust the process)."""

    daemon_threads = True
    _slots = threading.BoundedSemaphore(MAX_CONNECTIONS)

    def process_request(self, request, client_address) -> None:
        if not self._slots.acquire(blocking=False):
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request, client_address) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()


class _TCPServer(_Bounded, http.server.HTTPServer):
    allow_reuse_address = True

    def server_bind(self) -> None:
        socketserver.TCPServer.server_bind(self)  # HTTPServer's version resolves the host name


class _TCP6Server(_TCPServer):
    address_family = socket.AF_INET6


class _UnixServer(_Bounded, socketserver.UnixStreamServer):
    pass


class Listeners:
    """The servers of every -H address, each serving in its own thread."""

    def __init__(self) -> None:
        self._servers: list[socketserver.BaseServer] = []
        self._unix_paths: list[str] = []
        self._threads: list[threading.Thread] = []

    def add_tcp(self, host: str, port: int, handler: type) -> None:
        cls = _TCP6Server if ":" in host else _TCPServer
        self._servers.append(cls((host, port), handler))

    def add_unix(self, path: str, handler: type) -> None:
        try:
            if not os.path.exists(path) or _is_socket(path):
                os.unlink(path)
        except FileNotFoundError:
            pass
        server = _UnixServer(path, handler)
        os.chmod(path, 0o660)
        self._servers.append(server)
        self._unix_paths.append(path)

    def serve(self) -> None:
        for server in self._servers:
            t = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.5}, daemon=True)
            t.start()
            self._threads.append(t)

    def shutdown(self) -> None:
        for i, server in enumerate(self._servers):
            if i < len(self._threads):  # shutdown() waits for serve_forever, which must have started
                server.shutdown()
            server.server_close()
        for path in self._unix_paths:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass


def _is_socket(path: str) -> bool:
    import stat

    return stat.S_ISSOCK(os.lstat(path).st_mode)
