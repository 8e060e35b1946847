"""Detach keys: `detachKeys` on attach (and on exec create), Ctrl-P Ctrl-Q by default, the
`detachKeys` of the client's config.json; on detach the connection ends and the container runs on.
Through raw HTTP, our CLI (`attach`/`run --detach-keys`, on a real terminal), the docker CLI 28 and
the docker SDK for Python 7."""

from __future__ import annotations

import json
import os
import pty
import select
import socket
import subprocess
import time

import pytest

from lib.daemon import docker_cmd, our_env
from lib.poll import poll
from lib.require import require, require_module
from lib.unixhttp import api

pytestmark = pytest.mark.root

DOCKER_CLI = "/usr/local/bin/docker"
CTRL_X, CTRL_P, CTRL_Q = b"\x18", b"\x10", b"\x11"


def running(d, cid: str) -> bool:
    status, body = api(d, "GET", f"/v1.24/containers/{cid}/json")
    return status == 200 and json.loads(body)["State"]["Running"]


@pytest.fixture
def cat(daemon):
    """A running `cat` with a terminal and stdin open."""
    cid = daemon.out("run", "-d", "-i", "-t", "busybox", "cat").strip()
    yield cid
    daemon.cli("rm", "-f", cid)


def hijack(d, query: str) -> socket.socket:
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(20)
    s.connect(d.sock)
    request = f"POST /v1.24/{query} HTTP/1.1\r\nHost: x\r\nUpgrade: tcp\r\nConnection: Upgrade\r\n\r\n"
    s.sendall(request.encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(1)
        assert chunk, head
        head += chunk
    assert head.startswith(b"HTTP/1.1 101"), head
    return s


def read_until(s: socket.socket, want: bytes) -> bytes:
    got = b""
    deadline = time.monotonic() + 20
    while want not in got and time.monotonic() < deadline:
        chunk = s.recv(4096)
        if not chunk:
            break
        got += chunk
    return got


def read_to_end(s: socket.socket) -> bytes:
    got = b""
    while True:
        chunk = s.recv(4096)
        if not chunk:
            return got
        got += chunk


def test_custom_keys_detach_and_the_container_runs_on(daemon, cat):
    s = hijack(daemon, f"containers/{cat}/attach?stdin=1&stdout=1&stream=1&detachKeys=ctrl-x")
    try:
        # Ctrl-P is ordinary input once other keys are chosen: the terminal echoes it.
        s.sendall(b"one" + CTRL_P + b"z\n")
        assert b"one^Pz" in read_until(s, b"one^Pz")
        s.sendall(b"two\n" + CTRL_X + b"never\n")  # the log keeps whole lines only
        rest = read_to_end(s)  # the daemon ends the stream
        assert b"never" not in rest
    finally:
        s.close()
    assert running(daemon, cat)
    poll(lambda: b"two" in daemon.cli("logs", cat).stdout, what="the echo of what came before the keys")
    assert b"never" not in daemon.cli("logs", cat).stdout


def test_default_keys_split_across_writes(daemon, cat):
    s = hijack(daemon, f"containers/{cat}/attach?stdin=1&stdout=1&stream=1")
    try:
        s.sendall(b"hello" + CTRL_P)
        s.sendall(CTRL_Q)
        read_to_end(s)
    finally:
        s.close()
    assert running(daemon, cat)


def test_a_sequence_of_several_keys(daemon, cat):
    s = hijack(daemon, f"containers/{cat}/attach?stdin=1&stdout=1&stream=1&detachKeys=a,ctrl-b,c")
    try:
        s.sendall(b"ab\n")  # a prefix that does not complete passes through
        assert b"ab" in read_until(s, b"ab")
        s.sendall(b"a\x02c")
        read_to_end(s)
    finally:
        s.close()
    assert running(daemon, cat)


def test_bad_keys_are_a_400_before_the_stream(daemon, cat):
    status, body = api(daemon, "POST", f"/v1.24/containers/{cat}/attach?stdin=1&stream=1&detachKeys=ctrl-1")
    assert status == 400
    assert "Invalid escape keys (ctrl-1) provided" in body.decode()


# -- clients on a terminal ----------------------------------------------------------------------------


def on_terminal(argv: list[str], env: dict[str, str], keys: bytes) -> tuple[int, bytes]:
    """Run `argv` with a terminal as stdin/stdout; once what it types shows in the container's echo,
    send `keys`; return (exit status, output)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True)
    os.close(slave)
    out = b""
    try:
        deadline = time.monotonic() + 30
        sent_keys = False
        os.write(master, b"marco\r")
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                out += chunk
            if not sent_keys and out.count(b"marco") >= 2:  # the typed line and cat's answer
                os.write(master, keys)
                sent_keys = True
            if proc.poll() is not None:
                break
        return proc.wait(timeout=20), out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)


def test_our_cli_attach_with_detach_keys(daemon, cat):
    status, out = on_terminal([*docker_cmd(), "-H", daemon.host, "attach", "--detach-keys", "ctrl-x", cat],
                              our_env(), CTRL_X)  # fmt: skip
    assert status == 0, out
    assert running(daemon, cat)


def test_our_cli_run_detach_keys_from_config_file(daemon, tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"detachKeys": "ctrl-x"}))
    env = our_env({"DOCKER_CONFIG": str(tmp_path)})
    argv = [*docker_cmd(), "-H", daemon.host, "run", "-i", "-t", "--name", "detach-run", "busybox", "cat"]
    try:
        status, out = on_terminal(argv, env, CTRL_X)
        assert status == 0, out
        assert running(daemon, "detach-run")
    finally:
        daemon.cli("rm", "-f", "detach-run")


def test_our_cli_exec_detach_keys_from_config_file(daemon, cat, tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"detachKeys": "ctrl-x"}))
    env = our_env({"DOCKER_CONFIG": str(tmp_path)})
    argv = [*docker_cmd(), "-H", daemon.host, "exec", "-i", "-t", cat]
    status, out = on_terminal([*argv, "sh", "-c", "echo $$ > /tmp/pid; exec cat"], env, CTRL_X)
    assert status == 0, out
    pid = daemon.out("exec", cat, "cat", "/tmp/pid").strip()
    assert daemon.cli("exec", cat, "kill", "-0", pid).returncode == 0  # the exec'd cat runs on


def test_our_cli_run_detach_keys_flag(daemon):
    argv = [*docker_cmd(), "-H", daemon.host, "run", "-it", "--detach-keys", "ctrl-x"]
    try:
        status, out = on_terminal([*argv, "--name", "detach-flag", "busybox", "cat"], our_env(), CTRL_X)
        assert status == 0, out
        assert running(daemon, "detach-flag")
    finally:
        daemon.cli("rm", "-f", "detach-flag")


def test_docker_cli_28_attach_detach_keys(daemon, cat):
    require(os.access(DOCKER_CLI, os.X_OK), f"the docker CLI 28 is not installed at {DOCKER_CLI}")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    env.update({"DOCKER_HOST": daemon.host, "DOCKER_CONFIG": "/tmp/lxc-docker-test-cli-config"})
    status, out = on_terminal([DOCKER_CLI, "attach", "--detach-keys", "ctrl-x", cat], env, CTRL_X)
    # The docker CLI watches for the keys too and ends with its own message (and status 1).
    assert b"read escape sequence" in out, (status, out)
    assert running(daemon, cat)


# -- the SDK ------------------------------------------------------------------------------------------


def test_sdk_attach_socket_detach_keys_and_config(daemon, cat):
    docker = require_module("docker", "pip install docker; scripts/setup-dev.sh installs it")
    client = docker.APIClient(base_url=daemon.host, version="1.24", timeout=60)
    try:
        client._general_configs["detachKeys"] = "ctrl-p"  # the config file's keys, unless given
        for params, keys in (({"stdin": True, "stream": True, "detachKeys": "ctrl-x"}, CTRL_X), ({}, CTRL_P)):
            sock = client.attach_socket(cat, {"stdin": True, "stream": True, **params})
            raw = sock._sock
            raw.sendall(keys)
            raw.settimeout(20)
            assert raw.recv(128) == b""  # the daemon ended the stream
            sock.close()
            assert running(daemon, cat)
    finally:
        client.close()


def test_sdk_exec_detach_keys(daemon, cat):
    docker = require_module("docker", "pip install docker; scripts/setup-dev.sh installs it")
    client = docker.APIClient(base_url=daemon.host, version="1.24", timeout=60)
    try:
        ex = client.exec_create(cat, "sh -c 'echo $$ > /tmp/pid; exec cat'", stdin=True, tty=True,
                                detach_keys="ctrl-x")  # fmt: skip
        sock = client.exec_start(ex["Id"], tty=True, socket=True)
        raw = sock._sock
        raw.settimeout(20)
        poll(lambda: daemon.cli("exec", cat, "cat", "/tmp/pid").returncode == 0, what="the exec running")
        raw.sendall(CTRL_X)
        assert read_to_end(raw) == b""
        sock.close()
        pid = daemon.out("exec", cat, "cat", "/tmp/pid").strip()
        assert daemon.cli("exec", cat, "kill", "-0", pid).returncode == 0  # detached, still running
        assert client.exec_inspect(ex["Id"])["Running"]
    finally:
        client.close()
