"""`GET /containers/{id}/attach/ws`: attach over an RFC 6455 WebSocket. The handshake, output as
data frames of raw bytes (text frames at API 1.24, as Docker sends them before 1.28), client
messages to stdin, logs, detach keys, ping/pong, the close handshake from either side, and protocol
errors; through the websocket-client package and the docker SDK for Python 7 (whose `attach_socket(
ws=True)` needs a tcp daemon). Neither our CLI nor the docker CLI 28 attaches over WebSockets."""

from __future__ import annotations

import json
import socket
import struct

import pytest

from lib.daemon import own_daemon
from lib.poll import poll
from lib.require import require_module
from lib.unixhttp import api

pytestmark = pytest.mark.root

KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455 section 1.3's example and its answer
ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
UPGRADE = "Upgrade: websocket\r\nConnection: Upgrade\r\n"
GOOD = f"{UPGRADE}Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def d(busybox_tar):
    """A daemon on its unix socket and on tcp at 127.0.0.1 (the SDK builds ws:// URLs for tcp only)."""
    port = free_port()
    with own_daemon(busybox_tar, ["-H", f"tcp://127.0.0.1:{port}"], prefix="ldw-") as daemon:
        daemon.port = port
        yield daemon


@pytest.fixture
def ws_lib():
    return require_module("websocket", "pip install websocket-client; scripts/setup-dev.sh installs it")


def connect(ws_lib, d, cid: str, query: str, version: str = "v1.24"):
    sock = socket.socket(socket.AF_UNIX)
    sock.connect(d.sock)
    url = f"ws://localhost/{version}/containers/{cid}/attach/ws?{query}"
    return ws_lib.create_connection(url, socket=sock, timeout=20)


def running(d, cid: str) -> bool:
    status, body = api(d, "GET", f"/v1.24/containers/{cid}/json")
    return status == 200 and json.loads(body)["State"]["Running"]


@pytest.fixture
def cat(d):
    cid = d.out("run", "-d", "-i", "busybox", "cat").strip()
    yield cid
    d.cli("rm", "-f", cid)


def raw_handshake(d, cid: str, headers: str) -> tuple[bytes, socket.socket]:
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(20)
    s.connect(d.sock)
    target = f"/v1.24/containers/{cid}/attach/ws?stdout=1&stream=1"
    s.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\n{headers}\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(1)
        if not chunk:
            break
        head += chunk
    return head, s


def test_handshake_answers_the_key(d, cat):
    head, s = raw_handshake(
        d,
        cat,
        f"Upgrade: websocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Key: {KEY}\r\n"
        "Sec-WebSocket-Version: 13\r\n",
    )
    s.close()
    assert head.startswith(b"HTTP/1.1 101 ")
    lines = {
        line.split(b":", 1)[0].lower(): line.split(b":", 1)[1].strip()
        for line in head.split(b"\r\n")[1:]
        if line
    }
    assert lines[b"sec-websocket-accept"] == ACCEPT.encode()
    assert lines[b"upgrade"].lower() == b"websocket"


@pytest.mark.parametrize(
    "headers",
    [
        f"Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n",  # no Upgrade
        f"{UPGRADE}Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 8\r\n",
        f"{UPGRADE}Sec-WebSocket-Key: short\r\nSec-WebSocket-Version: 13\r\n",
    ],
    ids=["no-upgrade", "old-version", "bad-key"],
)
def test_a_bad_handshake_is_a_400(d, cat, headers):
    head, s = raw_handshake(d, cat, headers)
    s.close()
    assert head.startswith(b"HTTP/1.1 400 "), head


def test_output_and_input_round_trip_as_text_frames(d, cat, ws_lib):
    ws = connect(ws_lib, d, cat, "stdin=1&stdout=1&stream=1")
    try:
        ws.send_binary(b"hello over ws\n")
        opcode, data = ws.recv_data()
        assert opcode == ws_lib.ABNF.OPCODE_TEXT  # Docker before API 1.28
        assert data == b"hello over ws\n"
        ws.ping(b"are you there")
        assert ws.recv_data(control_frame=True) == (ws_lib.ABNF.OPCODE_PONG, b"are you there")
        ws.close()  # our close: the daemon answers it, the container runs on
    finally:
        ws.shutdown()
    assert running(d, cat)


def test_logs_without_stream_then_close(d, ws_lib):
    cid = d.out("run", "-d", "busybox", "sh", "-c", "echo first; echo second >&2").strip()
    try:
        assert d.out("wait", cid).strip() == "0"
        ws = connect(ws_lib, d, cid, "logs=1&stdout=1&stderr=1")
        got = b""
        while True:
            frame = ws.recv_data_frame(control_frame=True)[1]
            if frame.opcode == ws_lib.ABNF.OPCODE_CLOSE:
                assert struct.unpack("!H", frame.data[:2])[0] == 1000
                break
            got += frame.data
        ws.shutdown()
        # Raw bytes, no multiplexing header (the two pipes' order in the log is the daemon's).
        assert sorted(got.splitlines(keepends=True)) == [b"first\n", b"second\n"]
        ws = connect(ws_lib, d, cid, "logs=1&stderr=1")
        assert ws.recv() == "second\n"
        ws.shutdown()
    finally:
        d.cli("rm", "-f", cid)


def test_the_containers_exit_closes_the_socket(d, ws_lib):
    cid = d.out("create", "busybox", "sh", "-c", "printf done").strip()
    try:
        ws = connect(ws_lib, d, cid, "stdout=1&stream=1")
        d.cli("start", cid, check=True)
        assert ws.recv() == "done"
        opcode, frame = ws.recv_data_frame(control_frame=True)
        assert opcode == ws_lib.ABNF.OPCODE_CLOSE
        ws.shutdown()
    finally:
        d.cli("rm", "-f", cid)


def test_detach_keys_end_the_session(d, ws_lib):
    cid = d.out("run", "-d", "-i", "-t", "busybox", "cat").strip()
    try:
        ws = connect(ws_lib, d, cid, "stdin=1&stdout=1&stream=1&detachKeys=ctrl-x")
        ws.send_binary(b"abc\n\x18after\n")
        while ws.recv_data(control_frame=True)[0] != ws_lib.ABNF.OPCODE_CLOSE:
            pass
        ws.shutdown()
        assert running(d, cid)
        poll(lambda: b"abc" in d.cli("logs", cid).stdout, what="the input before the keys")
        assert b"after" not in d.cli("logs", cid).stdout
    finally:
        d.cli("rm", "-f", cid)


def test_an_unmasked_frame_is_a_protocol_error(d, cat, ws_lib):
    head, s = raw_handshake(
        d,
        cat,
        GOOD,
    )
    try:
        assert head.startswith(b"HTTP/1.1 101 ")
        s.sendall(b"\x82\x03abc")  # binary, unmasked
        answer = b""
        while len(answer) < 4:
            chunk = s.recv(64)
            if not chunk:
                break
            answer += chunk
        assert answer[0] == 0x88  # close
        assert struct.unpack("!H", answer[2:4])[0] == 1002
    finally:
        s.close()


def test_sdk_attach_socket_ws(d, cat):
    docker = require_module("docker", "pip install docker; scripts/setup-dev.sh installs it")
    require_module("websocket", "pip install websocket-client")
    client = docker.APIClient(base_url=f"tcp://127.0.0.1:{d.port}", version="1.24", timeout=60)
    try:
        ws = client.attach_socket(cat, {"stdin": 1, "stdout": 1, "stream": 1}, ws=True)
        ws.send("from the sdk\n")
        assert ws.recv() == "from the sdk\n"  # a str: text frames below API 1.28, as Docker 20.10
        ws.close()
    finally:
        client.close()


def test_a_foreign_origin_is_still_refused_on_tcp(d, cat, ws_lib):
    with pytest.raises(ws_lib.WebSocketBadStatusException) as err:
        ws_lib.create_connection(
            f"ws://127.0.0.1:{d.port}/v1.24/containers/{cat}/attach/ws?stdout=1&stream=1",
            origin="http://evil.example",
            timeout=20,
        )
    assert err.value.status_code == 403


def test_unknown_container_is_a_404(d, ws_lib):
    with pytest.raises(ws_lib.WebSocketBadStatusException) as err:
        connect(ws_lib, d, "nosuchcontainer", "stdout=1&stream=1")
    assert err.value.status_code == 404
