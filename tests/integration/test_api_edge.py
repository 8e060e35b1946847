"""The HTTP edge of a real daemon (issue 15, item 4): malformed and oversized requests are refused with
4xx (never a hung thread or a 500), thousands of idle connections hold no threads and do not stop
`/_ping`, and on tcp the daemon refuses what a web page would send (foreign Host, Origin, text/plain
JSON) while the docker CLI 28 and the SDK still work."""

from __future__ import annotations

import http.client
import json
import os
import resource
import shutil
import socket
import subprocess

import pytest

from lib.daemon import docker_cmd, our_env
from lib.poll import poll
from lib.require import require, require_module
from lib.unixhttp import api, request

DOCKER_CLI = "/usr/local/bin/docker"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def tcp_daemon(busybox_tar):
    """A daemon on its unix socket and on plain tcp at 127.0.0.1 (with the busybox image)."""
    import tempfile

    from lib.daemon import Daemon

    port = free_port()
    d = Daemon(tempfile.mkdtemp(prefix="ldt-", dir="/tmp"), ["-H", f"tcp://127.0.0.1:{port}"]).start()
    d.cli("import", "-", "busybox", input=open(busybox_tar, "rb").read(), check=True)
    d.port = port
    yield d
    try:
        d.stop()
    finally:
        d.kill()
        shutil.rmtree(d.base, ignore_errors=True)


def tcp(d, method, path, body=None, headers=None, timeout=20):
    conn = http.client.HTTPConnection("127.0.0.1", d.port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def raw_unix(d, data: bytes, timeout: float = 10) -> bytes:
    """Send raw bytes on the unix socket; everything the daemon answers until it closes."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(d.sock)
        s.sendall(data)
        out = b""
        while piece := s.recv(65536):
            out += piece
        return out


def containers(d) -> int:
    status, body = api(d, "GET", "/containers/json?all=1")
    assert status == 200
    return len(json.loads(body))


# -- bodies and parameters -----------------------------------------------------------------------


@pytest.mark.parametrize("length", [b"-1", b"+5", b"1_0", b"0x10", b"5, 6"])
def test_malformed_content_length_is_a_400_at_once(tcp_daemon, length):
    # Today's main read until the client hung up: this socket timeout (10 s) was the answer.
    head = b"POST /containers/create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    answer = raw_unix(tcp_daemon, head + b"Content-Length: " + length + b"\r\n\r\n{}")
    assert answer.startswith(b"HTTP/1.1 400"), answer[:200]
    assert b"Content-Length" in answer


def test_a_declared_2gb_json_body_is_a_413_without_reading_it(tcp_daemon):
    before = containers(tcp_daemon)
    head = (
        b"POST /v1.24/containers/create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b'Content-Length: 2147483648\r\n\r\n{"Image": "busybox"'
    )
    answer = raw_unix(tcp_daemon, head)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"too large" in answer
    assert containers(tcp_daemon) == before


def test_a_chunked_json_body_past_the_cap_is_a_413(tcp_daemon):
    piece = b"x" * (1 << 20)
    chunks = b"".join(
        b"%x\r\n%s\r\n" % (len(p), p) for p in [b'{"Image": "busybox", "Env": ["A='] + [piece] * 6
    )
    head = (
        b"POST /v1.24/containers/create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    answer = raw_unix(tcp_daemon, head + chunks)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]


def test_streamed_bodies_have_no_cap(tcp_daemon):
    # A context larger than the JSON cap still builds: build contexts stream.
    import io
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in (("Dockerfile", b"FROM busybox\nADD big /big\n"), ("big", os.urandom(6 << 20))):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    result = tcp_daemon.cli("build", "-t", "edge/big", "-", input=buf.getvalue(), timeout=120)
    assert result.returncode == 0, result.stderr
    tcp_daemon.out("rmi", "edge/big")


def test_deeply_nested_json_and_odd_numbers_are_400_not_500(tcp_daemon):
    deep = b"[" * 100_000 + b"]" * 100_000
    status, _, text = request(
        tcp_daemon.sock, "POST", "/v1.24/containers/create", deep, {"Content-Type": "application/json"}
    )
    assert status == 400, text
    for query in ("since=inf", "until=inf", "since=-inf", "since=1e400", "since=nan"):
        status, _, text = request(tcp_daemon.sock, "GET", f"/v1.24/events?{query}", timeout=10)
        assert status == 400, (query, text)
    status, _, text = request(tcp_daemon.sock, "GET", "/v1.24/containers/json?limit=99999999999999999999")
    assert status == 400, text
    assert "Traceback" not in tcp_daemon.log()


@pytest.mark.parametrize(
    ("body", "key"),
    [
        ({"Image": 5}, "Image"),
        ({"Image": "busybox", "Cmd": ["true"], "HostConfig": 5}, "HostConfig"),
        ({"Image": "busybox", "Cmd": ["true"], "Dns": 5}, "Dns"),
        ({"Image": "busybox", "Cmd": ["true"], "HostConfig": {"Dns": 5}}, "Dns"),
        ({"Image": "busybox", "Cmd": ["tr\0ue"]}, "Cmd"),
        ({"Image": "busybox", "Cmd": ["true"], "Env": ["A=\0"]}, "Env"),
    ],
)
def test_create_bodies_of_the_issue_are_400_and_nothing_is_created(tcp_daemon, body, key):
    before = containers(tcp_daemon)
    status, text = api(tcp_daemon, "POST", "/v1.24/containers/create", body)
    assert status == 400, text
    assert key.encode() in text
    assert containers(tcp_daemon) == before


# -- idle connections --------------------------------------------------------------------------------


def daemon_threads(d) -> int:
    with open(f"/proc/{d.proc.pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("Threads:"))


def test_ping_and_version_answer_with_2000_idle_connections_open(tcp_daemon):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 4500:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(max(hard, 4500), hard), hard))
    require(resource.getrlimit(resource.RLIMIT_NOFILE)[0] >= 2100, "needs 2,100 open files for the test")
    threads_before = daemon_threads(tcp_daemon)
    idle: list[socket.socket] = []
    try:
        for i in range(2000):
            s = socket.create_connection(("127.0.0.1", tcp_daemon.port), timeout=10)
            if i % 2:
                # Half of them start a request and never finish its head (slowloris).
                s.sendall(b"GET /_ping HTTP/1.1\r\nHost: localhost\r\n")
            idle.append(s)
        # The daemon has accepted them all (a connection it had not accepted would cost it nothing).
        status, _, body = tcp(tcp_daemon, "GET", "/_ping", headers={"Host": "localhost"})
        assert (status, body) == (200, b"OK")
        status, _, body = tcp(tcp_daemon, "GET", "/v1.24/version")
        assert status == 200 and json.loads(body)["ApiVersion"] == "1.24"
        status, _, _ = tcp(tcp_daemon, "GET", "/v1.24/containers/json")
        assert status == 200
        # Idle connections hold no thread (today's main: one thread each, 2,000+).
        assert daemon_threads(tcp_daemon) < threads_before + 50
        # The CLI still works meanwhile.
        ps = subprocess.run(
            [*docker_cmd(), "-H", f"tcp://127.0.0.1:{tcp_daemon.port}", "ps"],
            capture_output=True,
            env=our_env(),
        )
        assert ps.returncode == 0, ps.stderr
    finally:
        for s in idle:
            s.close()
    poll(lambda: tcp(tcp_daemon, "GET", "/_ping")[0] == 200, timeout=20, what="ping after closing")


# -- what a web page sends, on tcp ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "host", ["localhost", "127.0.0.1", "localhost:{port}", "127.0.0.1:{port}", "[::1]:{port}"]
)
def test_our_own_names_are_served_on_tcp(tcp_daemon, host):
    status, _, body = tcp(tcp_daemon, "GET", "/_ping", headers={"Host": host.format(port=tcp_daemon.port)})
    assert (status, body) == (200, b"OK")


@pytest.mark.parametrize(
    "host", ["evil.example", "evil.example:{port}", "127.0.0.1.nip.io:{port}", "10.1.2.3"]
)
def test_a_foreign_host_header_is_refused_on_tcp_but_not_on_unix(tcp_daemon, host):
    host = host.format(port=tcp_daemon.port)
    status, _, body = tcp(tcp_daemon, "GET", "/v1.24/containers/json", headers={"Host": host})
    assert status == 403, body
    assert b"DNS rebinding" in body
    status, _, body = request(tcp_daemon.sock, "GET", "/v1.24/containers/json", headers={"Host": host})
    assert status == 200, body


def test_json_bodies_must_be_application_json_on_tcp(tcp_daemon):
    before = containers(tcp_daemon)
    body = json.dumps({"Image": "busybox", "Cmd": ["true"]}).encode()
    for content_type in ("text/plain", "application/x-www-form-urlencoded", None):
        headers = {"Content-Type": content_type} if content_type else {}
        status, _, text = tcp(tcp_daemon, "POST", "/v1.24/containers/create", body, headers)
        assert status == 400, (content_type, text)
        assert b"must be 'application/json'" in text
    assert containers(tcp_daemon) == before
    status, _, text = tcp(
        tcp_daemon,
        "POST",
        "/v1.24/containers/create",
        body,
        {"Content-Type": "application/json; charset=utf-8"},
    )
    assert status == 201, text
    cid = json.loads(text)["Id"]
    # An empty start body is fine whatever its label (the CLI sends text/plain with none).
    status, _, text = tcp(
        tcp_daemon, "POST", f"/v1.24/containers/{cid}/start", b"", {"Content-Type": "text/plain"}
    )
    assert status == 204, text
    # On the unix socket no browser can reach, the label is not checked.
    status, _, text = request(
        tcp_daemon.sock, "POST", "/v1.24/containers/create", body, {"Content-Type": "text/plain"}
    )
    assert status == 201, text
    tcp_daemon.cli("rm", "-f", cid, json.loads(text)["Id"])


def test_a_cross_origin_request_is_refused_on_tcp(tcp_daemon):
    # A form POST needs no preflight and carries no JSON: only its Origin header gives it away.
    before = containers(tcp_daemon)
    status, _, text = tcp(
        tcp_daemon,
        "POST",
        "/v1.24/containers/create",
        b"x=1",
        {"Origin": "http://evil.example", "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert status == 403, text
    assert containers(tcp_daemon) == before


def test_docker_cli_28_and_sdk_over_plain_tcp(tcp_daemon):
    require(shutil.which(DOCKER_CLI), "the docker CLI 28 is not installed at /usr/local/bin/docker")
    env = {k: v for k, v in our_env().items() if not k.startswith("DOCKER_")}
    env.update(
        DOCKER_HOST=f"tcp://127.0.0.1:{tcp_daemon.port}", DOCKER_CONFIG="/tmp/lxc-docker-test-cli-config"
    )
    out = subprocess.run(
        [DOCKER_CLI, "run", "--rm", "busybox", "echo", "over-tcp"], capture_output=True, env=env, timeout=120
    )
    assert out.returncode == 0 and out.stdout == b"over-tcp\n", out
    docker = require_module("docker", "scripts/setup-dev.sh installs it")
    client = docker.DockerClient(base_url=f"tcp://127.0.0.1:{tcp_daemon.port}", version="auto", timeout=60)
    try:
        assert client.ping()
        c = client.containers.create("busybox", ["true"])
        c.remove()
    finally:
        client.close()


def test_a_start_body_with_a_nul_is_a_400_and_a_good_start_works(tcp_daemon):
    status, body = api(tcp_daemon, "POST", "/v1.9/containers/create", {"Image": "busybox", "Cmd": ["true"]})
    assert status == 201, body
    cid = json.loads(body)["Id"]
    status, text = api(tcp_daemon, "POST", f"/v1.9/containers/{cid}/start", {"Binds": ["/tmp:/x\0y"]})
    assert status == 400 and b"HostConfig.Binds" in text, text
    status, text = api(tcp_daemon, "POST", f"/v1.9/containers/{cid}/start", {})
    assert status == 204, text
    assert tcp_daemon.out("wait", cid).strip() == "0"
    tcp_daemon.out("rm", cid)
