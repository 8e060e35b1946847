"""api/websocket.py: RFC 6455 framing over a socketpair (the server's side of attach/ws)."""

from __future__ import annotations

import os
import socket
import struct
import threading

import pytest

from lxc_docker.api import websocket
from lxc_docker.api.connection import Headers
from lxc_docker.errors import InvalidParameter


def client_frame(opcode: int, payload: bytes, fin: bool = True, mask: bool = True) -> bytes:
    key = os.urandom(4)
    n = len(payload)
    b0 = (0x80 if fin else 0) | opcode
    if n < 126:
        head = struct.pack("!BB", b0, (0x80 if mask else 0) | n)
    elif n < 1 << 16:
        head = struct.pack("!BBH", b0, (0x80 if mask else 0) | 126, n)
    else:
        head = struct.pack("!BBQ", b0, (0x80 if mask else 0) | 127, n)
    if not mask:
        return head + payload
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def read_frame(sock: socket.socket) -> tuple[int, bytes]:
    def take(n: int) -> bytes:
        out = b""
        while len(out) < n:
            chunk = sock.recv(n - len(out))
            assert chunk
            out += chunk
        return out

    b0, b1 = take(2)
    assert b0 & 0x80 and not b1 & 0x80  # final, unmasked
    n = b1 & 0x7F
    if n == 126:
        (n,) = struct.unpack("!H", take(2))
    elif n == 127:
        (n,) = struct.unpack("!Q", take(8))
    return b0 & 0x0F, take(n)


@pytest.fixture
def pair():
    server, client = socket.socketpair()
    client.settimeout(5)
    server.settimeout(5)
    yield server, client
    server.close()
    client.close()


def test_accept_key_is_rfc_6455s_example():
    assert websocket.accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def test_handshake_checks():
    good = [
        ("Upgrade", "WebSocket"),
        ("Connection", "keep-alive, Upgrade"),
        ("Sec-WebSocket-Version", "13"),
        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ]
    assert websocket.check_handshake("GET", Headers(good)) == "dGhlIHNhbXBsZSBub25jZQ=="
    with pytest.raises(InvalidParameter):
        websocket.check_handshake("POST", Headers(good))
    with pytest.raises(InvalidParameter):
        websocket.check_handshake("GET", Headers(good[1:]))
    with pytest.raises(InvalidParameter):
        websocket.check_handshake("GET", Headers([*good[:3], ("Sec-WebSocket-Key", "c2hvcnQ=")]))


@pytest.mark.parametrize("size", [0, 5, 125, 126, 65535, 65536, 200000])
def test_sizes_round_trip(pair, size):
    server, client = pair
    ws = websocket.WebSocket(server, b"", binary=True)
    payload = os.urandom(size)
    if size:
        ws.sendall(payload)
        assert read_frame(client) == (websocket.OP_BINARY, payload)
    frames = client_frame(websocket.OP_BINARY, payload or b"x")
    frames += client_frame(websocket.OP_CLOSE, struct.pack("!H", 1000))
    sender = threading.Thread(target=client.sendall, args=(frames,))  # more than a socket buffer
    sender.start()
    assert list(ws.messages()) == [payload or b"x"]
    sender.join()
    assert read_frame(client) == (websocket.OP_CLOSE, struct.pack("!H", 1000))


def test_text_frames_fragments_ping_and_buffered_bytes(pair):
    server, client = pair
    first = client_frame(websocket.OP_TEXT, b"hel", fin=False)
    ws = websocket.WebSocket(server, first, binary=False)  # bytes read with the request head
    ws.sendall(b"out")
    assert read_frame(client) == (websocket.OP_TEXT, b"out")
    client.sendall(client_frame(websocket.OP_PING, b"p"))
    client.sendall(client_frame(websocket.OP_CONT, b"lo"))
    client.sendall(client_frame(websocket.OP_CLOSE, b""))
    assert list(ws.messages()) == [b"hello"]
    assert read_frame(client) == (websocket.OP_PONG, b"p")
    assert read_frame(client)[0] == websocket.OP_CLOSE
    with pytest.raises(BrokenPipeError):
        ws.sendall(b"late")


@pytest.mark.parametrize(
    "frame, code",
    [
        (client_frame(websocket.OP_BINARY, b"abc", mask=False), 1002),
        (client_frame(websocket.OP_CONT, b"abc"), 1002),
        (client_frame(websocket.OP_PING, b"x" * 126), 1002),
        (bytes([0x82, 0xFF]) + struct.pack("!Q", 1 << 40) + b"\0\0\0\0", 1009),
        (bytes([0xC2, 0x80]) + b"\0\0\0\0", 1002),  # a reserved bit
    ],
    ids=["unmasked", "stray-continuation", "long-ping", "too-big", "rsv"],
)
def test_protocol_errors_close_with_their_code(pair, frame, code):
    server, client = pair
    ws = websocket.WebSocket(server, b"", binary=True)
    client.sendall(frame)
    assert list(ws.messages()) == []
    opcode, payload = read_frame(client)
    assert opcode == websocket.OP_CLOSE
    assert struct.unpack("!H", payload[:2])[0] == code


def test_a_client_that_goes_away_ends_the_messages(pair):
    server, client = pair
    ws = websocket.WebSocket(server, b"", binary=True)
    client.sendall(client_frame(websocket.OP_BINARY, b"last")[:5])
    client.close()
    assert list(ws.messages()) == []
    assert ws.closed.is_set()
