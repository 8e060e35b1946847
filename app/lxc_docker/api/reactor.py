"""The API server's threads: one selector thread that owns every waiting connection, and bounded pools.

An idle keep-alive connection, or one whose client is still sending its request head (slowly, on
purpose or not), holds no thread: the selector thread accepts, completes TLS handshakes and reads
heads without blocking, and hands a connection to a worker only once a whole head has arrived. The
worker answers and gives the connection back. Thousands of idle connections cost a file descriptor
and a small buffer each (issue 15: 1,100 idle connections had made 1,103 threads).

Workers come from two bounded pools. Long-lived requests (attach, events, `logs -f`, `wait`, build)
hold a worker for as long as they run, so they may fill the main pool; `/_ping` and `/version`,
which every client sends first, go to a small control pool of their own, which never blocks on
anything but writing a few hundred bytes, so they are answered however busy the main pool is.
"""

from __future__ import annotations

import collections
import errno
import logging
import selectors
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from .connection import BadRequest, Connection, RequestHead, _wants_io
from .pool import WorkerPool

log = logging.getLogger(__name__)

# What a TLS listener answers to plain HTTP, in Go's words (what the docker CLI shows).
PLAIN_ON_TLS = b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n"
LINGER = 2.0  # seconds to drain a refused upload so the client reads our answer, not a reset


class Reactor:
    """The selector thread and the pools; `serve(conn)` answers one request and says what next."""

    def __init__(
        self,
        serve: Callable[[Connection], str],
        is_control: Callable[[RequestHead], bool],
        *,
        workers: int,
        control_workers: int,
        idle_timeout: float,
        header_timeout: float,
    ) -> None:
        self._serve = serve
        self._is_control = is_control
        self.pool = WorkerPool("worker", workers)
        self.control = WorkerPool("control", control_workers)
        self.idle_timeout = idle_timeout
        self.header_timeout = header_timeout
        # How often deadlines are checked: a timeout is enforced within a quarter of itself.
        self._tick = max(0.05, min(1.0, idle_timeout / 4, header_timeout / 4))
        self._sel = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._sel.register(self._wake_r, selectors.EVENT_READ, ("wake", None))
        self._returns: collections.deque[Connection] = collections.deque()
        self._conns: dict[int, Connection] = {}  # fd -> connection waiting in the selector
        self._lingering: dict[int, Connection] = {}
        self._listeners: list[Any] = []
        self._running = False
        self._thread: threading.Thread | None = None

    @property
    def waiting(self) -> int:
        """Connections held by the selector (idle or mid-head)."""
        return len(self._conns)

    def add_listener(self, listener: Any) -> None:
        listener.sock.setblocking(False)
        self._listeners.append(listener)
        if self._running:
            self._call_soon()

    def start(self) -> None:
        self._running = True
        for listener in self._listeners:
            self._sel.register(listener.sock, selectors.EVENT_READ, ("listen", listener))
        self._thread = threading.Thread(target=self._loop, name="api-selector", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._running = False
        self._call_soon()
        if self._thread is not None:
            self._thread.join(5)
        self.pool.close()
        self.control.close()

    def give_back(self, conn: Connection, linger: bool = False) -> None:
        """From a worker: the connection waits for its next request (or drains, then closes)."""
        conn.lingering = linger
        self._returns.append(conn)
        self._call_soon()

    def _call_soon(self) -> None:
        try:
            self._wake_w.send(b"\0")
        except OSError:
            pass  # the pipe is full: the selector is awake anyway

    # -- the selector thread --------------------------------------------------------------------------

    def _loop(self) -> None:
        last_sweep = time.monotonic()
        try:
            while self._running:
                for key, _ in self._sel.select(self._tick):
                    kind, obj = key.data
                    if kind == "wake":
                        self._drain_wake()
                    elif kind == "listen":
                        self._accept(obj)
                    elif kind == "linger":
                        self._linger_read(obj)
                    else:
                        self._readable(obj)
                while self._returns:
                    self._take_back(self._returns.popleft())
                now = time.monotonic()
                if now - last_sweep >= self._tick:
                    last_sweep = now
                    self._sweep(now)
        finally:
            for conn in list(self._conns.values()) + list(self._lingering.values()):
                conn.close()
            self._conns.clear()
            self._lingering.clear()
            self._sel.close()

    def _drain_wake(self) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except OSError:
            pass

    def _accept(self, listener: Any) -> None:
        for _ in range(256):  # then let the other sockets have a turn
            try:
                sock, addr = listener.sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:
                if e.errno in (errno.EMFILE, errno.ENFILE):
                    # Out of descriptors: the connection idle longest makes room for a new one.
                    if not self._evict_oldest():
                        log.warning("too many open connections; refusing new ones for now")
                        return
                    continue
                if e.errno in (errno.ECONNABORTED, errno.EPROTO):
                    continue
                raise
            sock.setblocking(False)
            if listener.tcp:
                try:
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                except OSError:
                    pass
            peer = addr[0] if isinstance(addr, tuple) and addr else "unix"
            conn = Connection(sock, listener, str(peer))
            timeout = self.header_timeout if listener.tls is not None else self.idle_timeout
            self._watch(conn, time.monotonic() + timeout)

    def _evict_oldest(self) -> bool:
        if not self._conns:
            return False
        oldest = min(self._conns.values(), key=lambda c: c.deadline)
        self._forget(oldest)
        oldest.close()
        return True

    def _watch(self, conn: Connection, deadline: float, events: int = selectors.EVENT_READ) -> None:
        conn.deadline = deadline
        fd = conn.sock.fileno()
        self._conns[fd] = conn
        self._sel.register(conn.sock, events, ("conn", conn))

    def _forget(self, conn: Connection) -> None:
        fd = conn.sock.fileno()
        self._conns.pop(fd, None)
        self._lingering.pop(fd, None)
        try:
            self._sel.unregister(conn.sock)
        except (KeyError, ValueError):
            pass

    def _take_back(self, conn: Connection) -> None:
        try:
            conn.sock.setblocking(False)
            if conn.lingering:
                conn.sock.shutdown(socket.SHUT_WR)
                conn.deadline = time.monotonic() + LINGER
                self._lingering[conn.sock.fileno()] = conn
                self._sel.register(conn.sock, selectors.EVENT_READ, ("linger", conn))
                return
            self._watch(conn, time.monotonic() + self.idle_timeout)
        except (OSError, ValueError):
            self._forget(conn)
            conn.close()
            return
        if conn.inbox:
            self._readable(conn)  # a partial pipelined head: start its clock now

    def _linger_read(self, conn: Connection) -> None:
        try:
            if conn.sock.recv(65536):
                return
        except (BlockingIOError, InterruptedError):
            return
        except OSError as e:
            if _wants_io(e):
                return
        self._forget(conn)
        conn.close()

    def _sweep(self, now: float) -> None:
        for conn in [c for c in self._conns.values() if c.deadline <= now]:
            self._forget(conn)
            conn.close()
        for conn in [c for c in self._lingering.values() if c.deadline <= now]:
            self._forget(conn)
            conn.close()

    def _readable(self, conn: Connection) -> None:
        if not conn.handshaken:
            self._handshake(conn)
            if not conn.handshaken:
                return
        had_bytes = bool(conn.inbox)
        try:
            complete = conn.feed()
        except BadRequest as e:
            self._refuse(conn, e)
            return
        if complete is None:
            self._forget(conn)
            conn.close()
            return
        if not complete:
            if not had_bytes and conn.inbox:
                if conn.listener.tls is None and conn.inbox[:1] == b"\x16":
                    # A TLS ClientHello on a plain listener: no HTTP request starts with 0x16.
                    self._forget(conn)
                    conn.close()
                    return
                # The head has begun: it must now be complete within the header timeout.
                conn.deadline = min(conn.deadline, time.monotonic() + self.header_timeout)
            return
        try:
            head = conn.take_head()
        except BadRequest as e:
            self._refuse(conn, e)
            return
        self._forget(conn)
        pool = self.control if self._is_control(head) else self.pool
        pool.submit(self._work, conn)

    def _handshake(self, conn: Connection) -> None:
        ctx = conn.listener.tls
        if not hasattr(conn.sock, "do_handshake"):
            try:
                first = conn.sock.recv(1, socket.MSG_PEEK)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                first = b""
            if first and first != b"\x16":
                self._forget(conn)
                try:
                    conn.sock.send(PLAIN_ON_TLS)
                except OSError:
                    pass
                conn.close()
                return
            if not first:
                self._forget(conn)
                conn.close()
                return
            self._forget(conn)
            try:
                conn.sock = ctx.wrap_socket(conn.sock, server_side=True, do_handshake_on_connect=False)
            except OSError:
                conn.close()
                return
            self._watch(conn, conn.deadline)
        try:
            conn.sock.do_handshake()
        except OSError as e:
            name = type(e).__name__
            if name == "SSLWantReadError":
                self._sel.modify(conn.sock, selectors.EVENT_READ, ("conn", conn))
                return
            if name == "SSLWantWriteError":
                self._sel.modify(conn.sock, selectors.EVENT_WRITE, ("conn", conn))
                return
            log.debug("TLS handshake with %s failed: %s", conn.peer, e)
            # Linger rather than close: a close with the client's next bytes unread would reset
            # the connection before the client reads the alert that says why (certificate required).
            self._forget(conn)
            conn.lingering = True
            self._take_back(conn)
            return
        conn.handshaken = True
        self._sel.modify(conn.sock, selectors.EVENT_READ, ("conn", conn))
        conn.deadline = time.monotonic() + self.idle_timeout

    def _refuse(self, conn: Connection, error: BadRequest) -> None:
        self._forget(conn)
        body = (str(error) + "\n").encode("latin-1", "replace")
        reason = {400: "Bad Request", 431: "Request Header Fields Too Large", 501: "Not Implemented"}
        head = (
            f"HTTP/1.1 {error.status} {reason.get(error.status, 'Bad Request')}\r\n"
            f"Content-Type: text/plain; charset=utf-8\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n"
        )
        try:
            conn.sock.send(head.encode() + body)  # small: fits the empty send buffer
        except OSError:
            pass
        conn.lingering = True
        self._take_back(conn)

    # -- a worker ------------------------------------------------------------------------------------

    def _work(self, conn: Connection) -> None:
        while True:
            try:
                conn.sock.settimeout(self.idle_timeout)
                outcome = self._serve(conn)
            except OSError:
                outcome = "close"
            if outcome == "hijacked":
                # The handler has finished with the raw stream (attach): the socket is ours to close.
                conn.close()
                return
            if outcome != "keep":
                if outcome == "linger":
                    self.give_back(conn, linger=True)
                else:
                    conn.close()
                return
            # Pipelined bytes (or TLS records already decrypted) would never wake the selector.
            try:
                conn.sock.setblocking(False)
                complete = conn.feed()
                if complete:
                    conn.take_head()
            except BadRequest as e:
                self._returns_refuse(conn, e)
                return
            except OSError:
                conn.close()
                return
            if complete is None:
                conn.close()
                return
            if not complete:
                self.give_back(conn)
                return

    def _returns_refuse(self, conn: Connection, error: BadRequest) -> None:
        try:
            body = (str(error) + "\n").encode()
            conn.sock.setblocking(True)
            conn.sock.settimeout(2)
            conn.sock.sendall(
                f"HTTP/1.1 {error.status} Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                + body
            )
        except OSError:
            pass
        conn.close()
