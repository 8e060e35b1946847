"""The userland proxy: forwards published host ports (TCP and UDP) to containers from one thread.

iptables DNAT does not apply to connections to 127.0.0.1 (the kernel never routes loopback traffic
out of another interface), nor to a container reaching its own published port; the proxy covers
both, and its bound socket is what makes a host port "taken" for other programs. All listeners
and connections share one selector loop in one thread, started with the first mapping and ended
with the last, instead of Docker's two goroutines per connection.
"""

from __future__ import annotations

import collections
import errno
import logging
import os
import selectors
import socket
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

# Bytes read per recv: large enough that a bulk transfer costs few loop iterations.
_CHUNK = 256 * 1024
# Docker's UDP proxy forgot a client after 90 seconds without traffic.
UDP_IDLE_TIMEOUT = 90.0
_UDP_MAX = 65535
_READ, _WRITE = selectors.EVENT_READ, selectors.EVENT_WRITE


def bind(proto: str, host_ip: str, host_port: int) -> socket.socket:
    """Bind the host side of a mapping in the caller's thread, so a busy port fails right there."""
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    sock = socket.socket(socket.AF_INET, kind)
    try:
        if proto == "tcp":
            # Lets a released port be bound again while old connections sit in TIME_WAIT; Linux still
            # refuses it while anything listens there. Not for UDP, where it would allow double binds.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host_ip, host_port))
        if proto == "tcp":
            sock.listen(128)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


class _Handler:
    """Something registered in the loop: gets the ready socket and event mask."""

    def on_event(self, sock: socket.socket, mask: int) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class _Channel:
    """One direction of a connection: a buffer holding what the receiver has not taken yet.

    splice(2) through a pipe was tried instead and measured no faster on loopback (the kernel
    copies there anyway), so the bytes go through Python.
    """

    def __init__(self) -> None:
        self.buffer = memoryview(bytearray(_CHUNK))
        self.data: memoryview | None = None

    @property
    def pending(self) -> bool:
        return self.data is not None

    def fill(self, src: socket.socket) -> int:
        n = src.recv_into(self.buffer)
        self.data = self.buffer[:n] if n else None
        return n

    def drain(self, dst: socket.socket) -> None:
        sent = dst.send(self.data)
        self.data = self.data[sent:] if sent < len(self.data) else None

    def close(self) -> None:
        self.data = None


class _TcpConnection(_Handler):
    """One client connection and its connection to the container; data flows both ways."""

    def __init__(
        self, loop: ProxyLoop, owner: _TcpListener, client: socket.socket, upstream: socket.socket
    ) -> None:
        self.loop, self.owner = loop, owner
        self.socks = (client, upstream)
        # channels[i] carries what socks[i] sent towards socks[1 - i].
        self.channels = (_Channel(), _Channel())
        self.eof = [False, False]
        self.connected = False
        self.registered = [0, 0]
        self.closed = False

    def start(self) -> None:
        self._update()

    def _interest(self, i: int) -> int:
        if not self.connected:
            return _WRITE if i == 1 else 0
        events = 0
        if not self.eof[i] and not self.channels[i].pending:
            events |= _READ
        if self.channels[1 - i].pending:
            events |= _WRITE
        return events

    def _update(self) -> None:
        for i, sock in enumerate(self.socks):
            want = self._interest(i)
            if want == self.registered[i]:
                continue
            if not self.registered[i]:
                self.loop.selector.register(sock, want, (self, i))
            elif not want:
                self.loop.selector.unregister(sock)
            else:
                self.loop.selector.modify(sock, want, (self, i))
            self.registered[i] = want

    def _flush(self, src: int) -> None:
        """Send what is pending from socks[src] to the other side; half-close after its EOF."""
        dst = self.socks[1 - src]
        channel = self.channels[src]
        if channel.pending:
            try:
                channel.drain(dst)
            except BlockingIOError:
                pass
        if not channel.pending and self.eof[src]:
            try:
                dst.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    def on_event(self, sock: socket.socket, mask: int) -> None:
        if self.closed:
            return  # closed by an earlier event of the same select() batch
        i = 0 if sock is self.socks[0] else 1
        try:
            if not self.connected:
                err = self.socks[1].getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    raise OSError(err, os.strerror(err))
                self.connected = True
            else:
                if mask & _WRITE:
                    self._flush(1 - i)
                if mask & _READ and not self.channels[i].pending and not self.eof[i]:
                    if self.channels[i].fill(sock) == 0:
                        self.eof[i] = True
                    # Usually the other side takes it all at once: no extra trip through select.
                    self._flush(i)
        except (BlockingIOError, InterruptedError):
            pass
        except OSError as e:
            # Container not listening, reset by either side: both ends go, like a failed connection.
            log.debug("proxy connection closed: %s", e)
            self.close()
            return
        if self.eof[0] and self.eof[1] and not self.channels[0].pending and not self.channels[1].pending:
            self.close()
            return
        self._update()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for i, sock in enumerate(self.socks):
            if self.registered[i]:
                self.loop.selector.unregister(sock)
            sock.close()
            self.channels[i].close()
        self.owner.connections.discard(self)


class _TcpListener(_Handler):
    def __init__(self, loop: ProxyLoop, sock: socket.socket, target: tuple[str, int]) -> None:
        self.loop, self.sock, self.target = loop, sock, target
        self.connections: set[_TcpConnection] = set()
        self.closed = False

    def start(self) -> None:
        self.loop.selector.register(self.sock, _READ, (self, 0))

    def on_event(self, sock: socket.socket, mask: int) -> None:
        for _ in range(64):
            try:
                client, _addr = self.sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:
                # EMFILE and friends: keep serving the connections we have.
                log.warning("proxy accept on %s failed: %s", self.sock.getsockname(), e)
                return
            client.setblocking(False)
            upstream = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            upstream.setblocking(False)
            for s in (client, upstream):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            err = upstream.connect_ex(self.target)
            if err not in (0, errno.EINPROGRESS):
                client.close()
                upstream.close()
                continue
            conn = _TcpConnection(self.loop, self, client, upstream)
            self.connections.add(conn)
            conn.start()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.loop.selector.unregister(self.sock)
        self.sock.close()
        for conn in list(self.connections):
            conn.close()


class _UdpFlow(_Handler):
    """The relay for one UDP client: a socket connected to the container."""

    def __init__(self, owner: _UdpListener, client: tuple[str, int]) -> None:
        self.owner, self.client = owner, client
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setblocking(False)
        self.sock.connect(owner.target)
        self.last = time.monotonic()
        self.closed = False
        owner.loop.selector.register(self.sock, _READ, (self, 0))

    def on_event(self, sock: socket.socket, mask: int) -> None:
        for _ in range(64 if not self.closed else 0):
            try:
                data = self.sock.recv(_UDP_MAX)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                # ICMP port unreachable from the container, reported on the next read: not fatal.
                continue
            self.last = time.monotonic()
            try:
                self.owner.sock.sendto(data, self.client)
            except OSError:
                pass

    def send(self, data: bytes) -> None:
        self.last = time.monotonic()
        try:
            self.sock.send(data)
        except OSError:
            pass

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.owner.loop.selector.unregister(self.sock)
        self.sock.close()


class _UdpListener(_Handler):
    def __init__(self, loop: ProxyLoop, sock: socket.socket, target: tuple[str, int]) -> None:
        self.loop, self.sock, self.target = loop, sock, target
        self.flows: dict[tuple[str, int], _UdpFlow] = {}
        self.closed = False

    def start(self) -> None:
        self.loop.selector.register(self.sock, _READ, (self, 0))

    def on_event(self, sock: socket.socket, mask: int) -> None:
        for _ in range(64):
            try:
                data, client = self.sock.recvfrom(_UDP_MAX)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                continue
            flow = self.flows.get(client)
            if flow is None:
                try:
                    flow = self.flows[client] = _UdpFlow(self, client)
                except OSError as e:
                    log.warning("proxy cannot relay UDP to %s: %s", self.target, e)
                    continue
            flow.send(data)

    def expire(self, now: float, timeout: float) -> None:
        for client, flow in list(self.flows.items()):
            if now - flow.last > timeout:
                flow.close()
                del self.flows[client]

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.loop.selector.unregister(self.sock)
        self.sock.close()
        for flow in self.flows.values():
            flow.close()
        self.flows.clear()


class ProxyLoop:
    """Every proxied port of one daemon. Thread-safe: `add` and `remove` may come from any thread."""

    def __init__(self, udp_idle_timeout: float = UDP_IDLE_TIMEOUT) -> None:
        self.udp_idle_timeout = udp_idle_timeout
        self.selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self.selector.register(self._wake_r, _READ, None)
        self._calls: collections.deque[Callable[[], None]] = collections.deque()
        self._lock = threading.Lock()
        self._listeners: dict[int, _TcpListener | _UdpListener] = {}
        self._count = 0
        self._next_id = 0
        self._thread: threading.Thread | None = None
        self._closed = False

    # -- called from any thread ------------------------------------------------------------------

    def add(self, proto: str, sock: socket.socket, target: tuple[str, int]) -> int:
        """Serve `sock` (from `bind`), forwarding to `target`; returns a handle for `remove`."""
        with self._lock:
            if self._closed:
                sock.close()
                raise RuntimeError("proxy loop is closed")
            self._next_id += 1
            handle = self._next_id
            self._count += 1
            listener = (
                _TcpListener(self, sock, target) if proto == "tcp" else _UdpListener(self, sock, target)
            )

            def register() -> None:
                self._listeners[handle] = listener
                listener.start()

            self._calls.append(register)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="docker-proxy", daemon=True)
                self._thread.start()
        self._wake()
        return handle

    def remove(self, handle: int, timeout: float = 10.0) -> None:
        """Stop forwarding `handle` and close its sockets; returns once the port is free again."""
        done = threading.Event()

        def unregister() -> None:
            listener = self._listeners.pop(handle, None)
            if listener is not None:
                listener.close()
                with self._lock:
                    self._count -= 1
            done.set()

        with self._lock:
            if self._thread is None:
                return
            self._calls.append(unregister)
        self._wake()
        if not done.wait(timeout):
            log.warning("proxy loop did not release mapping %d in %.0fs", handle, timeout)

    @property
    def closed(self) -> bool:
        return self._closed

    def thread_alive(self) -> bool:
        with self._lock:
            return self._thread is not None

    def close(self) -> None:
        """Stop every mapping and the thread; the loop cannot be used afterwards. Idempotent."""
        with self._lock:
            if self._closed:
                return
            handles = list(self._listeners) if self._thread is not None else []
        for handle in handles:
            self.remove(handle)
        with self._lock:
            self._closed = True
            thread = self._thread
        if thread is not None:
            self._wake()
            thread.join(10)
        self.selector.close()
        os.close(self._wake_r)
        os.close(self._wake_w)

    def _wake(self) -> None:
        try:
            os.write(self._wake_w, b"x")
        except BlockingIOError:
            pass  # already a wake-up pending

    # -- the loop thread -------------------------------------------------------------------------

    def _run_calls(self) -> None:
        try:
            while os.read(self._wake_r, 4096):
                pass
        except BlockingIOError:
            pass
        while True:
            with self._lock:
                if not self._calls:
                    return
                call = self._calls.popleft()
            call()

    def _run(self) -> None:
        next_sweep = time.monotonic() + 1.0
        while True:
            self._run_calls()
            with self._lock:
                if (self._count == 0 or self._closed) and not self._calls:
                    self._thread = None
                    return
            has_udp = any(isinstance(lst, _UdpListener) and lst.flows for lst in self._listeners.values())
            timeout = max(0.0, next_sweep - time.monotonic()) if has_udp else None
            for key, mask in self.selector.select(timeout):
                if key.data is None:
                    continue  # the wake-up pipe; drained by _run_calls
                handler, _ = key.data
                try:
                    handler.on_event(key.fileobj, mask)
                except Exception:
                    log.exception("proxy handler failed")
                    try:
                        handler.close()
                    except Exception:
                        pass
            now = time.monotonic()
            if now >= next_sweep:
                next_sweep = now + 1.0
                for listener in self._listeners.values():
                    if isinstance(listener, _UdpListener):
                        listener.expire(now, self.udp_idle_timeout)
