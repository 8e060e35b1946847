"""Router and ApiServer.dispatch over a real unix socket, with a fake backend and a tiny route table."""

import json
import os
import socket
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
]


def start_server(tmp_path, cors=False):
    backend = FakeBackend()
    router = Router()
    router.add_routes(ROUTES, backend)
    server = ApiServer(router, cors=cors, group="")
    path = os.path.join(tmp_path, "api.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(path)
    sock.listen(8)
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
