"""The daemon process: flags, sockets, pidfile, signals, API versions and errors over raw HTTP."""

from __future__ import annotations

import json
import os
import socket
import subprocess

from lib.daemon import docker_cmd, our_env


def raw(sock_path: str, request: bytes) -> bytes:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(sock_path)
    s.sendall(request)
    chunks = []
    while True:
        data = s.recv(65536)
        if not data:
            break
        chunks.append(data)
    s.close()
    return b"".join(chunks)


def test_ping_head_and_get_carry_api_version(daemon):
    head = raw(daemon.sock, b"HEAD /_ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert b"Api-Version: 1.24" in head
    assert head.endswith(b"\r\n\r\n")  # no body on HEAD
    get = raw(daemon.sock, b"GET /v1.9/_ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert get.endswith(b"OK")


def test_version_and_info_over_http(daemon):
    body = raw(daemon.sock, b"GET /v1.9/version HTTP/1.0\r\n\r\n").split(b"\r\n\r\n", 1)[1]
    doc = json.loads(body)
    assert doc["ApiVersion"] == "1.24" and doc["Version"]
    info = json.loads(raw(daemon.sock, b"GET /info HTTP/1.0\r\n\r\n").split(b"\r\n\r\n", 1)[1])
    assert info["Images"] >= 1 and info["Driver"] in ("overlay", "vfs")
    assert info["ExecutionDriver"].startswith("native")


def test_errors_have_docker_status_and_wording(daemon):
    old = raw(daemon.sock, b"GET /v1.9/images/nosuchthing/json HTTP/1.0\r\n\r\n")
    assert old.startswith(b"HTTP/1.0 404") or old.startswith(b"HTTP/1.1 404")
    assert old.split(b"\r\n\r\n", 1)[1].strip() == b"No such image: nosuchthing"
    new = raw(daemon.sock, b"GET /v1.24/images/nosuchthing/json HTTP/1.0\r\n\r\n")
    assert json.loads(new.split(b"\r\n\r\n", 1)[1]) == {"message": "No such image: nosuchthing"}
    too_new = raw(daemon.sock, b"GET /v1.99/version HTTP/1.0\r\n\r\n")
    assert b" 400 " in too_new.split(b"\r\n", 1)[0] and b"too new" in too_new
    unknown = raw(daemon.sock, b"GET /v1.9/nothing/here HTTP/1.0\r\n\r\n")
    assert b" 404 " in unknown.split(b"\r\n", 1)[0]


def test_keep_alive_serves_several_requests_on_one_connection(daemon):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(daemon.sock)
    s.sendall(
        b"GET /_ping HTTP/1.1\r\nHost: x\r\n\r\nGET /_ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    data = b""
    while chunk := s.recv(4096):
        data += chunk
    assert data.count(b"HTTP/1.1 200") == 2


def test_socket_mode_and_cors(daemon_factory):
    d = daemon_factory("--api-enable-cors").start()
    assert oct(os.stat(d.sock).st_mode & 0o777) == "0o660"
    resp = raw(d.sock, b"GET /_ping HTTP/1.0\r\nOrigin: http://x\r\n\r\n")
    assert b"Access-Control-Allow-Origin: *" in resp
    plain = raw(daemon_factory().start().sock, b"GET /_ping HTTP/1.0\r\n\r\n")
    assert b"Access-Control-Allow-Origin" not in plain


def test_second_daemon_on_same_pidfile_refuses(daemon_factory):
    first = daemon_factory().start()
    second = subprocess.run(
        docker_cmd()
        + ["-d", "-H", f"unix://{first.base}/other.sock", "-g", f"{first.base}/root2", "-p", first.pidfile],
        capture_output=True,
        env=our_env(),
        timeout=30,
    )
    assert second.returncode != 0
    assert b"pid file found, ensure docker is not running" in second.stderr
    assert first.cli("version").returncode == 0


def test_sigterm_removes_socket_and_pidfile(daemon_factory):
    d = daemon_factory().start()
    assert os.path.exists(d.pidfile)
    assert int(open(d.pidfile).read()) == d.proc.pid
    assert d.stop() == 0
    assert not os.path.exists(d.sock)
    assert not os.path.exists(d.pidfile)


def test_bad_daemon_flags_fail_clearly(daemon_factory, tmp_path):
    for args, message in (
        (["-H", "foo://bar"], b"Invalid bind address"),
        (["--bip", "nonsense"], b"--bip"),
        (["-b", "br0", "--bip", "10.1.0.1/16"], b"mutually exclusive"),
        (["-s", "nosuchdriver"], b"nosuchdriver"),
        (["-e", "qemu"], b"exec driver"),
        (["--icc=false", "--iptables=false"], b"ICC uses iptables"),
        # Fails after the storage driver is up (it holds a mount), so the daemon must give that back.
        (["-b", "ldtnosuchbr0", "--iptables=false"], b"not found"),
    ):
        result = subprocess.run(
            docker_cmd()
            + ["-d", "-g", str(tmp_path / "g"), "-p", str(tmp_path / "pid"), *args]
            + ([] if "-H" in args else ["-H", f"unix://{tmp_path}/s.sock"]),
            capture_output=True,
            env=our_env(),
            timeout=30,
        )
        assert result.returncode != 0, args
        assert message in result.stderr, (args, result.stderr)
        assert b"Traceback" not in result.stderr
        with open("/proc/self/mounts") as f:
            assert str(tmp_path) not in f.read(), f"a failed start left mounts behind: {args}"


def test_client_without_daemon_says_cannot_connect(tmp_path):
    result = subprocess.run(
        docker_cmd() + ["-H", f"unix://{tmp_path}/none.sock", "images"],
        capture_output=True,
        env=our_env(),
        timeout=30,
    )
    assert result.returncode != 0
    assert b"Cannot connect to the Docker daemon. Is 'docker -d' running on this host?" in result.stderr
    via_env = subprocess.run(
        docker_cmd() + ["info"],
        capture_output=True,
        timeout=30,
        env=our_env({"DOCKER_HOST": f"unix://{tmp_path}/none.sock"}),
    )
    assert b"Cannot connect to the Docker daemon" in via_env.stderr


def test_tcp_listener(daemon_factory):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    d = daemon_factory("-H", f"tcp://127.0.0.1:{port}").start()
    result = subprocess.run(
        docker_cmd() + ["-H", f"tcp://127.0.0.1:{port}", "version"],
        capture_output=True,
        env=our_env(),
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert b"Server version:" in result.stdout
    assert d.cli("version").returncode == 0  # the unix socket still answers


def test_events_stream_does_not_block_other_clients(daemon):
    import select
    import time

    # --since covers a subscription that lands after the tag: the client process may start slowly.
    since = str(int(time.time()) - 1)
    proc = subprocess.Popen(
        docker_cmd() + ["-H", daemon.host, "events", "--since", since], stdout=subprocess.PIPE, env=our_env()
    )
    try:
        daemon.out("tag", "busybox", "evtest:one")
        deadline = time.monotonic() + 30
        seen = b""
        fd = proc.stdout.fileno()  # raw reads: a buffered readline would hide lines from select()
        while not any(line.endswith(b": tag") for line in seen.splitlines()):
            ready, _, _ = select.select([fd], [], [], max(deadline - time.monotonic(), 0))
            assert ready, f"no tag event arrived within 30 s: {seen!r}"
            seen += os.read(fd, 65536)
        assert daemon.cli("images").returncode == 0
        assert proc.poll() is None  # the stream stays open
    finally:
        proc.kill()
        proc.wait()
        daemon.cli("rmi", "evtest:one")
