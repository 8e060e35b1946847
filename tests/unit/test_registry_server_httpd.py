"""The registry's HTTP server: framing it refuses, keep-alive after a read body, the connection cap."""

from __future__ import annotations

import socket
import threading

import pytest

from lib.poll import poll
from lxc_docker.registry.server import httpd


def _echo(req: httpd.Request) -> httpd.Response:
    if req.path == "/boom":
        raise OSError(28, "No space left on device")
    if req.method == "POST":
        return httpd.Response(200, req.body.read_all(1 << 20))
    return httpd.Response(200, b"ok")  # leaves any body unread


@pytest.fixture
def server(monkeypatch):
    monkeypatch.setattr(httpd._Bounded, "_slots", threading.BoundedSemaphore(2))
    srv = httpd._TCPServer(("127.0.0.1", 0), httpd.make_handler_class(_echo, False))
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    yield srv.server_address[1]
    srv.shutdown()
    srv.server_close()


def _exchange(port: int, raw: bytes) -> bytes:
    out = b""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        try:
            s.sendall(raw)
            s.shutdown(socket.SHUT_WR)
            while chunk := s.recv(65536):
                out += chunk
        except OSError:  # a connection the server closed at once (the cap) reads as nothing
            pass
    return out


def test_refused_framing(server) -> None:
    both = (
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3\r\nabc\r\n0\r\n\r\n"
    )
    out = _exchange(server, both)
    assert out.startswith(b"HTTP/1.1 400") and b"Connection: close" in out
    two = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc"
    assert _exchange(server, two).startswith(b"HTTP/1.1 400")
    sign = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +3\r\n\r\nabc"
    assert _exchange(server, sign).startswith(b"HTTP/1.1 400")


def test_keep_alive_and_unread_bodies(server) -> None:
    # Two requests on one connection, the first chunked: both answered.
    two = (
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\nde"
    )
    out = _exchange(server, two)
    assert out.count(b"HTTP/1.1 200") == 2 and out.endswith(b"de")
    # A body the handler left unread closes the connection: it is never parsed as a request.
    smuggled = (
        b"PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 37\r\n\r\nGET /second HTTP/1.1\r\nHost: x\r\n\r\n"
    )
    out = _exchange(server, smuggled)
    assert out.count(b"HTTP/1.1 ") == 1 and b"Connection: close" in out


def test_connections_past_the_cap_are_closed(server) -> None:
    held = [socket.create_connection(("127.0.0.1", server), timeout=10) for _ in range(2)]
    try:
        # Both slots are taken once each held connection has been served once.
        for s in held:
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert s.recv(4096).startswith(b"HTTP/1.1 200")
        with socket.create_connection(("127.0.0.1", server), timeout=10) as extra:
            extra.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert extra.recv(4096) == b""
    finally:
        for s in held:
            s.close()
    # The freed slots come back once the server sees the closes.
    get = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    assert poll(lambda: _exchange(server, get), what="a slot to free").startswith(b"HTTP/1.1 200")


def test_a_failing_handler_is_a_500_and_the_server_goes_on(server, capsys) -> None:
    out = _exchange(server, b"GET /boom HTTP/1.1\r\nHost: x\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 500") and b"No space left on device" in out
    assert _exchange(server, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").startswith(
        b"HTTP/1.1 200"
    )
