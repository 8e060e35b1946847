"""The client's HTTP transport against small in-test servers over a unix socket and tcp 127.0.0.1."""

from __future__ import annotations

import hashlib
import http.server
import io
import os
import shutil
import socket
import socketserver
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator

import pytest

from lxc_docker.client import transport
from lxc_docker.client.message import USER_AGENT, api_path, quote
from lxc_docker.client.response import ProtocolError, Response
from lxc_docker.client.transport import (
    CANNOT_CONNECT,
    DaemonUnreachable,
    SocketPermissionDenied,
    _unreachable,
    connect,
    hijack,
    request,
)
from lxc_docker.hosts import Host, parse_host

WAIT = 10  # seconds a test waits for the other side before it fails (never reached when passing)

App = Callable[["_Handler"], None]


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _dispatch(self) -> None:
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.server.requests.append((self.command, self.path, headers))  # type: ignore[attr-defined]
        self.server.app(self)  # type: ignore[attr-defined]

    do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = _dispatch


class _Quiet:
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        # Tests that abort an upload on purpose leave the server side with a broken pipe.
        self.errors.append(sys.exc_info()[1])  # type: ignore[attr-defined]


class _UnixServer(_Quiet, socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    pass


class _TCPServer(_Quiet, socketserver.ThreadingMixIn, socketserver.TCPServer):
    allow_reuse_address = True


@pytest.fixture
def short_dir() -> Iterator[str]:
    # tmp_path can exceed the 107-byte limit of a unix socket path.
    path = tempfile.mkdtemp(prefix="ldt")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(params=["unix", "tcp"])
def serve(request: pytest.FixtureRequest, short_dir: str) -> Iterator[Callable[[App], tuple[Host, object]]]:
    servers = []

    def start(app: App) -> tuple[Host, object]:
        if request.param == "unix":
            path = os.path.join(short_dir, f"d{len(servers)}.sock")
            srv: socketserver.BaseServer = _UnixServer(path, _Handler)
            host = parse_host("unix://" + path)
        else:
            srv = _TCPServer(("127.0.0.1", 0), _Handler)
            host = parse_host(f"tcp://127.0.0.1:{srv.server_address[1]}")
        srv.app = app  # type: ignore[attr-defined]
        srv.requests = []  # type: ignore[attr-defined]
        srv.errors = []  # type: ignore[attr-defined]
        # A short poll interval only makes teardown's shutdown() return sooner.
        threading.Thread(target=srv.serve_forever, args=(0.02,), daemon=True).start()
        servers.append(srv)
        return host, srv

    yield start
    for srv in servers:
        srv.shutdown()
        srv.server_close()


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def read_chunked(rfile: io.BufferedIOBase) -> Iterator[bytes]:
    while True:
        size = int(rfile.readline().split(b";")[0], 16)
        if not size:
            while rfile.readline().strip():
                pass
            return
        data = rfile.read(size)
        rfile.readline()
        yield data


def reply(h: _Handler, status: str, body: bytes, *headers: str) -> None:
    head = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}", *headers, "", ""]
    h.wfile.write("\r\n".join(head).encode() + body)


def raw_response(data: bytes, method: str = "GET", upgrade: bool = False) -> Response:
    """A Response read from a socketpair whose other end already wrote `data` and closed."""
    ours, theirs = socket.socketpair()
    theirs.sendall(data)
    theirs.close()
    return Response(ours, method, upgrade=upgrade)


# -- plain requests ----------------------------------------------------------------------------


def test_content_length_body_and_request_head(serve):
    host, srv = serve(lambda h: reply(h, "200 OK", b'{"Version":"0.9.1"}', "Content-Type: application/json"))
    with request(host, "GET", "/v1.9/version") as resp:
        assert (resp.status, resp.reason, resp.version) == (200, "OK", "HTTP/1.1")
        assert resp.headers["content-type"] == resp.headers["Content-Type"] == "application/json"
        assert "CONTENT-TYPE" in resp.headers
        assert resp.read() == b'{"Version":"0.9.1"}'
        assert resp.read() == b""
    method, path, headers = srv.requests[0]
    assert (method, path) == ("GET", "/v1.9/version")
    assert headers["host"] == ("docker" if host.proto == "unix" else host.address)
    assert headers["user-agent"] == USER_AGENT
    assert headers["connection"] == "close"
    assert "content-length" not in headers and "transfer-encoding" not in headers


def test_host_string_is_accepted(serve):
    host, _ = serve(lambda h: reply(h, "200 OK", b"OK"))
    assert request(host.url, "GET", "/_ping").read() == b"OK"


def test_chunked_body_with_extensions_and_trailers(serve):
    def app(h: _Handler) -> None:
        h.wfile.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        h.wfile.write(
            b"5;name=value\r\nhello\r\n" + chunk(b" wor") + chunk(b"ld\nsecond") + chunk(b" line\n")
        )
        h.wfile.write(b"0\r\nX-Trailer: yes\r\n\r\n")

    host, _ = serve(app)
    resp = request(host, "GET", "/x")
    assert resp.readline() == b"hello world\n"
    assert resp.read(3) == b"sec"
    assert resp.read() == b"ond line\n"
    assert resp.readline() == b""


def test_lines_across_chunks_and_a_last_line_without_newline(serve):
    def app(h: _Handler) -> None:
        h.wfile.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        h.wfile.write(chunk(b'{"a":') + chunk(b"1}\n{") + chunk(b'"b":2}\n') + chunk(b"tail") + b"0\r\n\r\n")

    host, _ = serve(app)
    assert list(request(host, "GET", "/x")) == [b'{"a":1}\n', b'{"b":2}\n', b"tail"]


def test_body_read_until_close(serve):
    def app(h: _Handler) -> None:
        h.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/x-tar\r\n\r\n" + b"z" * 300_000)
        h.close_connection = True

    host, _ = serve(app)
    resp = request(host, "GET", "/containers/x/export")
    assert b"".join(resp.iter_chunks()) == b"z" * 300_000


def test_large_body_in_pieces(serve):
    blob = os.urandom(3_000_000)
    host, _ = serve(lambda h: reply(h, "200 OK", blob))
    resp = request(host, "GET", "/images/x/get")
    pieces = list(resp.iter_chunks(100_000))
    assert max(map(len, pieces)) <= 100_000
    assert b"".join(pieces) == blob


@pytest.mark.parametrize("status", ["204 No Content", "304 Not Modified"])
def test_no_body_statuses(serve, status):
    def app(h: _Handler) -> None:
        # Deliberately wrong framing: these statuses never have a body, whatever the headers say.
        h.wfile.write(f"HTTP/1.1 {status}\r\nContent-Length: 10\r\n\r\n".encode())
        h.close_connection = True

    host, _ = serve(app)
    assert request(host, "POST", "/containers/x/start").read() == b""


def test_head_request_has_no_body(serve):
    def app(h: _Handler) -> None:
        h.wfile.write(b"HTTP/1.1 200 OK\r\nApi-Version: 1.24\r\nContent-Length: 2\r\n\r\n")

    host, _ = serve(app)
    resp = request(host, "HEAD", "/_ping", timeout=WAIT)
    assert resp.headers["Api-Version"] == "1.24"
    assert resp.read() == b""


def test_post_without_body_sends_zero_length(serve):
    host, srv = serve(lambda h: reply(h, "204 No Content", b""))
    request(host, "POST", "/containers/x/stop?t=10").close()
    assert srv.requests[0][2]["content-length"] == "0"


def test_bytes_body_has_content_length(serve):
    def app(h: _Handler) -> None:
        body = h.rfile.read(int(h.headers["Content-Length"]))
        reply(h, "201 Created", hashlib.sha256(body).hexdigest().encode())

    payload = os.urandom(200_000)
    host, srv = serve(app)
    for body in (payload, bytearray(payload), memoryview(payload)):
        assert request(host, "POST", "/containers/create", body=body).read().decode() == (
            hashlib.sha256(payload).hexdigest()
        )
    small = request(host, "POST", "/containers/create", body=b'{"Image":"busybox"}')
    assert small.status == 201
    assert srv.requests[-1][2]["content-length"] == "19"


def _chunked_digest_app(h: _Handler) -> None:
    assert h.headers["Transfer-Encoding"] == "chunked"
    assert "Content-Length" not in h.headers
    digest = hashlib.sha256()
    for piece in read_chunked(h.rfile):
        digest.update(piece)
    reply(h, "200 OK", digest.hexdigest().encode())


def test_file_body_is_streamed_chunked(serve):
    payload = os.urandom(1_500_000)
    host, _ = serve(_chunked_digest_app)
    resp = request(host, "POST", "/images/load", body=io.BytesIO(payload))
    assert resp.read().decode() == hashlib.sha256(payload).hexdigest()


def test_pipe_body_is_streamed_chunked(serve):
    payload = os.urandom(500_000)
    host, _ = serve(_chunked_digest_app)
    read_fd, write_fd = os.pipe()

    def produce() -> None:
        with open(write_fd, "wb") as out:
            out.write(payload)

    threading.Thread(target=produce, daemon=True).start()
    with open(read_fd, "rb") as stdin:
        resp = request(host, "POST", "/images/create?fromSrc=-", body=stdin, timeout=WAIT)
    assert resp.read().decode() == hashlib.sha256(payload).hexdigest()


def test_iterable_body_skips_empty_pieces(serve):
    pieces = [b"abc", b"", bytearray(b"def"), b"", memoryview(b"ghi")]
    host, _ = serve(_chunked_digest_app)
    resp = request(host, "POST", "/build", body=iter(pieces))
    assert resp.read().decode() == hashlib.sha256(b"abcdefghi").hexdigest()


def test_bytes_body_can_be_forced_chunked(serve):
    host, _ = serve(_chunked_digest_app)
    assert request(host, "POST", "/x", body=b"data", chunked=True).read().decode() == (
        hashlib.sha256(b"data").hexdigest()
    )
    assert request(host, "POST", "/x", chunked=True).read().decode() == hashlib.sha256(b"").hexdigest()


# -- streams -----------------------------------------------------------------------------------


def test_each_streamed_line_arrives_before_the_next_is_sent(serve):
    got_first = threading.Event()
    second_sent = threading.Event()

    def app(h: _Handler) -> None:
        h.wfile.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        h.wfile.write(chunk(b'{"status":"pull"}\n'))
        if got_first.wait(WAIT):
            second_sent.set()
            h.wfile.write(chunk(b'{"status":"die"}\n') + b"0\r\n\r\n")

    host, _ = serve(app)
    with request(host, "GET", "/events", timeout=WAIT) as resp:
        assert resp.readline() == b'{"status":"pull"}\n'
        assert not second_sent.is_set()
        got_first.set()
        assert resp.readline() == b'{"status":"die"}\n'
        assert resp.readline() == b""


def test_stream_without_framing_delivers_partial_lines_promptly(serve):
    # Old daemons stream events with no length and no chunking, until the connection closes.
    step = threading.Event()

    def app(h: _Handler) -> None:
        h.wfile.write(b'HTTP/1.1 200 OK\r\n\r\n{"id":"1"}\n{"id":')
        h.close_connection = True
        if step.wait(WAIT):
            h.wfile.write(b'"2"}\n')

    host, _ = serve(app)
    resp = request(host, "GET", "/events", timeout=WAIT)
    assert resp.readline() == b'{"id":"1"}\n'
    chunks = resp.iter_chunks()
    assert next(chunks) == b'{"id":'
    step.set()
    assert next(chunks) == b'"2"}\n'
    assert list(chunks) == []


def test_part_of_a_chunk_is_delivered_without_waiting_for_the_rest():
    ours, theirs = socket.socketpair()
    with ours, theirs:
        theirs.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\nhello")
        resp = Response(ours, "GET")
        pieces = resp.iter_chunks()
        assert next(pieces) == b"hello"
        theirs.sendall(b"world\r\n")
        assert next(pieces) == b"world"
        theirs.sendall(b"0\r\n\r\n")
        assert list(pieces) == []


# -- uploads the daemon answers early ----------------------------------------------------------


def test_error_answer_during_a_large_upload_is_read(serve):
    body = b"Error: no space left on device\n"

    def app(h: _Handler) -> None:
        # Answer without reading the body, then hang up, as a daemon refusing an upload does.
        reply(h, "500 Internal Server Error", body, "Content-Type: text/plain")
        h.close_connection = True

    sent = 0

    def forever() -> Iterator[bytes]:
        nonlocal sent
        while True:
            sent += 1
            yield b"x" * 65536

    host, _ = serve(app)
    resp = request(host, "POST", "/images/load", body=forever(), timeout=WAIT)
    assert resp.status == 500
    assert resp.read() == body
    assert sent < 10_000


def test_error_answer_stops_the_upload_even_if_the_daemon_keeps_the_connection(serve):
    client_done = threading.Event()
    answered_while_open: list[bool] = []
    recorded = threading.Event()

    def app(h: _Handler) -> None:
        reply(h, "400 Bad Request", b"bad context")
        h.close_connection = True
        # Neither reads nor hangs up until the client has its answer (or the test has failed).
        answered_while_open.append(client_done.wait(WAIT))
        recorded.set()

    host, _ = serve(app)
    chunks = (b"y" * 65536 for _ in range(100_000))
    try:
        resp = request(host, "POST", "/build", body=chunks, timeout=WAIT)
        assert (resp.status, resp.read()) == (400, b"bad context")
    finally:
        client_done.set()
    assert recorded.wait(WAIT)
    assert answered_while_open == [True]


def test_progress_streamed_while_the_body_uploads_does_not_deadlock(serve):
    # `docker import -` reports progress while it reads: far more than both socket buffers hold.
    size = 16 * 1024 * 1024
    line = b'{"status":"Importing","progress":"' + b"=" * 2000 + b'"}\n'

    def app(h: _Handler) -> None:
        h.wfile.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        total = 0
        pending = 0
        for piece in read_chunked(h.rfile):
            total += len(piece)
            pending += len(piece)
            while pending >= 16384:
                pending -= 16384
                h.wfile.write(chunk(line))
        h.wfile.write(chunk(b'{"status":"%d"}\n' % total) + b"0\r\n\r\n")

    host, _ = serve(app)
    body = (b"i" * 65536 for _ in range(size // 65536))
    resp = request(host, "POST", "/images/create?fromSrc=-", body=body, timeout=WAIT)
    lines = list(resp)
    assert lines[-1] == b'{"status":"%d"}\n' % size
    assert lines[:-1] == [line] * (size // 16384)


# -- hijack ------------------------------------------------------------------------------------


def _echo_after(head: bytes) -> App:
    def app(h: _Handler) -> None:
        h.wfile.write(head + b"hello from the container\n")
        while data := h.rfile.read1(65536):
            h.wfile.write(data)
        h.close_connection = True

    return app


@pytest.mark.parametrize(
    "head",
    [
        b"HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\n"
        b"Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n",
        b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.raw-stream\r\n\r\n",
    ],
)
def test_hijack_keeps_bytes_sent_with_the_head(serve, head):
    host, srv = serve(_echo_after(head))
    resp, sock, buffered = hijack(host, "POST", "/containers/x/attach?stream=1&stdin=1", timeout=WAIT)
    assert sock is not None
    try:
        assert resp.upgraded and resp.status == int(head[9:12])
        assert sock.gettimeout() is None
        received = buffered
        while not received.endswith(b"\n"):
            received += sock.recv(65536)
        assert received == b"hello from the container\n"
        sock.sendall(b"echo me\n")
        echoed = b""
        while len(echoed) < 8:
            echoed += sock.recv(65536)
        assert echoed == b"echo me\n"
        sock.shutdown(socket.SHUT_WR)
        assert sock.recv(10) == b""
    finally:
        sock.close()
    resp.close()  # must not touch the hijacked socket
    headers = srv.requests[0][2]
    assert (headers["connection"], headers["upgrade"]) == ("Upgrade", "tcp")
    assert headers["content-length"] == "0"


def test_hijack_caller_may_override_connection_headers(serve):
    host, srv = serve(_echo_after(b"HTTP/1.1 200 OK\r\n\r\n"))
    resp, sock, _ = hijack(host, "POST", "/a", headers={"connection": "upgrade", "X-Extra": "1"})
    assert sock is not None
    sock.close()
    headers = srv.requests[0][2]
    assert (headers["connection"], headers["upgrade"], headers["x-extra"]) == ("upgrade", "tcp", "1")


def test_hijack_with_all_stream_bytes_in_the_first_read():
    resp = raw_response(
        b"HTTP/1.1 101 UPGRADED\r\nUpgrade: tcp\r\n\r\n\x01\x00\x00\x00\x00\x00\x00\x02hi", upgrade=True
    )
    assert resp.upgraded
    assert resp._detach() == b"\x01\x00\x00\x00\x00\x00\x00\x02hi"


def test_hijack_refused_returns_the_error_body(serve):
    def app(h: _Handler) -> None:
        assert h.rfile.read(int(h.headers["Content-Length"])) == b"{}"
        reply(h, "404 Not Found", b"No such container: x")

    host, srv = serve(app)
    resp, sock, buffered = hijack(host, "POST", "/containers/x/attach", body=b"{}")
    assert (sock, buffered, resp.upgraded) == (None, b"", False)
    assert (resp.status, resp.read()) == (404, b"No such container: x")
    assert srv.errors == []


# -- connection failures -----------------------------------------------------------------------


def test_missing_socket_is_daemon_unreachable(short_dir):
    host = parse_host(f"unix://{short_dir}/nothing.sock")
    with pytest.raises(DaemonUnreachable) as info:
        request(host, "GET", "/version")
    assert str(info.value) == CANNOT_CONNECT
    assert info.value.host == host
    assert "nothing.sock" in info.value.detail
    assert isinstance(info.value, OSError)
    assert not isinstance(info.value, SocketPermissionDenied)


def test_stale_socket_is_daemon_unreachable(short_dir):
    path = os.path.join(short_dir, "stale.sock")
    with socket.socket(socket.AF_UNIX) as dead:
        dead.bind(path)  # bound, never listening: what a crashed daemon leaves behind
        with pytest.raises(DaemonUnreachable, match="Is 'docker -d' running"):
            connect(parse_host("unix://" + path))


def test_refused_tcp_is_daemon_unreachable():
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))  # the port is ours and not listening, so connecting is refused
        host = parse_host(f"tcp://127.0.0.1:{closed.getsockname()[1]}")
        with pytest.raises(DaemonUnreachable) as info:
            request(host, "GET", "/version", timeout=WAIT)
    assert "refused" in info.value.detail.lower()


def test_unknown_host_is_daemon_unreachable():
    with pytest.raises(DaemonUnreachable):
        connect(parse_host("tcp://no-such-host.invalid:4243"), timeout=WAIT)


def test_fd_address_is_not_for_the_client():
    with pytest.raises(ValueError, match="fd://"):
        connect(parse_host("fd://3"))


def test_permission_error_maps_to_its_own_message():
    host = parse_host("unix:///var/run/docker.sock")
    error = _unreachable(host, PermissionError(13, "Permission denied"))
    assert isinstance(error, SocketPermissionDenied) and isinstance(error, DaemonUnreachable)
    assert "unix:///var/run/docker.sock" in str(error)
    assert "'docker' group" in str(error) and "sudo" in str(error)
    assert error.errno == 13


def test_permission_denied_on_a_real_socket(short_dir):
    os.chmod(short_dir, 0o755)
    path = os.path.join(short_dir, "root-only.sock")
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(path)
        listener.listen()
        os.chmod(path, 0o600)
        host = parse_host("unix://" + path)
        if os.geteuid() != 0:
            os.chmod(path, 0)
            with pytest.raises(SocketPermissionDenied) as info:
                connect(host)
            outcome = "denied\n" + str(info.value)
        else:
            outcome = _connect_as_nobody(host)
    assert outcome.startswith("denied\n"), outcome
    assert path in outcome and "sudo" in outcome


def _connect_as_nobody(host: Host) -> str:
    # Root passes every permission check, so the attempt runs in a child that has dropped to nobody.
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            try:
                connect(host).close()
                outcome = "connected"
            except SocketPermissionDenied as e:
                outcome = "denied\n" + str(e)
            except BaseException as e:
                outcome = "other " + repr(e)
            os.write(write_end, outcome.encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with open(read_end, "rb") as pipe:
        outcome = pipe.read().decode()
    os.waitpid(pid, 0)
    return outcome


def test_timeout_while_waiting_for_the_answer(short_dir):
    path = os.path.join(short_dir, "mute.sock")
    with socket.socket(socket.AF_UNIX) as mute:
        mute.bind(path)
        mute.listen()  # connections complete in the backlog, nobody ever answers
        with pytest.raises(TimeoutError):
            request(parse_host("unix://" + path), "GET", "/version", timeout=0.2)


# -- malformed answers -------------------------------------------------------------------------


def test_closed_without_answer():
    with pytest.raises(ProtocolError, match="without answering"):
        raw_response(b"")


@pytest.mark.parametrize(
    "data",
    [
        b"garbage\r\n\r\n",
        b"HTTP/1.1 2000 OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-",
    ],
)
def test_malformed_heads(data):
    with pytest.raises(ProtocolError):
        raw_response(data)


@pytest.mark.parametrize(
    "data",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX\r\n0\r\n\r\n",
    ],
)
def test_truncated_or_malformed_bodies(data):
    resp = raw_response(data)
    with pytest.raises(ProtocolError):
        resp.read()


def test_repeated_folded_and_interim_headers():
    resp = raw_response(
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 200 OK\r\nX-A: 1\r\nx-a: 2\r\nX-Long: one\r\n  two\r\nContent-Length: 2, 2\r\n\r\nokEXTRA"
    )
    assert resp.status == 200
    assert resp.headers["X-A"] == "1, 2"
    assert resp.headers.get("x-long") == "one two"
    assert resp.headers.get("missing") is None
    assert resp.read() == b"ok"


def test_status_line_without_reason():
    resp = raw_response(b"HTTP/1.0 200\r\n\r\nbody")
    assert (resp.version, resp.status, resp.reason) == ("HTTP/1.0", 200, "")
    assert resp.read(2) == b"bo"
    assert resp.read(100) == b"dy"


# -- request validation ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"headers": {"X-Registry-Auth": "a\r\nInjected: 1"}}, ValueError),
        ({"headers": {"Bad Name": "1"}}, ValueError),
        ({"headers": {"Content-Length": "5"}}, ValueError),
        ({"headers": {"transfer-encoding": "chunked"}}, ValueError),
        ({"body": "text"}, TypeError),
    ],
)
def test_bad_requests_are_refused_before_connecting(kwargs, error):
    # The address does not exist: these must fail before any connection attempt.
    with pytest.raises(error):
        request(parse_host("unix:///nonexistent/docker.sock"), "POST", "/x", **kwargs)


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "no-slash"), ("GET", "/a b"), ("GET", "/a\r\n"), ("G T", "/")]
)
def test_bad_method_or_path(method, path):
    with pytest.raises(ValueError):
        request(parse_host("unix:///nonexistent/docker.sock"), method, path)


def test_text_file_body_is_refused(serve):
    host, _ = serve(_chunked_digest_app)
    with pytest.raises(TypeError, match="binary"):
        request(host, "POST", "/build", body=io.StringIO("FROM busybox\n"))


# -- paths -------------------------------------------------------------------------------------


def test_api_path():
    assert api_path("1.9", "/images/json", {"all": True, "filter": "x"}) == "/v1.9/images/json?all=1&filter=x"
    assert api_path("v1.24", "containers/json", None) == "/v1.24/containers/json"
    assert api_path(None, "/_ping", {}) == "/_ping"
    assert api_path("1.9", "/containers/json", {"all": False, "since": None, "limit": 5}) == (
        "/v1.9/containers/json?all=0&limit=5"
    )
    assert (
        api_path("1.9", "/images/get", {"names": ["a:1", "b c"]})
        == "/v1.9/images/get?names=a%3A1&names=b%20c"
    )
    assert api_path("1.9", "/events", {"filters": '{"event":["die"]}'}) == (
        "/v1.9/events?filters=%7B%22event%22%3A%5B%22die%22%5D%7D"
    )
    with pytest.raises(TypeError):
        api_path("1.9", "/events", {"filters": {"event": ["die"]}})


def test_quote():
    assert quote("a b+c&d=e/f?") == "a%20b%2Bc%26d%3De%2Ff%3F"
    assert quote("user/repo:tag", safe="/") == "user/repo%3Atag"
    assert quote("é~._-") == "%C3%A9~._-"


def test_transport_still_offers_the_names_its_callers_import():
    # cli/ imports these from transport; the split into message and response must not break them.
    for name in ("Response", "ProtocolError", "DaemonUnreachable", "api_path", "quote", "request", "hijack"):
        assert hasattr(transport, name), name
