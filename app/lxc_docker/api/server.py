"""The Remote API server: listeners (unix, tcp, systemd fds), one thread per connection, dispatch.

Each connection gets its own thread, so a client streaming `/events` or attached to a container never
holds up another; handlers therefore must lock what they share, which the daemon's stores do.
"""

from __future__ import annotations

import grp
import logging
import os
import socket
import socketserver
import threading
from http.server import BaseHTTPRequestHandler
from typing import Any

from .. import __version__
from ..errors import DockerError
from ..hosts import parse_host
from .http import BodyReader, Request
from .response import Response
from .router import Router

log = logging.getLogger(__name__)


class _ConnectionHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Listener

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
        log.debug("%s", format % args)

    def version_string(self) -> str:
        return f"Docker/{__version__} (linux)"

    def address_string(self) -> str:
        return "unix" if not self.client_address else str(self.client_address[0])

    def _dispatch(self) -> None:
        self.server.api.dispatch(self)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_OPTIONS = _dispatch


class _Listener(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    # Streams (events, attach) may be open at shutdown; closing must not wait for them.
    block_on_close = False
    api: ApiServer

    def __init__(self, sock: socket.socket, api: ApiServer) -> None:
        self.api = api
        self.address_family = sock.family
        socketserver.BaseServer.__init__(self, sock.getsockname(), _ConnectionHandler)
        self.socket = sock

    def server_bind(self) -> None:  # the socket arrives bound
        pass

    def get_request(self) -> tuple[socket.socket, Any]:
        conn, addr = self.socket.accept()
        return conn, addr if self.address_family != socket.AF_UNIX else ("unix", 0)


class ApiServer:
    def __init__(self, router: Router, *, cors: bool = False, group: str = "docker") -> None:
        self.router = router
        self.cors = cors
        self.group = group
        self._listeners: list[_Listener] = []
        self._threads: list[threading.Thread] = []
        self._unix_paths: list[str] = []

    # -- listeners -----------------------------------------------------------------------------------

    def listen(self, spec: str) -> None:
        host = parse_host(spec)
        if host.proto == "unix":
            socks = [self._unix_socket(host.path)]
        elif host.proto == "tcp":
            socks = [self._tcp_socket(host.host, host.port)]
        else:
            socks = activated_sockets(host.address)
        for sock in socks:
            self.listen_socket(sock)

    def listen_socket(self, sock: socket.socket) -> None:
        """Serve on a socket that is already bound and listening (systemd's, or a test's)."""
        self._listeners.append(_Listener(sock, self))

    def _unix_socket(self, path: str) -> socket.socket:
        os.makedirs(os.path.dirname(path) or "/", exist_ok=True)
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)
        try:
            sock.bind(path)
        finally:
            os.umask(old)
        gid = 0
        if self.group:
            try:
                gid = grp.getgrnam(self.group).gr_gid
            except KeyError:
                log.debug("group %s not found; socket stays root-only", self.group)
        os.chown(path, 0, gid)
        os.chmod(path, 0o660)
        sock.listen(128)
        self._unix_paths.append(path)
        return sock

    def _tcp_socket(self, hostname: str, port: int) -> socket.socket:
        infos = socket.getaddrinfo(hostname or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, _, _, _, addr = infos[0]
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(addr)
        sock.listen(128)
        return sock

    def serve(self) -> None:
        for listener in self._listeners:
            t = threading.Thread(target=listener.serve_forever, kwargs={"poll_interval": 0.5}, daemon=True)
            t.start()
            self._threads.append(t)

    def close(self) -> None:
        for listener in self._listeners:
            listener.shutdown()
            listener.server_close()
        for path in self._unix_paths:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass

    # -- requests ------------------------------------------------------------------------------------

    def dispatch(self, conn: _ConnectionHandler) -> None:
        raw_path, _, query = conn.path.partition("?")
        te = conn.headers.get("Transfer-Encoding", "").lower()
        length_header = conn.headers.get("Content-Length")
        try:
            length = int(length_header) if length_header else None
        except ValueError:
            length = None
        body = BodyReader(conn.rfile, length, "chunked" in te)
        request = Request(conn.command, raw_path, query, conn.headers, body, (1, 9))
        response = Response(conn, request, self.cors)
        try:
            if conn.command == "OPTIONS":
                response.empty(200)
                return
            request.version, path = self.router.split_version(raw_path)
            handler, params = self.router.match(conn.command, path)
            request.params = params
            handler(request, response, **params)
            response.finish()
        except DockerError as e:
            self._fail(request, response, e.status, str(e))
        except (BrokenPipeError, ConnectionResetError):
            conn.close_connection = True
            return
        except Exception as e:  # a bug: answer 500 and keep serving
            log.exception("error handling %s %s", conn.command, raw_path)
            self._fail(request, response, 500, str(e) or e.__class__.__name__)
        if response.hijacked:
            return
        if not body.done:
            # Whatever the handler left unread would be parsed as the next request.
            conn.close_connection = True

    def _fail(self, request: Request, response: Response, status: int, message: str) -> None:
        if response.hijacked:
            return
        try:
            if response.started:
                # Mid-stream failures travel inside the stream, as Docker's clients expect.
                writer = response.writer
                if writer is not None and not writer.closed:
                    writer.write_json({"error": message, "errorDetail": {"message": message}})
                    writer.close()
                return
            if request.at_least(1, 24):
                response.json({"message": message}, status)
            else:
                response.text(message + "\n", status)
        except (BrokenPipeError, ConnectionResetError):
            pass


def activated_sockets(spec: str) -> list[socket.socket]:
    """Sockets handed over by systemd (LISTEN_PID/LISTEN_FDS); `fd://` takes all, `fd://N` one."""
    if os.environ.get("LISTEN_PID") != str(os.getpid()):
        raise OSError("no sockets found via socket activation: make sure the service was started by systemd")
    count = int(os.environ.get("LISTEN_FDS", "0") or 0)
    fds = list(range(3, 3 + count))
    if not fds:
        raise OSError("no sockets found via socket activation: LISTEN_FDS is 0")
    wanted = spec.removeprefix("fd://")
    if wanted not in ("", "*"):
        fd = int(wanted)
        if fd not in fds:
            raise OSError(f"too few socket activated files passed in: fd {fd} not among {fds}")
        fds = [fd]
    socks = []
    for fd in fds:
        sock = socket.socket(fileno=fd)
        os.set_inheritable(fd, False)
        socks.append(sock)
    return socks
