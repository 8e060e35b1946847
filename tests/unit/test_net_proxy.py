"""The userland proxy on 127.0.0.1: TCP both ways with half-close, UDP relay and expiry, thread lifecycle."""

from __future__ import annotations

import errno
import socket
import threading

import pytest

from lib.poll import wait_for
from lxc_docker.network.proxy import ProxyLoop, bind


@pytest.fixture
def loop():
    lp = ProxyLoop(udp_idle_timeout=0.3)
    yield lp
    lp.close()
    assert not lp.thread_alive()


@pytest.fixture
def tcp_upper():
    """A TCP server that answers each connection with the upper-cased bytes it got, after EOF."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()

    def serve():
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            with conn:
                data = b""
                while chunk := conn.recv(65536):
                    data += chunk
                conn.sendall(data.upper())

    threading.Thread(target=serve, daemon=True).start()
    yield srv.getsockname()
    srv.close()


def test_tcp_round_trip_with_half_close(loop, tcp_upper):
    listener = bind("tcp", "127.0.0.1", 0)
    port = listener.getsockname()[1]
    handle = loop.add("tcp", listener, tcp_upper)
    payload = b"hello proxy " * 100_000
    with socket.create_connection(("127.0.0.1", port)) as c:
        c.sendall(payload)
        c.shutdown(socket.SHUT_WR)
        got = b""
        while chunk := c.recv(65536):
            got += chunk
    assert got == payload.upper()
    loop.remove(handle)
    assert wait_for(lambda: not loop.thread_alive())


def test_busy_port_fails_at_bind(loop):
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    with pytest.raises(OSError) as info:
        bind("tcp", "127.0.0.1", holder.getsockname()[1])
    assert info.value.errno == errno.EADDRINUSE
    holder.close()


def test_port_is_free_again_after_remove(loop, tcp_upper):
    listener = bind("tcp", "127.0.0.1", 0)
    port = listener.getsockname()[1]
    handle = loop.add("tcp", listener, tcp_upper)
    with socket.create_connection(("127.0.0.1", port)) as c:
        c.sendall(b"x")
        c.shutdown(socket.SHUT_WR)
        assert c.recv(10) == b"X"
    loop.remove(handle)
    bind("tcp", "127.0.0.1", port).close()


def test_refused_upstream_closes_the_client(loop):
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))
    target = dead.getsockname()
    dead.close()  # nothing listens there
    listener = bind("tcp", "127.0.0.1", 0)
    loop.add("tcp", listener, target)
    with socket.create_connection(listener.getsockname(), timeout=5) as c:
        assert c.recv(10) == b""


def test_remove_closes_open_connections(loop, tcp_upper):
    listener = bind("tcp", "127.0.0.1", 0)
    handle = loop.add("tcp", listener, tcp_upper)
    c = socket.create_connection(listener.getsockname(), timeout=5)
    c.sendall(b"pending")
    loop.remove(handle)
    try:
        assert c.recv(10) == b""
    except ConnectionResetError:
        pass  # closed with unread data: a reset, equally final
    c.close()


def test_udp_relay_per_client_and_idle_expiry(loop):
    echo = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    echo.bind(("127.0.0.1", 0))
    seen: list[tuple[str, int]] = []

    def serve():
        while True:
            try:
                data, addr = echo.recvfrom(65535)
            except OSError:
                return
            seen.append(addr)
            echo.sendto(data[::-1], addr)

    threading.Thread(target=serve, daemon=True).start()
    listener = bind("udp", "127.0.0.1", 0)
    handle = loop.add("udp", listener, echo.getsockname())
    clients = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(2)]
    for i, c in enumerate(clients):
        c.settimeout(5)
        c.sendto(f"abc{i}".encode(), listener.getsockname())
        assert c.recvfrom(100)[0] == f"{i}cba".encode()
        c.sendto(b"again", listener.getsockname())
        assert c.recvfrom(100)[0] == b"niaga"
    # One relay socket per client, reused for its second datagram.
    assert len(set(seen)) == 2 and len(seen) == 4
    listener_obj = loop._listeners[handle]
    assert wait_for(lambda: not listener_obj.flows, timeout=5)
    for c in clients:
        c.close()
    loop.remove(handle)
    echo.close()


def test_udp_port_cannot_be_bound_twice():
    first = bind("udp", "127.0.0.1", 0)
    with pytest.raises(OSError):
        bind("udp", "127.0.0.1", first.getsockname()[1])
    first.close()


def test_many_mappings_one_thread(loop, tcp_upper):
    before = threading.active_count()
    handles = [loop.add("tcp", bind("tcp", "127.0.0.1", 0), tcp_upper) for _ in range(20)]
    assert threading.active_count() == before + 1
    for h in handles:
        loop.remove(h)
    assert wait_for(lambda: threading.active_count() == before)
