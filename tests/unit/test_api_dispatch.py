"""Router and ApiServer.dispatch over a real unix socket, with a fake backend and a tiny route table."""

import json
import os
import socket
import threading
import time

import pytest

from lib.unixhttp import UnixConnection
from lxc_docker import ADVERTISED_API_VERSION
from lxc_docker.api.router import Route, Router
from lxc_docker.api.server import ApiServer
from lxc_docker.errors import Conflict, InvalidParameter, NotFound


class FakeBackend:
    def __init__(self) -> None:
        self.name = "fake"
        self.seen: list[bytes] = []
        self.entered = threading.Event()
        self.release = threading.Event()


def ping(backend, req, res):
    res.text("OK")


def whoami(backend, req, res):
    res.json({"backend": backend.name, "version": list(req.version)})


def item(backend, req, res, name):
    res.json({"name": name})


def fail(backend, req, res, kind):
    if kind == "missing":
        raise NotFound("No such container: abc")
    if kind == "conflict":
        raise Conflict("Conflict, the name is in use")
    if kind == "bad":
        raise InvalidParameter("bad parameter")
    raise RuntimeError("boom")


def stream_fail(backend, req, res):
    writer = res.stream()
    writer.write_json({"status": "first"})
    raise InvalidParameter("went wrong halfway")


def ignore_body(backend, req, res):
    res.empty(204)


def echo(backend, req, res):
    backend.seen.append(req.body.read())
    res.json({"len": len(backend.seen[-1])})


def create(backend, req, res):
    res.json({"got": req.json(required=True)}, 201)


def block(backend, req, res):
    backend.entered.set()
    backend.release.wait(10)
    res.text("released")


def hijack(backend, req, res):
    sock = res.hijack()
    data = sock.recv(100)
    sock.sendall(b"echo:" + data)
    sock.shutdown(socket.SHUT_RDWR)


ROUTES = [
    Route("GET", "/_ping", ping),
    Route("GET", "/whoami", whoami),
    Route("GET", "/items/{name:.+}/json", item),
    Route("DELETE", "/items/{name:.+}", item),
    Route("GET", "/fail/{kind}", fail),
    Route("GET", "/stream-fail", stream_fail),
    Route("POST", "/ignore-body", ignore_body),
    Route("POST", "/echo", echo),
    Route("POST", "/hijack", hijack),
    Route("POST", "/containers/create", create),
    Route("GET", "/block", block),
    Route("GET", "/version", whoami),
]


def start_server(tmp_path, cors=False, backlog=8, **limits):
    backend = FakeBackend()
    router = Router()
    router.add_routes(ROUTES, backend)
    server = ApiServer(router, cors=cors, group="", **limits)
    path = os.path.join(tmp_path, "api.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(path)
    sock.listen(backlog)
    server.listen_socket(sock)
    server.serve()
    return server, backend, path


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    # One server for the module: closing one waits for its accept loop's poll interval.
    server, backend, path = start_server(str(tmp_path_factory.mktemp("api")))
    yield path, backend
    server.close()


def call(path, method, url, body=None, headers=None):
    conn = UnixConnection(path, timeout=10)
    try:
        conn.request(method, url, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def raw_exchange(path, data: bytes) -> bytes:
    """Send raw bytes, read until the server closes the connection."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect(path)
        s.sendall(data)
        chunks = []
        while True:
            piece = s.recv(65536)
            if not piece:
                return b"".join(chunks)
            chunks.append(piece)


def test_backend_reaches_the_handler_and_version_prefix_is_parsed(api):
    path, _ = api
    status, headers, body = call(path, "GET", "/whoami")
    assert status == 200
    assert json.loads(body) == {"backend": "fake", "version": [1, 9]}
    assert headers["Api-Version"] == ADVERTISED_API_VERSION
    assert json.loads(call(path, "GET", "/v1.24/whoami")[2])["version"] == [1, 24]
    assert json.loads(call(path, "GET", "/v1.3/whoami")[2])["version"] == [1, 3]


def test_path_parameters_may_hold_slashes(api):
    path, _ = api
    status, _, body = call(path, "GET", "/v1.24/items/localhost:5000/a/b/json")
    assert status == 200
    assert json.loads(body) == {"name": "localhost:5000/a/b"}


def test_too_new_version(api):
    path, _ = api
    status, _, body = call(path, "GET", "/v1.99/_ping")
    assert status == 400
    expected = f"client version 1.99 is too new. Maximum supported API version is {ADVERTISED_API_VERSION}\n"
    assert body == expected.encode()


def test_unknown_path_is_404_and_wrong_method_is_405(api):
    path, _ = api
    status, _, body = call(path, "GET", "/nothing/here")
    assert (status, body) == (404, b"page not found: /nothing/here\n")
    status, _, body = call(path, "POST", "/_ping")
    assert (status, body) == (405, b"POST not allowed on /_ping\n")
    status, headers, body = call(path, "PUT", "/v1.24/_ping")
    assert status == 405
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body) == {"message": "PUT not allowed on /_ping"}


def test_head_on_a_get_route(api):
    path, _ = api
    status, headers, body = call(path, "HEAD", "/_ping")
    assert status == 200
    assert headers["Content-Length"] == "2"
    assert body == b""
    # The connection stays usable: no stray body bytes were sent.
    conn = UnixConnection(path, timeout=10)
    try:
        conn.request("HEAD", "/_ping")
        first = conn.getresponse()
        first.read()
        conn.request("GET", "/_ping")
        second = conn.getresponse()
        assert (second.status, second.read()) == (200, b"OK")
    finally:
        conn.close()


def test_options_answers_any_path(api):
    path, _ = api
    status, headers, body = call(path, "OPTIONS", "/containers/whatever/json")
    assert status == 200
    assert body == b""
    assert "Access-Control-Allow-Origin" not in headers


def test_cors_headers(tmp_path):
    server, _, path = start_server(str(tmp_path), cors=True)
    try:
        status, headers, _ = call(path, "OPTIONS", "/_ping")
        assert status == 200
        assert headers["Access-Control-Allow-Origin"] == "*"
        assert call(path, "GET", "/_ping")[1]["Access-Control-Allow-Origin"] == "*"
    finally:
        server.close()


@pytest.mark.parametrize(
    "kind,status,message",
    [
        ("missing", 404, "No such container: abc"),
        ("conflict", 409, "Conflict, the name is in use"),
        ("bad", 400, "bad parameter"),
    ],
)
def test_errors_as_text_before_1_24_and_json_after(api, kind, status, message):
    path, _ = api
    got_status, headers, body = call(path, "GET", f"/v1.9/fail/{kind}")
    assert got_status == status
    assert headers["Content-Type"].startswith("text/plain")
    assert body == (message + "\n").encode()
    got_status, headers, body = call(path, "GET", f"/v1.24/fail/{kind}")
    assert got_status == status
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body) == {"message": message}


def test_unexpected_exception_is_a_500_and_the_server_lives_on(api):
    path, _ = api
    status, _, body = call(path, "GET", "/v1.24/fail/crash")
    assert status == 500
    assert json.loads(body) == {"message": "boom"}
    assert call(path, "GET", "/fail/crash")[:3:2] == (500, b"boom\n")
    assert call(path, "GET", "/_ping")[::2] == (200, b"OK")


def test_error_in_the_middle_of_a_stream_travels_inside_it(api):
    path, _ = api
    status, headers, body = call(path, "GET", "/v1.24/stream-fail")
    assert status == 200
    assert headers["Transfer-Encoding"] == "chunked"
    docs = [json.loads(line) for line in body.decode().splitlines() if line.strip()]
    assert docs == [
        {"status": "first"},
        {"error": "went wrong halfway", "errorDetail": {"message": "went wrong halfway"}},
    ]


def test_request_body_is_read_through_keep_alive(api):
    path, backend = api
    conn = UnixConnection(path, timeout=10)
    try:
        conn.request("POST", "/echo", body=b"x" * 1000)
        assert json.loads(conn.getresponse().read()) == {"len": 1000}
        conn.request(
            "POST",
            "/echo",
            body=iter([b"abc", b"defg"]),
            headers={"Transfer-Encoding": "chunked"},
            encode_chunked=True,
        )
        assert json.loads(conn.getresponse().read()) == {"len": 7}
        conn.request("GET", "/_ping")
        assert conn.getresponse().read() == b"OK"
    finally:
        conn.close()
    assert backend.seen[-2:] == [b"x" * 1000, b"abcdefg"]


def test_unread_body_closes_the_connection(api):
    path, _ = api
    # The body looks like a request of its own; were it parsed as one, a second response would come.
    smuggled = b"GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n"
    raw = b"POST /ignore-body HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(smuggled) + smuggled
    answer = raw_exchange(path, raw)
    assert answer.startswith(b"HTTP/1.1 204")
    assert answer.count(b"HTTP/1.1 ") == 1


def test_malformed_chunked_body_is_a_400(api):
    path, _ = api
    raw = b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n"
    answer = raw_exchange(path, raw)
    assert answer.startswith(b"HTTP/1.1 400")
    assert answer.endswith(b"malformed chunked request body\n")


@pytest.mark.parametrize("upgrade", [False, True])
def test_hijack_hands_over_the_socket(api, upgrade):
    path, _ = api
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect(path)
        extra = b"Connection: Upgrade\r\nUpgrade: tcp\r\n" if upgrade else b""
        s.sendall(b"POST /v1.24/hijack HTTP/1.1\r\nHost: x\r\n" + extra + b"\r\n")
        head = b""
        while b"\r\n\r\n" not in head:
            piece = s.recv(1)
            assert piece, head
            head += piece
        status_line = head.split(b"\r\n", 1)[0]
        assert status_line == (b"HTTP/1.1 101 UPGRADED" if upgrade else b"HTTP/1.1 200 OK")
        assert b"Content-Type: application/vnd.docker.raw-stream" in head
        s.sendall(b"hello")
        rest = b""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            piece = s.recv(100)
            if not piece:
                break
            rest += piece
        # Nothing HTTP follows the handler's own bytes: no status line, no chunk terminator.
        assert rest == b"echo:hello"


# -- the edge (issue 15) -------------------------------------------------------------------------------


def _raw(path, data, timeout):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(path)
        s.sendall(data)
        out = b""
        while piece := s.recv(65536):
            out += piece
        return out


@pytest.mark.parametrize("length", [b"-1", b"+3", b"abc"])
def test_a_malformed_content_length_is_a_400_at_once(api, length):
    path, _ = api
    # Today's main waited for the client to hang up: the 10 s socket timeout was the answer.
    answer = raw_exchange(
        path, b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: " + length + b"\r\n\r\nabc"
    )
    assert answer.startswith(b"HTTP/1.1 400"), answer
    assert b"Content-Length" in answer


def test_a_large_declared_json_body_is_a_413_and_the_client_reads_it(api):
    path, _ = api
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect(path)
        s.sendall(b"POST /v1.24/containers/create HTTP/1.1\r\nHost: x\r\nContent-Length: 2147483648\r\n\r\n")
        # The client goes on sending; the daemon answers anyway and does not read it all.
        for _ in range(4):
            try:
                s.sendall(b"x" * 65536)
            except OSError:
                break
        answer = s.recv(65536)
    assert answer.startswith(b"HTTP/1.1 413"), answer
    assert b"request body too large" in answer


def test_pipelined_requests_are_answered_in_order(api):
    path, _ = api
    answer = raw_exchange(
        path,
        b"GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n"
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
        b"GET /v1.24/whoami HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    assert answer.count(b"HTTP/1.1 200") == 3
    assert answer.index(b"OK") < answer.index(b'{"len": 3}') < answer.index(b'"backend"')
    assert b"Connection: close" in answer


def test_expect_100_continue(api):
    path, _ = api
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect(path)
        s.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
        assert s.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
        s.sendall(b"body")
        assert s.recv(4096).startswith(b"HTTP/1.1 200")


@pytest.mark.parametrize("coding,status", [(b"gzip", b"501"), (b"chunked\r\nContent-Length: 3", b"400")])
def test_unsupported_or_ambiguous_framing(api, coding, status):
    path, _ = api
    answer = raw_exchange(
        path, b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: " + coding + b"\r\n\r\n"
    )
    assert answer.startswith(b"HTTP/1.1 " + status), answer


def test_idle_and_header_timeouts_close_the_connection(tmp_path):
    server, _, path = start_server(str(tmp_path), idle_timeout=0.5, header_timeout=0.5)
    try:
        for data in (b"", b"GET /_ping HTTP/1.1\r\nHost: x\r\n"):
            start = time.monotonic()
            # The server closes without answering; recv returns b"" well before the 10 s socket timeout.
            assert _raw(path, data, 10) == b""
            assert time.monotonic() - start < 8
        # A keep-alive connection left idle after a request is closed too.
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(10)
            s.connect(path)
            s.sendall(b"GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n")
            first = b""
            while not first.endswith(b"OK"):
                first += s.recv(4096)
            assert first.startswith(b"HTTP/1.1 200")
            assert s.recv(4096) == b""
    finally:
        server.close()


def test_idle_connections_hold_no_threads(tmp_path):
    server, _, path = start_server(str(tmp_path), backlog=512)
    before = threading.active_count()
    conns = []
    try:
        for i in range(300):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            conns.append(s)
            s.connect(path)
            if i % 2:
                s.sendall(b"GET /_ping HTTP/1.1\r\n")  # a head that never ends
        assert call(path, "GET", "/_ping")[::2] == (200, b"OK")
        # Today's main: one thread per connection, 300 more.
        assert threading.active_count() < before + 10
    finally:
        for s in conns:
            s.close()
        server.close()


def test_ping_and_version_answer_while_every_worker_is_busy(tmp_path):
    server, backend, path = start_server(str(tmp_path), workers=1, control_workers=1)
    try:
        blocked = threading.Thread(target=call, args=(path, "GET", "/block"), daemon=True)
        blocked.start()
        assert backend.entered.wait(10)
        # The one main worker is held; /_ping and /version have a pool of their own.
        assert call(path, "GET", "/_ping")[::2] == (200, b"OK")
        assert call(path, "HEAD", "/v1.24/_ping")[0] == 200
        assert call(path, "GET", "/v1.24/version")[0] == 200
        queued: list = []
        waiter = threading.Thread(target=lambda: queued.append(call(path, "GET", "/whoami")), daemon=True)
        waiter.start()
        waiter.join(0.3)
        assert not queued  # waits for a main worker
        backend.release.set()
        waiter.join(10)
        assert queued and queued[0][0] == 200
    finally:
        backend.release.set()
        server.close()


# -- tcp: what a web page would send ---------------------------------------------------------------


@pytest.fixture(scope="module")
def tcp_api():
    backend = FakeBackend()
    router = Router()
    router.add_routes(ROUTES, backend)
    server = ApiServer(router, group="")
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    server.listen_socket(sock)
    server.serve()
    yield sock.getsockname()[1]
    server.close()


def tcp_call(port, method, url, body=None, headers=None):
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, url, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


@pytest.mark.parametrize(
    "host", ["localhost", "LOCALHOST.", "127.0.0.1", "127.0.0.1:{port}", "localhost:1", "[::1]:{port}"]
)
def test_tcp_serves_its_own_names(tcp_api, host):
    status, body = tcp_call(tcp_api, "GET", "/_ping", headers={"Host": host.format(port=tcp_api)})
    assert (status, body) == (200, b"OK")


@pytest.mark.parametrize(
    "host", ["evil.example", "evil.example:{port}", "localhost.evil.example", "10.0.0.1", ""]
)
def test_tcp_refuses_a_foreign_host(tcp_api, host):
    status, body = tcp_call(tcp_api, "GET", "/v1.24/whoami", headers={"Host": host.format(port=tcp_api)})
    assert status == 403 if host else status == 403 or status == 400, body


def test_tcp_refuses_a_missing_host_on_http_1_1(tcp_api):
    with socket.create_connection(("127.0.0.1", tcp_api), timeout=10) as s:
        s.sendall(b"GET /_ping HTTP/1.1\r\n\r\n")
        assert s.recv(4096).startswith(b"HTTP/1.1 400")
    with socket.create_connection(("127.0.0.1", tcp_api), timeout=10) as s:
        s.sendall(b"GET /_ping HTTP/1.0\r\n\r\n")
        assert s.recv(4096).startswith(b"HTTP/1.1 200")


def test_tcp_refuses_cross_origin_requests(tcp_api):
    status, body = tcp_call(tcp_api, "POST", "/ignore-body", b"a=1", {"Origin": "http://evil.example"})
    assert status == 403 and b"cross-origin" in body


def test_tcp_wants_json_labelled_as_json(tcp_api):
    status, body = tcp_call(
        tcp_api, "POST", "/v1.24/containers/create", b'{"a": 1}', {"Content-Type": "text/plain"}
    )
    assert status == 400 and b"must be 'application/json'" in body
    status, body = tcp_call(
        tcp_api, "POST", "/containers/create", b'{"a": 1}', {"Content-Type": "application/json"}
    )
    assert (status, json.loads(body)) == (201, {"got": {"a": 1}})


def test_unix_accepts_any_host_origin_and_label(api):
    path, _ = api
    headers = {"Host": "evil.example", "Origin": "http://evil.example", "Content-Type": "text/plain"}
    status, _, body = call(path, "POST", "/containers/create", b'{"a": 1}', headers)
    assert (status, json.loads(body)) == (201, {"got": {"a": 1}})


def test_cors_lets_origins_through_on_tcp(tmp_path):
    backend = FakeBackend()
    router = Router()
    router.add_routes(ROUTES, backend)
    server = ApiServer(router, group="", cors=True)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    server.listen_socket(sock)
    server.serve()
    try:
        status, body = tcp_call(
            sock.getsockname()[1], "GET", "/_ping", headers={"Origin": "http://ui.example"}
        )
        assert (status, body) == (200, b"OK")
    finally:
        server.close()


def test_overflowing_numbers_are_400_not_500(tmp_path):
    def overflow(backend, req, res):
        int(float(req.q("since")) * 1e9)

    router = Router()
    router.add("GET", "/events", lambda req, res: overflow(None, req, res))
    server = ApiServer(router, group="")
    path = os.path.join(str(tmp_path), "o.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(path)
    sock.listen(8)
    server.listen_socket(sock)
    server.serve()
    try:
        status, _, body = call(path, "GET", "/v1.24/events?since=inf")
        assert status == 400, body
    finally:
        server.close()
