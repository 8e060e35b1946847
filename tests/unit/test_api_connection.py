"""Request heads as the server's selector thread reads them: framing that could be ambiguous is
refused (issue 15: `Content-Length: -1` once made the server read until the client hung up)."""

import socket
import threading

import pytest

from lxc_docker.api.connection import MAX_HEAD, BadRequest, Connection, parse_head


def head(*lines: str) -> bytes:
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def test_a_plain_request():
    h = parse_head(
        head("POST /v1.24/containers/create?name=x HTTP/1.1", "Host: localhost", "Content-Length: 12")
    )
    assert (h.method, h.target, h.version) == ("POST", "/v1.24/containers/create?name=x", "HTTP/1.1")
    assert h.headers.get("host") == "localhost" and h.headers["HOST"] == "localhost"
    assert (h.length, h.chunked, h.keep_alive) == (12, False, True)


def test_keep_alive_rules():
    assert not parse_head(head("GET / HTTP/1.1", "Connection: close")).keep_alive
    assert not parse_head(head("GET / HTTP/1.0")).keep_alive
    assert parse_head(head("GET / HTTP/1.0", "Connection: Keep-Alive")).keep_alive


def test_chunked():
    h = parse_head(head("POST /build HTTP/1.1", "Transfer-Encoding: chunked"))
    assert (h.length, h.chunked) == (None, True)


@pytest.mark.parametrize("value", ["-1", "+5", "1_0", "0x10", " ", "5 5", "1e3", "99999999999999999999"])
def test_malformed_content_length_is_a_400(value):
    with pytest.raises(BadRequest, match="Content-Length") as e:
        parse_head(head("POST /x HTTP/1.1", f"Content-Length: {value}"))
    assert e.value.status == 400


def test_conflicting_lengths_and_both_framings_are_refused():
    with pytest.raises(BadRequest, match="conflicting"):
        parse_head(head("POST /x HTTP/1.1", "Content-Length: 5", "Content-Length: 6"))
    # The same value twice is one length (RFC 9112 section 6.3).
    assert parse_head(head("POST /x HTTP/1.1", "Content-Length: 5", "Content-Length: 5")).length == 5
    with pytest.raises(BadRequest, match="both"):
        parse_head(head("POST /x HTTP/1.1", "Content-Length: 5", "Transfer-Encoding: chunked"))


@pytest.mark.parametrize("coding", ["gzip", "gzip, chunked", "chunked, chunked", "identity"])
def test_other_transfer_codings_are_501(coding):
    with pytest.raises(BadRequest) as e:
        parse_head(head("POST /x HTTP/1.1", f"Transfer-Encoding: {coding}"))
    assert e.value.status == 501


@pytest.mark.parametrize(
    "lines",
    [
        ("GET /x",),
        ("GET  /x HTTP/1.1",),
        ("G(T /x HTTP/1.1",),
        ("GET x HTTP/1.1",),
        ("GET /x HTTP/1.1", "Bad Header: 1"),
        ("GET /x HTTP/1.1", "X-A: 1", " folded"),
        ("GET /x HTTP/1.1", "NoColon"),
    ],
)
def test_malformed_heads_are_400(lines):
    with pytest.raises(BadRequest):
        parse_head(head(*lines))


def test_http_2_is_505():
    with pytest.raises(BadRequest) as e:
        parse_head(head("GET /x HTTP/2.0"))
    assert e.value.status == 505


class FakeListener:
    tls = None


def test_feed_gathers_a_head_in_pieces_and_keeps_what_follows():
    a, b = socket.socketpair()
    with a, b:
        a.setblocking(False)
        conn = Connection(a, FakeListener(), "unix")
        b.sendall(b"GET /_ping HTTP/1.1\r\nHo")
        assert conn.feed() is False
        b.sendall(b"st: x\r\n\r\nGET /version HTTP/1.1\r\n")
        assert conn.feed() is True
        assert conn.take_head().target == "/_ping"
        assert bytes(conn.inbox) == b"GET /version HTTP/1.1\r\n"
        assert conn.pending()
        b.close()
        assert conn.feed() is None


def test_a_head_past_the_limit_is_431():
    a, b = socket.socketpair()
    with a, b:
        a.setblocking(False)
        conn = Connection(a, FakeListener(), "unix")

        def send():
            try:
                b.sendall(b"GET /x HTTP/1.1\r\nX: " + b"a" * (MAX_HEAD + 10))
            except OSError:
                pass  # we stop reading at the limit

        sender = threading.Thread(target=send)
        sender.start()
        with pytest.raises(BadRequest) as e:
            while conn.feed() is False:
                pass
        assert e.value.status == 431
        a.close()
        sender.join(5)
