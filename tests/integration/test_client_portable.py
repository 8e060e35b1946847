"""Issue 14: the `docker` client as it runs on Windows and macOS, against a daemon on tcp://127.0.0.1.

Each command runs through tests/lib/foreignhost.py: termios, fcntl, pty, resource, pwd, grp, posix
refused at import (Windows), POSIX-only functions and constants gone, /proc unreadable, and
`sys.platform` set, so the client takes its Windows or macOS branches for real against a real daemon.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time

import pytest
import test_tls

from lib.daemon import our_env
from lib.foreignhost import foreign_cmd, run_foreign

# test_tls.py's fixtures: certificates made with openssl and a daemon that requires client ones.
certs = test_tls.certs
tls_daemon = test_tls.tls_daemon


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def tcp_daemon(busybox_tar, tmp_path_factory):
    from conftest import _base_dir, _cleanup_root
    from lib.daemon import Daemon

    port = free_port()
    d = Daemon(_base_dir(), ["-H", f"tcp://127.0.0.1:{port}"]).start()
    d.cli("import", "-", "busybox", input=open(busybox_tar, "rb").read(), check=True)
    d.tcp = f"tcp://127.0.0.1:{port}"
    yield d
    try:
        d.stop()
    finally:
        d.kill()
        _cleanup_root(d.base)


def docker(tcp_daemon, platform: str, *args: str, **kw) -> subprocess.CompletedProcess:
    result = run_foreign(platform, tcp_daemon.tcp, *args, **kw)
    assert b"Traceback" not in result.stderr, result.stderr.decode()
    return result


def ok(tcp_daemon, platform: str, *args: str, **kw) -> str:
    result = docker(tcp_daemon, platform, *args, **kw)
    assert result.returncode == 0, (args, result.stdout, result.stderr)
    return result.stdout.decode()


PLATFORMS = ["win32", "darwin"]


@pytest.mark.parametrize("platform", PLATFORMS)
def test_version_images_ps(tcp_daemon, platform):
    assert "Server version:" in ok(tcp_daemon, platform, "version")
    assert "busybox" in ok(tcp_daemon, platform, "images")
    assert ok(tcp_daemon, platform, "ps", "-a").startswith("CONTAINER ID")


@pytest.mark.parametrize("platform", PLATFORMS)
def test_run_echo(tcp_daemon, platform):
    assert ok(tcp_daemon, platform, "run", "--rm", "busybox", "echo", "hi") == "hi\n"
    result = docker(
        tcp_daemon, platform, "run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3"
    )
    assert (result.returncode, result.stdout, result.stderr) == (3, b"out\n", b"err\n")


@pytest.mark.parametrize("platform", PLATFORMS)
def test_run_interactive_stdin_piped(tcp_daemon, platform):
    data = b"".join(b"line %d\n" % i for i in range(2000))
    out = ok(tcp_daemon, platform, "run", "-i", "--rm", "busybox", "sh", "-c", "cat; echo done", input=data)
    assert out.encode() == data + b"done\n"


def test_attach_with_stdin(tcp_daemon):
    cid = ok(tcp_daemon, "win32", "run", "-i", "-d", "busybox", "sh", "-c", "read x; echo got $x").strip()
    result = docker(tcp_daemon, "win32", "attach", cid, input=b"hello\n")
    assert (result.returncode, result.stdout) == (0, b"got hello\n")
    assert ok(tcp_daemon, "win32", "wait", cid).strip() == "0"
    ok(tcp_daemon, "win32", "rm", cid)


@pytest.mark.parametrize("platform", PLATFORMS)
def test_cp_into_a_host_directory(tcp_daemon, platform, tmp_path):
    cid = ok(
        tcp_daemon, platform, "run", "-d", "busybox", "sh", "-c",
        "mkdir -p /data/sub && echo one > /data/a && echo two > /data/sub/b && ln -s a /data/link "
        "&& chmod 4755 /data/a && ln -s /etc/passwd /data/abs",
    ).strip()  # fmt: skip
    ok(tcp_daemon, platform, "wait", cid)
    dest = tmp_path / "out"
    ok(tcp_daemon, platform, "cp", f"{cid}:/data", str(dest))
    assert (dest / "data" / "a").read_text() == "one\n"
    assert (dest / "data" / "sub" / "b").read_text() == "two\n"
    assert os.readlink(dest / "data" / "link") == "a"
    assert oct(os.stat(dest / "data" / "a").st_mode & 0o7777) == "0o755"  # no setuid on the host
    ok(tcp_daemon, platform, "rm", cid)


def test_cp_never_writes_through_a_host_link_out_of_the_destination(tcp_daemon, tmp_path):
    # On the host, dest/data/sub is a link to a directory outside dest; the archive's data/sub/f
    # must not land there.
    cid = ok(
        tcp_daemon, "win32", "run", "-d", "busybox", "sh", "-c", "mkdir -p /data/sub && echo y > /data/sub/f"
    )
    cid = cid.strip()
    ok(tcp_daemon, "win32", "wait", cid)
    victim = tmp_path / "victim"
    victim.mkdir()
    dest = tmp_path / "out"
    (dest / "data").mkdir(parents=True)
    os.symlink(str(victim), dest / "data" / "sub")
    result = docker(tcp_daemon, "win32", "cp", f"{cid}:/data", str(dest))
    assert not (victim / "f").exists()
    if result.returncode != 0:
        assert b"Refusing to extract" in result.stderr
    else:
        assert (dest / "data" / "sub" / "f").read_text() == "y\n"  # the link was replaced, not followed
    ok(tcp_daemon, "win32", "rm", cid)


@pytest.mark.parametrize("platform", PLATFORMS)
def test_build_a_context_directory(tcp_daemon, platform, tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM busybox\nADD hello.txt /hello.txt\nRUN cat /hello.txt\n")
    (tmp_path / "hello.txt").write_text("hello from the context\n")
    tag = f"portable-{platform}"
    result = docker(tcp_daemon, platform, "build", "-t", tag, str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert b"hello from the context" in result.stdout
    warned = b"SECURITY WARNING: You are building a Docker image from Windows" in result.stderr
    assert warned == (platform == "win32")
    # Windows has no permission bits: every file goes as 0755, as Docker's Windows client sends it.
    mode = ok(tcp_daemon, platform, "run", "--rm", tag, "stat", "-c", "%a", "/hello.txt").strip()
    assert mode == ("755" if platform == "win32" else "644")
    ok(tcp_daemon, platform, "rmi", tag)


@pytest.mark.parametrize("platform", PLATFORMS)
def test_tls_verify_with_client_certificates(tls_daemon, certs, platform):
    good = certs["good"]
    flags = [
        "--tlsverify",
        f"--tlscacert={good}/ca.pem",
        f"--tlscert={good}/cert.pem",
        f"--tlskey={good}/key.pem",
    ]
    result = run_foreign(platform, tls_daemon.url, *flags, "version")
    assert result.returncode == 0 and b"Server version" in result.stdout, result.stderr
    # DOCKER_CERT_PATH + DOCKER_TLS_VERIFY, as `boot2docker shellinit` exports them.
    env = {"DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": good}
    result = run_foreign(platform, tls_daemon.url, "run", "--rm", "busybox", "echo", "hi", env=env)
    assert (result.returncode, result.stdout) == (0, b"hi\n"), result.stderr
    result = run_foreign(
        platform, tls_daemon.url, "run", "-i", "--rm", "busybox", "cat", env=env, input=b"stdin over tls\n"
    )
    assert (result.returncode, result.stdout) == (0, b"stdin over tls\n"), result.stderr
    refused = run_foreign(
        platform,
        tls_daemon.url,
        "version",
        env={"DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": certs["rogue"]},
    )
    assert refused.returncode == 1 and b"Traceback" not in refused.stderr


def test_tls_flags_over_tcp(tcp_daemon, tmp_path):
    # A daemon that does not speak TLS: the handshake fails with a message, not a traceback, and the
    # TLS code path (ssl, the cert files) loads with the Linux-only modules refused.
    (tmp_path / "ca.pem").write_text("not a certificate\n")
    result = docker(
        tcp_daemon, "win32", "--tlsverify", f"--tlscacert={tmp_path / 'ca.pem'}", "version", timeout=30
    )
    assert result.returncode == 1
    assert b"CA certificate" in result.stderr or b"TLS" in result.stderr


def test_default_host_on_windows_is_tcp_and_unix_is_explained(tcp_daemon):
    result = run_foreign("win32", "", "ps", env={"DOCKER_HOST": ""})
    assert result.returncode == 1
    assert b"Cannot connect to the Docker daemon" in result.stderr  # tcp://127.0.0.1:4243, not a socket
    result = run_foreign("win32", "unix:///var/run/docker.sock", "ps")
    assert result.returncode == 1
    assert b"unix sockets are not available on this system" in result.stderr
    assert b"tcp://127.0.0.1:4243" in result.stderr


def test_sig_proxy_sends_signal_names_off_linux(tcp_daemon):
    # macOS numbers SIGUSR1 30; the container must get its own SIGUSR1 (10), so the name is sent.
    cid = ok(
        tcp_daemon, "darwin", "run", "-d", "busybox", "sh", "-c",
        "trap 'echo usr1; exit 0' USR1; while true; do echo tick; sleep 0.1; done",
    ).strip()  # fmt: skip
    proc = subprocess.Popen(
        [*foreign_cmd("darwin"), "attach", cid],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env=our_env({"DOCKER_HOST": tcp_daemon.tcp}),
    )
    try:
        # Output flows only once the session is up, and the signal handlers are in place before it.
        assert proc.stdout.readline() == b"tick\n"
        proc.send_signal(10)  # this (Linux) host's SIGUSR1, which the client forwards as "USR1"
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
        proc.wait()
    assert b"usr1\n" in out, err
    assert proc.returncode == 0
    ok(tcp_daemon, "darwin", "rm", "-f", cid)


def test_everyday_commands_as_on_windows(tcp_daemon, tmp_path):
    w = "win32"
    start = str(int(time.time()) - 1)
    cid = ok(
        tcp_daemon, w, "run", "-d", "-p", "8080", "busybox", "sh", "-c", "echo log line; sleep 600"
    ).strip()
    assert "sleep 600" in ok(tcp_daemon, w, "top", cid)
    assert ok(tcp_daemon, w, "inspect", "-f", "{{.State.Running}}", cid) == "true\n"
    assert "log line" in ok(tcp_daemon, w, "logs", cid)
    ok(tcp_daemon, w, "diff", cid)
    ok(tcp_daemon, w, "kill", cid)
    assert ok(tcp_daemon, w, "wait", cid).strip() == "137"
    image = ok(tcp_daemon, w, "commit", cid, "portable/committed").strip()
    assert image[:12] in ok(tcp_daemon, w, "history", "portable/committed")
    ok(tcp_daemon, w, "tag", "portable/committed", "portable/again")
    exported = tmp_path / "c.tar"
    with open(exported, "wb") as f:
        proc = subprocess.run(
            [*foreign_cmd(w), "export", cid],
            stdout=f,
            stderr=subprocess.PIPE,
            env=our_env({"DOCKER_HOST": tcp_daemon.tcp}),
        )
    assert proc.returncode == 0 and exported.stat().st_size > 10240, proc.stderr
    saved = tmp_path / "s.tar"
    ok(tcp_daemon, w, "save", "-o", str(saved), "portable/again")
    ok(tcp_daemon, w, "rmi", "portable/again")
    ok(tcp_daemon, w, "load", "-i", str(saved))
    assert "portable/again" in ok(tcp_daemon, w, "images")
    ok(tcp_daemon, w, "import", str(exported), "portable/imported")
    assert "Containers:" in ok(tcp_daemon, w, "info")
    events = ok(tcp_daemon, w, "events", "--since", start, "--until", str(int(time.time()) + 1))
    assert f"{cid[:12]}: (from busybox) die" in events
    ok(tcp_daemon, w, "rm", cid)
    ok(tcp_daemon, w, "rmi", "portable/committed", "portable/again", "portable/imported")
