"""The Remote API server: listeners (unix, tcp, tcp+TLS, systemd fds), the edge checks, dispatch.

Connections are served by `reactor.py`: a selector thread holds idle connections and reads request
heads; bounded worker pools answer complete requests. Handlers run on worker threads and must lock
what they share, which the daemon's stores do.

On tcp the daemon is reachable from every web page the user opens, so there it refuses what only a
browser would send (issue 15, CSRF and DNS rebinding): a `Host` that is not one of its own names or
addresses, an `Origin` header (unless `--api-enable-cors`), and a JSON body not labelled
`application/json` (`Request.json`). A unix socket is out of a browser's reach and accepts anything.
"""

from __future__ import annotations

import grp
import ipaddress
import logging
import os
import socket
from typing import Any

from ..errors import DockerError, Forbidden, InvalidParameter
from ..hosts import DEFAULT_TCP_PORT, DEFAULT_TLS_PORT, parse_host
from .connection import Connection, RequestHead
from .http import BodyReader, Request
from .reactor import Reactor
from .response import Response
from .router import Router

log = logging.getLogger(__name__)

# Sizing of the worker pools (see reactor.py). Streams (attach, events, `logs -f`, wait, build) hold
# a main worker each for as long as they run; 256 of them at once is far beyond what one host's
# clients open, and each costs a thread only while it runs. `/_ping` and `/version` have a pool of
# their own, so a main pool full of streams never stops a client from starting.
WORKERS = 256
CONTROL_WORKERS = 4
# A connection waiting for its next request is closed after IDLE_TIMEOUT; a request head must
# arrive whole within HEADER_TIMEOUT of its first byte (a TLS handshake too); a worker reading a
# body or writing an answer gives up after IDLE_TIMEOUT without progress.
IDLE_TIMEOUT = 120.0
HEADER_TIMEOUT = 30.0
_CONTROL_PATHS = frozenset(("/_ping", "/version"))
_LOOPBACK_NAMES = frozenset(("localhost", "127.0.0.1", "::1"))


class Listener:
    """A listening socket and what its connections must pass."""

    def __init__(self, sock: socket.socket, tls: Any, cors: bool) -> None:
        self.sock = sock
        self.tcp = sock.family in (socket.AF_INET, socket.AF_INET6)
        self.tls = tls if self.tcp else None
        # Behind TLS a browser checks the daemon's certificate against the name it used, which
        # defeats DNS rebinding; on plain tcp the Host header is all we have.
        self.check_host = self.tcp and self.tls is None
        self.check_origin = self.tcp and not cors
        self.allowed_hosts = set(_LOOPBACK_NAMES)
        if self.tcp:
            bound = sock.getsockname()[0]
            if not ipaddress.ip_address(bound.split("%")[0]).is_unspecified:
                self.allowed_hosts.add(bound.lower())
            self.allowed_hosts.add(socket.gethostname().lower())

    def add_name(self, name: str) -> None:
        if name:
            self.allowed_hosts.add(name.lower().rstrip("."))


class ApiServer:
    def __init__(
        self,
        router: Router,
        *,
        cors: bool = False,
        group: str = "docker",
        tls: Any = None,
        workers: int = WORKERS,
        control_workers: int = CONTROL_WORKERS,
        idle_timeout: float = IDLE_TIMEOUT,
        header_timeout: float = HEADER_TIMEOUT,
    ) -> None:
        """`tls` is an `ssl.SSLContext` for tcp listeners (see api/tls.py), or None for plain tcp."""
        self.router = router
        self.cors = cors
        self.group = group
        self.tls = tls
        self.reactor = Reactor(
            self._serve,
            _is_control,
            workers=workers,
            control_workers=control_workers,
            idle_timeout=idle_timeout,
            header_timeout=header_timeout,
        )
        self._listeners: list[Listener] = []
        self._unix_paths: list[str] = []

    # -- listeners -----------------------------------------------------------------------------------

    def listen(self, spec: str) -> None:
        host = parse_host(spec, default_port=DEFAULT_TLS_PORT if self.tls else DEFAULT_TCP_PORT)
        if host.proto == "unix":
            socks = [self._unix_socket(host.path)]
        elif host.proto == "tcp":
            socks = [self._tcp_socket(host.host, host.port)]
        else:
            socks = activated_sockets(host.address)
        for sock in socks:
            listener = self.listen_socket(sock)
            if host.proto == "tcp":
                listener.add_name(host.host or "")

    def listen_socket(self, sock: socket.socket) -> Listener:
        """Serve on a socket that is already bound and listening (systemd's, or a test's)."""
        listener = Listener(sock, self.tls, self.cors)
        self._listeners.append(listener)
        self.reactor.add_listener(listener)
        return listener

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
        sock.listen(socket.SOMAXCONN)
        self._unix_paths.append(path)
        return sock

    def _tcp_socket(self, hostname: str, port: int) -> socket.socket:
        infos = socket.getaddrinfo(hostname or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, _, _, _, addr = infos[0]
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(addr)
        sock.listen(socket.SOMAXCONN)
        return sock

    def serve(self) -> None:
        self.reactor.start()

    def close(self) -> None:
        self.reactor.stop()
        for listener in self._listeners:
            listener.sock.close()
        for path in self._unix_paths:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass

    # -- requests ------------------------------------------------------------------------------------

    def _serve(self, conn: Connection) -> str:
        """Answer the request whose head `conn` holds: "keep", "close", "linger" or "hijacked"."""
        head = conn.head
        assert head is not None
        raw_path, _, query = head.target.partition("?")
        conn.close_after = not head.keep_alive
        body = BodyReader(conn, head.length, head.chunked)
        request = Request(head.method, raw_path, query, head.headers, body, (1, 9))
        request.json_type_required = conn.listener.tcp
        response = Response(conn, request, self.cors)
        log.debug("%s %s %s (from %s)", head.method, head.target, head.version, conn.peer)
        try:
            try:
                self._check_edge(conn.listener, conn, head)
                if head.method == "OPTIONS":
                    response.empty(200)
                    return "keep" if not conn.close_after else "close"
                request.version, path = self.router.split_version(raw_path)
                handler, params = self.router.match(head.method, path)
                request.params = params
                if (head.headers.get("Expect") or "").lower() == "100-continue" and not body.done:
                    conn.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                handler(request, response, **params)
                response.finish()
            except OverflowError as e:
                # A number from the request that Python cannot hold (`since=inf`, `t=1e400`).
                raise InvalidParameter(f"value out of range: {e}") from e
        except DockerError as e:
            conn.close_after = conn.close_after or e.status in (403, 413)
            self._fail(request, response, e.status, str(e))
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            return "close"
        except Exception as e:  # a bug: answer 500 and keep serving
            log.exception("error handling %s %s", head.method, raw_path)
            self._fail(request, response, 500, str(e) or e.__class__.__name__)
        if response.hijacked:
            return "hijacked"
        if not body.done:
            # Whatever the handler left unread would be parsed as the next request.
            return "linger"
        return "close" if conn.close_after else "keep"

    def _check_edge(self, listener: Listener, conn: Connection, head: RequestHead) -> None:
        if listener.check_host:
            host = head.headers.get("Host")
            if host is None:
                if head.version != "HTTP/1.0":
                    raise InvalidParameter("missing Host header")
            elif not _host_allowed(_host_name(host), listener, conn):
                raise Forbidden(
                    f"Host {host!r} is not a name or address of this daemon (DNS rebinding protection); "
                    "connect with localhost, an IP address of this host or the name given to -H"
                )
        origin = head.headers.get("Origin")
        if listener.check_origin and origin is not None and not _same_origin(origin, head, listener):
            raise Forbidden(
                "cross-origin request refused: a web page may not drive the Docker daemon "
                "(start the daemon with --api-enable-cors to allow browsers)"
            )

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
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            pass


def _is_control(head: RequestHead) -> bool:
    if head.method not in ("GET", "HEAD"):
        return False
    path = head.target.partition("?")[0]
    if path.startswith("/v"):
        path = "/" + path.split("/", 2)[-1] if path.count("/") >= 2 else path
    return path in _CONTROL_PATHS


def _same_origin(origin: str, head: RequestHead, listener: Listener) -> bool:
    """An Origin naming the daemon's own address (what WebSocket clients such as the SDK's send):
    no page is served from there, and the Host check above has vouched for the name."""
    host = head.headers.get("Host")
    scheme = "https" if listener.tls is not None else "http"
    return host is not None and origin.strip().lower() == f"{scheme}://{host.strip().lower()}"


def _host_name(value: str) -> str:
    """The host part of a Host header: without port, brackets or trailing dot, lowercase."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1:].partition("]")[0]
    if value.count(":") == 1:
        value = value.partition(":")[0]
    return value.rstrip(".")


def _host_allowed(name: str, listener: Listener, conn: Connection) -> bool:
    if name in listener.allowed_hosts:
        return True
    try:
        # The address this client actually connected to (a daemon on 0.0.0.0 serves them all).
        local = conn.sock.getsockname()[0].lower()
    except OSError:
        return False
    return name == local or name == local.removeprefix("::ffff:")


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
