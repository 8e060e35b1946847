"""The container commands of the CLI against a fake daemon: the requests they send and what they print.

The fake daemon is a small threaded HTTP server on a unix socket answering canned Remote API v1.9
responses (and hijacking attach requests), so this checks the client alone; the real daemon is
exercised by the integration tests.
"""

from __future__ import annotations

import fcntl
import http.server
import io
import json
import os
import shutil
import signal
import socketserver
import struct
import subprocess
import sys
import tarfile
import tempfile
import termios
import threading
import time
from collections.abc import Callable, Iterator
from urllib.parse import parse_qs, urlsplit

import pytest

from lib.poll import poll
from lxc_docker.main import main as docker_main

WAIT = 10
CID = "4c01db0b339c" + "a1b2c3d4" * 6 + "abcd"

# -- the fake daemon -------------------------------------------------------------------------------------


class Request:
    def __init__(self, method: str, target: str, headers: dict[str, str], body: bytes) -> None:
        parts = urlsplit(target)
        path = parts.path
        if path.startswith("/v1."):
            path = path[path.index("/", 1) :]
        self.method = method
        self.path = path
        self.query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        self.headers = headers
        self.body = body

    @property
    def json(self):
        return json.loads(self.body) if self.body else None

    def __repr__(self) -> str:
        return f"<{self.method} {self.path} {self.query}>"


class Hijack:
    """A route answer that upgrades the connection and hands it to script(rfile, wfile)."""

    def __init__(self, script: Callable[[io.BufferedReader, io.BufferedWriter], None]) -> None:
        self.script = script


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        req = Request(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
        daemon: FakeDaemon = self.server.daemon  # type: ignore[attr-defined]
        daemon.requests.append(req)
        route = daemon.routes.get((req.method, req.path))
        answer = route(req) if callable(route) else route
        if answer is None:
            answer = (404, "page not found")
        self.close_connection = True
        if isinstance(answer, Hijack):
            self.wfile.write(
                b"HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\n"
                b"Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n"
            )
            self.wfile.flush()
            answer.script(self.rfile, self.wfile)
            return
        status, payload = answer
        if isinstance(payload, bytes):
            data, kind = payload, "application/octet-stream"
        elif isinstance(payload, str):
            data, kind = payload.encode(), "text/plain; charset=utf-8"
        else:
            data, kind = json.dumps(payload).encode(), "application/json"
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        if data:
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = _dispatch


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        # A client that hangs up early (a test checking it gives up) leaves a broken pipe here.
        self.errors.append(sys.exc_info()[1])  # type: ignore[attr-defined]


class FakeDaemon:
    def __init__(self, path: str) -> None:
        self.path = path
        self.routes: dict[tuple[str, str], object] = {}
        self.requests: list[Request] = []
        self.server = _Server(path, _Handler)
        self.server.daemon = self  # type: ignore[attr-defined]
        self.server.errors = []  # type: ignore[attr-defined]
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()

    def on(self, method: str, path: str, answer: object) -> None:
        self.routes[(method, path)] = answer

    def calls(self, method: str | None = None, path: str | None = None) -> list[Request]:
        return [
            r
            for r in self.requests
            if (method is None or r.method == method) and (path is None or r.path == path)
        ]

    def sequence(self) -> list[str]:
        return [f"{r.method} {r.path}" for r in self.requests]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def daemon() -> Iterator[FakeDaemon]:
    # tmp_path can exceed the 107-byte limit of a unix socket path.
    directory = tempfile.mkdtemp(prefix="ldc")
    fake = FakeDaemon(os.path.join(directory, "docker.sock"))
    yield fake
    fake.close()
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def docker(daemon, capsys) -> Callable[..., tuple[int, str, str]]:
    """docker(*args) → (exit code, stdout, stderr), run in-process against the fake daemon."""

    def run(*args: str) -> tuple[int, str, str]:
        code = docker_main(["-H", f"unix://{daemon.path}", *args])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def frame(kind: int, payload: bytes) -> bytes:
    return struct.pack(">BxxxL", kind, len(payload)) + payload


# -- ps --------------------------------------------------------------------------------------------------


def containers(now: float) -> list[dict]:
    return [
        {
            "Id": CID,
            "Image": "ubuntu:12.04",
            "Command": "sh -c 'while true; do echo hello; sleep 1; done'",
            "Created": int(now - 17),
            "Status": "Up 16 seconds",
            "Ports": [
                {"PrivatePort": 8080, "PublicPort": 49153, "Type": "tcp", "IP": "0.0.0.0"},
                {"PrivatePort": 22, "PublicPort": 0, "Type": "tcp"},
            ],
            "Names": ["/webapp"],
            "SizeRw": 12288,
            "SizeRootFs": 131506275,
        },
        {
            "Id": "d7886598dbe2" + "0" * 52,
            "Image": "crosbymichael/redis:latest",
            "Command": '"/redis-server --dir /tmp"',  # quoted by a daemon in Docker 0.9's style
            "Created": int(now - 33 * 60 - 5),
            "Status": "Exit 0",
            "Ports": [],
            "Names": ["/redis", "/webapp/db"],
            "SizeRw": 0,
            "SizeRootFs": 0,
        },
    ]


def test_ps_table(daemon, docker):
    daemon.on("GET", "/containers/json", (200, containers(time.time())))
    code, out, err = docker("ps")
    assert (code, err) == (0, "")
    lines = out.split("\n")
    widths = (20, 29, 23, 20, 20, 34, 20)  # max(20, longest cell + 3) per column, as Go's tabwriter

    def row(*cells: str) -> str:
        return "".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=False))

    assert lines[0] == row("CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS") + "NAMES"
    # Docker 0.9 ends a row's NAMES cell with a tab too, so it is padded like the others.
    assert lines[1] == row(
        "4c01db0b339c",
        "ubuntu:12.04",
        "\"sh -c 'while true; ",
        "17 seconds ago",
        "Up 16 seconds",
        "22/tcp, 0.0.0.0:49153->8080/tcp",
        "webapp",
    )
    assert lines[2] == row(
        "d7886598dbe2",
        "crosbymichael/redis:latest",
        '"/redis-server --dir',
        "33 minutes ago",
        "Exit 0",
        "",
        "redis,webapp/db",
    )
    assert lines[3:] == [""]
    assert daemon.calls("GET", "/containers/json")[0].query == {}


def test_ps_options_become_query(daemon, docker):
    daemon.on("GET", "/containers/json", (200, []))
    docker("ps", "-a", "-s", "--since", "abc", "--before=def", "-n", "5")
    docker("ps", "-l")
    docker("ps", "-l", "-n", "3")
    docker("ps", "-sinceId", "x")
    queries = [r.query for r in daemon.calls()]
    assert queries[0] == {"all": "1", "size": "1", "since": "abc", "before": "def", "limit": "5"}
    assert queries[1] == {"limit": "1"}
    assert queries[2] == {"limit": "3"}
    assert queries[3] == {"since": "x"}


def test_ps_quiet_no_trunc_and_size(daemon, docker):
    daemon.on("GET", "/containers/json", (200, containers(time.time())))
    assert docker("ps", "-q")[1] == f"{CID[:12]}\nd7886598dbe2\n"
    assert docker("ps", "-q", "--no-trunc")[1].split() == [CID, "d7886598dbe2" + "0" * 52]
    out = docker("ps", "--no-trunc")[1]
    assert "\"sh -c 'while true; do echo hello; sleep 1; done'\"" in out and CID in out
    out = docker("ps", "-s")[1].split("\n")
    assert out[0].endswith("NAMES               SIZE")
    assert out[1].endswith("webapp              12.29 kB (virtual 131.5 MB)")
    assert out[2].endswith("redis,webapp/db     0 B")


def test_ps_rejects_arguments(docker):
    code, _, err = docker("ps", "extra")
    assert code == 1 and "Usage: docker ps [OPTIONS]" in err


# -- port, top, diff -------------------------------------------------------------------------------------


def inspect_doc(**overrides) -> dict:
    doc = {
        "Id": CID,
        "Config": {"Tty": False, "OpenStdin": False},
        "State": {"Running": True, "ExitCode": 0},
        "NetworkSettings": {
            "Ports": {
                "8080/tcp": [{"HostIp": "0.0.0.0", "HostPort": "49153"}],
                "53/udp": [
                    {"HostIp": "127.0.0.1", "HostPort": "5353"},
                    {"HostIp": "10.0.0.1", "HostPort": "53"},
                ],
                "22/tcp": None,
            }
        },
    }
    doc.update(overrides)
    return doc


def test_port(daemon, docker):
    daemon.on("GET", "/containers/web/json", (200, inspect_doc()))
    assert docker("port", "web", "8080") == (0, "0.0.0.0:49153\n", "")
    assert docker("port", "web", "53/udp") == (0, "127.0.0.1:5353\n10.0.0.1:53\n", "")
    assert docker("port", "web", "22") == (1, "", "Error: No public port '22' published for web\n")
    assert docker("port", "web", "53") == (1, "", "Error: No public port '53' published for web\n")
    assert (
        docker("port", "web")[1]
        == "53/udp -> 127.0.0.1:5353\n53/udp -> 10.0.0.1:53\n8080/tcp -> 0.0.0.0:49153\n"
    )


def test_port_no_such_container(daemon, docker):
    daemon.on("GET", "/containers/nope/json", (404, "No such container: nope"))
    assert docker("port", "nope", "80") == (1, "", "Error: No such container: nope\n")


def test_top(daemon, docker):
    daemon.on(
        "GET",
        f"/containers/{CID}/top",
        (
            200,
            {
                "Titles": ["PID", "USER", "COMMAND"],
                "Processes": [["1", "root", "top -b"], ["12", "daemon", "sh"]],
            },
        ),
    )
    code, out, _ = docker("top", CID, "aux", "-w")
    assert code == 0
    assert out == (
        "PID                 USER                COMMAND\n"
        "1                   root                top -b\n"
        "12                  daemon              sh\n"
    )
    assert daemon.requests[0].query == {"ps_args": "aux -w"}
    docker("top", CID)
    assert daemon.requests[1].query == {}


def test_diff(daemon, docker):
    changes = [
        {"Path": "/dev", "Kind": 0},
        {"Path": "/dev/kmsg", "Kind": 1},
        {"Path": "/etc/motd", "Kind": 2},
    ]
    daemon.on("GET", "/containers/web/changes", (200, changes))
    assert docker("diff", "web") == (0, "C /dev\nA /dev/kmsg\nD /etc/motd\n", "")


# -- stop, kill, restart, start, wait, rm ----------------------------------------------------------------


def test_stop_kill_restart_queries(daemon, docker):
    for action in ("stop", "kill", "restart"):
        daemon.on("POST", f"/containers/a/{action}", (204, b""))
        daemon.on("POST", f"/containers/b/{action}", (204, b""))
    assert docker("stop", "a", "b") == (0, "a\nb\n", "")
    assert docker("stop", "-t", "3", "a")[0] == 0
    assert docker("kill", "a") == (0, "a\n", "")
    assert docker("kill", "-s", "HUP", "b")[0] == 0
    assert docker("kill", "--signal=15", "b")[0] == 0
    assert docker("restart", "--time=0", "a")[0] == 0
    assert docker("restart", "a")[0] == 0
    assert [(r.path, r.query) for r in daemon.requests] == [
        ("/containers/a/stop", {"t": "10"}),
        ("/containers/b/stop", {"t": "10"}),
        ("/containers/a/stop", {"t": "3"}),
        ("/containers/a/kill", {"signal": "KILL"}),
        ("/containers/b/kill", {"signal": "HUP"}),
        ("/containers/b/kill", {"signal": "15"}),
        ("/containers/a/restart", {"t": "0"}),
        ("/containers/a/restart", {"t": "10"}),
    ]


def test_stop_with_one_failure(daemon, docker):
    daemon.on("POST", "/containers/a/stop", (204, b""))
    daemon.on("POST", "/containers/gone/stop", (404, "No such container: gone"))
    code, out, err = docker("stop", "gone", "a")
    assert code == 1 and out == "a\n"
    assert err == "Error: No such container: gone\nError: failed to stop one or more containers\n"


def test_start_several(daemon, docker):
    daemon.on("POST", "/containers/a/start", (204, b""))
    daemon.on("POST", "/containers/b/start", (500, "Cannot start container b: exec: not found"))
    code, out, err = docker("start", "a", "b")
    assert (code, out) == (1, "a\n")
    assert (
        err
        == "Error: Cannot start container b: exec: not found\nError: failed to start one or more containers\n"
    )
    assert daemon.calls("POST", "/containers/a/start")[0].body == b""


def test_wait(daemon, docker):
    daemon.on("POST", "/containers/a/wait", (200, {"StatusCode": 0}))
    daemon.on("POST", "/containers/b/wait", (200, {"StatusCode": 137}))
    daemon.on("POST", "/containers/c/wait", (404, "No such container: c"))
    assert docker("wait", "a", "b") == (0, "0\n137\n", "")
    code, out, err = docker("wait", "c", "b")
    assert (code, out) == (1, "137\n")
    assert err == "Error: No such container: c\nError: failed to wait one or more containers\n"


def test_rm_several_with_one_failure(daemon, docker):
    daemon.on("DELETE", "/containers/a", (204, b""))
    daemon.on("DELETE", "/containers/running", (409, "Conflict, You cannot remove a running container"))
    daemon.on("DELETE", "/containers/c", (204, b""))
    code, out, err = docker("rm", "a", "running", "c")
    assert code == 1
    assert out == "a\nc\n"
    assert err == (
        "Error: Conflict, You cannot remove a running container\n"
        "Error: failed to remove one or more containers\n"
    )
    assert [r.query for r in daemon.requests] == [{}, {}, {}]


def test_rm_options(daemon, docker):
    daemon.on("DELETE", "/containers/a", (204, b""))
    daemon.on("DELETE", "/containers//webapp/redis", (204, b""))
    assert docker("rm", "-f", "-v", "a") == (0, "a\n", "")
    assert docker("rm", "--link", "/webapp/redis") == (0, "/webapp/redis\n", "")
    assert daemon.requests[0].query == {"v": "1", "force": "1"}
    assert daemon.requests[1].query == {"link": "1"}


def test_rm_needs_a_container(docker):
    code, _, err = docker("rm")
    assert code == 1 and "Usage: docker rm [OPTIONS] CONTAINER [CONTAINER...]" in err


# -- commit, export, logs --------------------------------------------------------------------------------


def test_commit(daemon, docker):
    daemon.on("POST", "/commit", (201, {"Id": "f5283438590d" * 5 + "abcd"}))
    code, out, _ = docker(
        "commit", "-m", "a message", "-a", "Me <me@x.org>", "c3f279d17e0a", "sven/testimage:v3"
    )
    assert (code, out) == (0, "f5283438590d" * 5 + "abcd\n")
    req = daemon.requests[0]
    assert req.query == {
        "container": "c3f279d17e0a",
        "repo": "sven/testimage",
        "tag": "v3",
        "m": "a message",
        "comment": "a message",
        "author": "Me <me@x.org>",
    }
    assert req.body == b""

    docker("commit", "--run", '{"Cmd": ["ls", "/etc"]}', "test", "test2")
    req = daemon.requests[1]
    assert req.query["run"] == '{"Cmd": ["ls", "/etc"]}' and req.query["repo"] == "test2"
    assert req.json == {"Cmd": ["ls", "/etc"]}


def test_commit_bad_input(daemon, docker):
    assert docker("commit", "--run", "{not json", "c")[0] == 1
    assert docker("commit", "c", "Bad/Name")[2].startswith("Error: Invalid repository name")
    code, _, err = docker("commit", "c", "repo", "tag")  # the deprecated three-argument form still works
    assert "[DEPRECATED]" in err
    assert daemon.requests[-1].query["tag"] == "tag"


def test_export_to_file_and_refusing_a_terminal(daemon, docker, tmp_path, monkeypatch):
    daemon.on("GET", "/containers/web/export", (200, b"TARDATA" * 1000))
    target = tmp_path / "out.tar"
    assert docker("export", "-o", str(target), "web")[0] == 0
    assert target.read_bytes() == b"TARDATA" * 1000
    monkeypatch.setattr("sys.stdout.isatty", lambda: True)
    code, _, err = docker("export", "web")
    assert code == 1 and "Cowardly refusing" in err


def test_logs_demultiplexes(daemon, docker):
    daemon.on("GET", "/containers/web/json", (200, inspect_doc()))
    body = frame(1, b"out one\n") + frame(2, b"err one\n") + frame(1, b"out two\n")
    daemon.on("GET", f"/containers/{CID}/logs", (200, body))
    assert docker("logs", "web") == (0, "out one\nout two\n", "err one\n")
    assert daemon.requests[-1].query == {"stdout": "1", "stderr": "1"}
    docker("logs", "-f", "-t", "web")
    assert daemon.requests[-1].query == {"stdout": "1", "stderr": "1", "follow": "1", "timestamps": "1"}


def test_logs_tty_is_raw(daemon, docker):
    daemon.on("GET", "/containers/web/json", (200, inspect_doc(Config={"Tty": True})))
    daemon.on("GET", f"/containers/{CID}/logs", (200, b"\x01\x00raw tty\r\n"))
    assert docker("logs", "web") == (0, "\x01\x00raw tty\r\n", "")


# -- cp --------------------------------------------------------------------------------------------------


def make_tar(*members: tuple[tarfile.TarInfo, bytes | None]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def entry(name: str, kind: bytes = tarfile.REGTYPE, mode: int = 0o644, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.linkname = linkname
    info.mtime = 1_000_000_000
    return info


def test_cp_extracts_into_host_path(daemon, docker, tmp_path):
    archive = make_tar(
        (entry("etc", tarfile.DIRTYPE, 0o755), None),
        (entry("etc/hosts"), b"127.0.0.1 localhost\n"),
        (entry("etc/mtab", tarfile.SYMTYPE, linkname="/proc/mounts"), None),
        (entry("etc/hosts.bak", tarfile.LNKTYPE, linkname="etc/hosts"), None),
        (entry("etc/sudo", mode=0o4755), b"#!/bin/sh\n"),
        (entry("etc/null", tarfile.CHRTYPE), None),
    )
    daemon.on("POST", "/containers/web/copy", (200, archive))
    dest = tmp_path / "new" / "dir"
    code, out, err = docker("cp", "web:/etc", str(dest))
    assert code == 0, err
    assert daemon.requests[0].json == {"Resource": "/etc"}
    assert (dest / "etc" / "hosts").read_bytes() == b"127.0.0.1 localhost\n"
    assert os.readlink(dest / "etc" / "mtab") == "/proc/mounts"
    assert os.stat(dest / "etc" / "hosts.bak").st_ino == os.stat(dest / "etc" / "hosts").st_ino
    assert os.stat(dest / "etc" / "sudo").st_mode & 0o7777 == 0o755
    assert os.stat(dest / "etc" / "hosts").st_mtime == 1_000_000_000
    assert not os.path.lexists(dest / "etc" / "null")
    assert "device files are not copied" in err


@pytest.mark.parametrize(
    "members",
    [
        [(entry("../escaped"), b"pwned")],
        [(entry("a/../../escaped"), b"pwned")],
        [(entry("link", tarfile.SYMTYPE, linkname="{outside}"), None), (entry("link/escaped"), b"pwned")],
        [(entry("link", tarfile.SYMTYPE, linkname="../.."), None), (entry("link/escaped"), b"pwned")],
        [(entry("hard", tarfile.LNKTYPE, linkname="../outside/secret"), None)],
        [(entry("hard", tarfile.LNKTYPE, linkname="{outside}/secret"), None)],
    ],
    ids=[
        "dotdot",
        "nested-dotdot",
        "symlink-dir-absolute",
        "symlink-dir-relative",
        "hardlink-dotdot",
        "hardlink-abs",
    ],
)
def test_cp_refuses_to_write_outside_host_path(daemon, docker, tmp_path, members):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("secret")
    dest = tmp_path / "dest" / "inner"
    dest.mkdir(parents=True)
    fixed = []
    for info, data in members:
        info.linkname = info.linkname.replace("{outside}", str(outside))
        fixed.append((info, data))
    daemon.on("POST", "/containers/evil/copy", (200, make_tar(*fixed)))
    code, _, err = docker("cp", "evil:/x", str(dest))
    assert code == 1
    # An absolute hard link target names a member of the archive, like any other path in it.
    assert "Refusing to extract" in err or "hard link target" in err and "not found" in err
    assert sorted(os.listdir(outside)) == ["secret"]
    assert not (tmp_path / "dest" / "escaped").exists()
    assert not (tmp_path / "escaped").exists()
    assert not os.path.lexists(dest / "hard")


def test_cp_absolute_member_names_stay_inside(daemon, docker, tmp_path):
    daemon.on("POST", "/containers/web/copy", (200, make_tar((entry("/abs/file"), b"data"))))
    assert docker("cp", "web:/abs", str(tmp_path))[0] == 0
    assert (tmp_path / "abs" / "file").read_bytes() == b"data"


def test_cp_replaces_planted_symlink_instead_of_following_it(daemon, docker, tmp_path):
    outside = tmp_path / "victim"
    outside.write_text("original")
    dest = tmp_path / "dest"
    daemon.on(
        "POST",
        "/containers/evil/copy",
        (
            200,
            make_tar(
                (entry("f", tarfile.SYMTYPE, linkname=str(outside)), None), (entry("f"), b"overwritten")
            ),
        ),
    )
    assert docker("cp", "evil:/f", str(dest))[0] == 0
    assert outside.read_text() == "original"
    assert (dest / "f").read_bytes() == b"overwritten" and not os.path.islink(dest / "f")


def test_cp_to_stdout_passes_the_archive_through(daemon, capsysbinary):
    archive = make_tar((entry("hosts"), b"127.0.0.1 localhost\n"))
    daemon.on("POST", "/containers/web/copy", (200, archive))
    code = docker_main(["-H", f"unix://{daemon.path}", "cp", "web:/etc/hosts", "-"])
    out, _ = capsysbinary.readouterr()
    assert (code, out) == (0, archive)


def test_cp_usage_errors(daemon, docker, tmp_path):
    assert docker("cp", "web", str(tmp_path)) == (1, "", "Error: Path not specified\n")
    (tmp_path / "file").write_text("x")
    code, _, err = docker("cp", "web:/etc/hosts", str(tmp_path / "file"))
    assert code == 1 and "is not a directory" in err
    daemon.on("POST", "/containers/web/copy", (404, "Could not find the file /nope in container web"))
    assert (
        docker("cp", "web:/nope", str(tmp_path))[2]
        == "Error: Could not find the file /nope in container web\n"
    )
    assert docker("cp", "web:/etc")[0] == 1


# -- run and create --------------------------------------------------------------------------------------


def created(warnings=None):
    return (201, {"Id": CID, "Warnings": warnings})


def test_run_detached_prints_the_id(daemon, docker):
    daemon.on("POST", "/containers/create", created())
    daemon.on("POST", f"/containers/{CID}/start", (204, b""))
    code, out, err = docker(
        "run", "-d", "--name", "web", "-p", "80:8080", "-v", "/data", "busybox", "top", "-b"
    )
    assert (code, out, err) == (0, CID + "\n", "")
    assert daemon.sequence() == ["POST /containers/create", f"POST /containers/{CID}/start"]
    create = daemon.requests[0]
    assert create.query == {"name": "web"}
    assert create.json["Image"] == "busybox" and create.json["Cmd"] == ["top", "-b"]
    assert create.json["ExposedPorts"] == {"8080/tcp": {}} and create.json["Volumes"] == {"/data": {}}
    assert not create.json["AttachStdout"]
    host_config = create.json["HostConfig"]
    assert host_config["PortBindings"] == {"8080/tcp": [{"HostIp": "", "HostPort": "80"}]}
    assert daemon.requests[1].json == host_config


def test_run_prints_create_warnings(daemon, docker):
    daemon.on(
        "POST", "/containers/create", created(["Your kernel does not support memory limit capabilities."])
    )
    daemon.on("POST", f"/containers/{CID}/start", (204, b""))
    code, out, err = docker("run", "-d", "-m", "1g", "busybox")
    assert code == 0
    assert err == "WARNING: Your kernel does not support memory limit capabilities.\n"
    assert daemon.requests[0].json["Memory"] == 1 << 30


def attached_daemon(daemon: FakeDaemon, status: int = 0, output: bytes | None = None) -> threading.Event:
    """Routes for create → attach → start → wait; the attach stream starts once start was called."""
    started = threading.Event()
    daemon.on("POST", "/containers/create", created())

    def attach(rfile, wfile):
        assert started.wait(WAIT)
        wfile.write(output if output is not None else frame(1, b"hello\n") + frame(2, b"warning\n"))
        wfile.flush()

    def start(req):
        started.set()
        return (204, b"")

    daemon.on("POST", f"/containers/{CID}/attach", Hijack(attach))
    daemon.on("POST", f"/containers/{CID}/start", start)
    daemon.on("POST", f"/containers/{CID}/wait", (200, {"StatusCode": status}))
    daemon.on("DELETE", f"/containers/{CID}", (204, b""))
    return started


def test_run_attaches_starts_waits_and_exits_with_the_status(daemon, docker):
    attached_daemon(daemon, status=3)
    code, out, err = docker("run", "busybox", "sh", "-c", "echo hello; echo warning >&2; exit 3")
    assert (code, out, err) == (3, "hello\n", "warning\n")
    assert daemon.sequence() == [
        "POST /containers/create",
        f"POST /containers/{CID}/attach",
        f"POST /containers/{CID}/start",
        f"POST /containers/{CID}/wait",
    ]
    attach = daemon.requests[1]
    assert attach.query == {"stream": "1", "stdout": "1", "stderr": "1"}
    assert attach.headers["upgrade"] == "tcp"


def test_run_only_attaches_the_requested_streams(daemon, docker):
    attached_daemon(daemon, output=frame(1, b"only out\n"))
    code, out, _ = docker("run", "-a", "stdout", "busybox")
    assert (code, out) == (0, "only out\n")
    assert daemon.calls("POST", f"/containers/{CID}/attach")[0].query == {"stream": "1", "stdout": "1"}


def test_run_rm_deletes_after_exit(daemon, docker):
    attached_daemon(daemon, status=0)
    code, _, _ = docker("run", "--rm", "busybox", "true")
    assert code == 0
    assert daemon.sequence()[-2:] == [f"POST /containers/{CID}/wait", f"DELETE /containers/{CID}"]
    assert daemon.requests[-1].query == {"v": "1"}


def test_run_tty_stream_is_raw(daemon, docker):
    attached_daemon(daemon, status=0, output=b"\x01\x00\x00tty output\r\n")
    code, out, err = docker("run", "-t", "busybox")
    assert (code, out, err) == (0, "\x01\x00\x00tty output\r\n", "")
    assert daemon.requests[0].json["Tty"] is True


def test_run_interactive_sends_stdin_then_half_closes(daemon, docker, monkeypatch):
    daemon.on("POST", "/containers/create", created())
    started = threading.Event()

    def attach(rfile, wfile):
        assert started.wait(WAIT)
        data = rfile.read()  # to end-of-file: the client half-closed after its stdin ended
        wfile.write(frame(1, b"got: " + data))
        wfile.flush()

    daemon.on("POST", f"/containers/{CID}/attach", Hijack(attach))
    daemon.on("POST", f"/containers/{CID}/start", lambda req: (started.set(), (204, b""))[1])
    daemon.on("POST", f"/containers/{CID}/wait", (200, {"StatusCode": 0}))
    r, w = os.pipe()
    os.write(w, b"line 1\nline 2\n")
    os.close(w)
    with open(r, "rb", buffering=0) as stdin:
        monkeypatch.setattr("sys.stdin", stdin)
        code, out, err = docker("run", "-i", "busybox", "cat")
    assert (code, out, err) == (0, "got: line 1\nline 2\n", "")
    create = daemon.requests[0].json
    assert create["OpenStdin"] and create["AttachStdin"] and create["StdinOnce"]
    assert daemon.calls("POST", f"/containers/{CID}/attach")[0].query == {
        "stream": "1",
        "stdin": "1",
        "stdout": "1",
        "stderr": "1",
    }


def test_run_cidfile(daemon, docker, tmp_path):
    daemon.on("POST", "/containers/create", created())
    daemon.on("POST", f"/containers/{CID}/start", (204, b""))
    cidfile = tmp_path / "cid"
    assert docker("run", "-d", "--cidfile", str(cidfile), "busybox")[0] == 0
    assert cidfile.read_text() == CID
    assert daemon.requests[0].json["HostConfig"]["ContainerIDFile"] == str(cidfile)

    count = len(daemon.requests)
    code, out, err = docker("run", "-d", "--cidfile", str(cidfile), "busybox")
    assert (code, out) == (125, "")
    assert err == (
        f"Error: Container ID file found, make sure the other container isn't running or delete {cidfile}\n"
    )
    assert len(daemon.requests) == count  # refused before anything was created


def test_run_cidfile_removed_when_create_fails(daemon, docker, tmp_path):
    daemon.on("POST", "/containers/create", (500, "Cannot create container"))
    cidfile = tmp_path / "cid"
    code, _, err = docker("run", "--cidfile", str(cidfile), "busybox")
    assert (code, err) == (125, "Error: Cannot create container\n")
    assert not cidfile.exists()


def test_run_missing_image_tries_to_pull_and_reports(daemon, docker):
    daemon.on("POST", "/containers/create", (404, "No such image: busybox:1.0"))
    daemon.on("POST", "/images/create", (500, "pulling is not available"))
    code, out, err = docker("run", "busybox:1.0", "true")
    assert code == 125 and out == ""
    assert err == "Unable to find image 'busybox:1.0' locally\nError: pulling is not available\n"
    assert daemon.calls("POST", "/images/create")[0].query == {"fromImage": "busybox", "tag": "1.0"}


def test_run_missing_image_pull_error_in_stream(daemon, docker):
    daemon.on("POST", "/containers/create", (404, "No such image: nothere"))
    daemon.on("POST", "/images/create", (200, {"error": "Error: image nothere not found"}))
    code, _, err = docker("run", "nothere")
    assert code == 125
    assert err.endswith("Error: Error: image nothere not found\n")
    assert daemon.calls("POST", "/images/create")[0].query == {"fromImage": "nothere", "tag": "latest"}


def test_run_start_failure_uses_the_recorded_exit_code_and_removes(daemon, docker):
    daemon.on("POST", "/containers/create", created())
    daemon.on("POST", f"/containers/{CID}/attach", Hijack(lambda rfile, wfile: None))
    daemon.on(
        "POST",
        f"/containers/{CID}/start",
        (500, 'Cannot start container: exec: "nosuchcmd": executable file not found in $PATH'),
    )
    daemon.on(
        "GET", f"/containers/{CID}/json", (200, {"Id": CID, "State": {"Running": False, "ExitCode": 127}})
    )
    daemon.on("DELETE", f"/containers/{CID}", (204, b""))
    code, out, err = docker("run", "--rm", "busybox", "nosuchcmd")
    assert code == 127
    assert err == 'Error: Cannot start container: exec: "nosuchcmd": executable file not found in $PATH\n'
    assert daemon.sequence()[-2:] == [f"GET /containers/{CID}/json", f"DELETE /containers/{CID}"]


def test_run_start_failure_without_exit_code_is_125(daemon, docker):
    daemon.on("POST", "/containers/create", created())
    daemon.on("POST", f"/containers/{CID}/start", (500, "Cannot start container: no network"))
    daemon.on("GET", f"/containers/{CID}/json", (200, {"Id": CID, "State": {"ExitCode": 0}}))
    assert docker("run", "-d", "busybox")[:2] == (125, "")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-d", "--rm", "busybox"], "Error: Conflicting options: --rm and -d\n"),
        (["-d", "-a", "stdout", "busybox"], "Error: Conflicting options: -a and -d\n"),
        (["-m", "lots", "busybox"], "Error: Invalid memory limit: lots\n"),
        (["-p", "x:80", "busybox"], "Error: Invalid hostPort: x\n"),
    ],
)
def test_run_bad_options(daemon, docker, args, message):
    assert docker("run", *args) == (125, "", message)
    assert daemon.requests == []


def test_run_without_image_shows_usage(daemon, docker):
    code, _, err = docker("run", "-d")
    assert code == 1 and "Usage: docker run [OPTIONS] IMAGE[:TAG] [COMMAND] [ARG...]" in err
    assert daemon.requests == []


def test_create_prints_the_id(daemon, docker):
    daemon.on("POST", "/containers/create", created(["No swap limit"]))
    code, out, err = docker("create", "--name", "db", "-i", "-t", "busybox", "sh")
    assert (code, out, err) == (0, CID + "\n", "WARNING: No swap limit\n")
    assert daemon.sequence() == ["POST /containers/create"]
    assert daemon.requests[0].query == {"name": "db"}
    assert daemon.requests[0].json["Tty"] is True
    assert docker("create", "-d", "busybox")[0] == 2  # no -d for create


# -- start -a and attach ---------------------------------------------------------------------------------


def test_start_attached_exits_with_the_container_status(daemon, docker):
    started = threading.Event()
    daemon.on("GET", "/containers/web/json", (200, inspect_doc(State={"Running": False})))

    def attach(rfile, wfile):
        assert started.wait(WAIT)
        wfile.write(frame(1, b"started\n"))
        wfile.flush()

    daemon.on("POST", f"/containers/{CID}/attach", Hijack(attach))
    daemon.on("POST", f"/containers/{CID}/start", lambda req: (started.set(), (204, b""))[1])
    daemon.on("POST", f"/containers/{CID}/wait", (200, {"StatusCode": 5}))
    assert docker("start", "-a", "web") == (5, "started\n", "")
    assert daemon.calls("POST", f"/containers/{CID}/attach")[0].query == {
        "stream": "1",
        "stdout": "1",
        "stderr": "1",
    }
    assert docker("start", "-a", "web", "other")[2] == (
        "Error: Impossible to start and attach multiple containers at once.\n"
    )


def test_attach_to_running_and_stopped(daemon, docker):
    daemon.on("GET", "/containers/web/json", (200, inspect_doc()))
    daemon.on("GET", "/containers/old/json", (200, inspect_doc(State={"Running": False})))

    def attach(rfile, wfile):
        wfile.write(frame(2, b"attached\n"))
        wfile.flush()

    daemon.on("POST", f"/containers/{CID}/attach", Hijack(attach))
    daemon.on("POST", f"/containers/{CID}/wait", (200, {"StatusCode": 0}))
    assert docker("attach", "web") == (0, "", "attached\n")
    assert docker("attach", "old") == (
        1,
        "",
        "Error: You cannot attach to a stopped container, start it first\n",
    )


def test_attach_returns_promptly_when_detached(daemon, docker):
    daemon.on("GET", "/containers/web/json", (200, inspect_doc()))
    daemon.on("POST", f"/containers/{CID}/attach", Hijack(lambda rfile, wfile: None))
    never = threading.Event()

    def wait(req):
        never.wait(5)  # still running: the client must not wait for it
        return (200, {"StatusCode": 0})

    daemon.on("POST", f"/containers/{CID}/wait", wait)
    started = time.monotonic()
    try:
        assert docker("attach", "web")[0] == 0
        assert time.monotonic() - started < 4
    finally:
        never.set()


# -- a real terminal -------------------------------------------------------------------------------------


def test_run_tty_in_a_terminal_is_raw_resized_and_restored(daemon):
    daemon.on("POST", "/containers/create", created())
    started = threading.Event()
    resized = threading.Event()
    typed = bytearray()

    def attach(rfile, wfile):
        assert started.wait(WAIT)
        wfile.write(b"# ")
        wfile.flush()
        while b"\x03" not in typed and (byte := rfile.read(1)):
            typed.extend(byte)
        wfile.write(b"got it\r\n")
        wfile.flush()

    def resize(req):
        if req.query == {"h": "30", "w": "100"}:
            resized.set()
        return (200, b"")

    daemon.on("POST", f"/containers/{CID}/attach", Hijack(attach))
    daemon.on("POST", f"/containers/{CID}/start", lambda req: (started.set(), (204, b""))[1])
    daemon.on("POST", f"/containers/{CID}/resize", resize)
    daemon.on("POST", f"/containers/{CID}/wait", (200, {"StatusCode": 42}))

    master, slave = os.openpty()
    fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    before = termios.tcgetattr(slave)
    app = os.path.join(os.path.dirname(__file__), "..", "..", "app")
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lxc_docker",
            "-H",
            f"unix://{daemon.path}",
            "run",
            "-i",
            "-t",
            "busybox",
            "sh",
        ],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env={**os.environ, "PYTHONPATH": app},
    )
    try:
        output = bytearray()
        deadline = time.monotonic() + WAIT
        while b"# " not in output and time.monotonic() < deadline:
            output += os.read(master, 1024)
        assert b"# " in output
        # The prompt can arrive before the client has put the terminal in raw mode and sent its
        # first resize: both are polled, not read once.
        poll(
            lambda: not termios.tcgetattr(slave)[3] & (termios.ICANON | termios.ECHO | termios.ISIG),
            WAIT,
            "the terminal in raw mode",
        )
        first = poll(lambda: daemon.calls("POST", f"/containers/{CID}/resize"), WAIT, "the first resize")
        assert first[0].query == {"h": "24", "w": "80"}
        fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
        child.send_signal(signal.SIGWINCH)
        assert resized.wait(WAIT)
        os.write(master, b"ls\r\x03")  # ^C is a byte for the container, not a signal for the client
        assert child.wait(WAIT) == 42
        deadline = time.monotonic() + WAIT  # the first deadline may be spent on a loaded machine
        while b"got it" not in output and time.monotonic() < deadline:
            output += os.read(master, 1024)
        assert b"got it\r\n" in output
        assert bytes(typed) == b"ls\r\x03"
        assert termios.tcgetattr(slave) == before
    finally:
        child.kill()
        child.wait()
        os.close(master)
        os.close(slave)
    create = daemon.requests[0].json
    assert create["Tty"] and create["AttachStdin"] and create["OpenStdin"]


def test_run_forwards_signals_to_the_container(daemon):
    daemon.on("POST", "/containers/create", created())
    started = threading.Event()
    killed = threading.Event()

    def attach(rfile, wfile):
        assert started.wait(WAIT)
        wfile.write(frame(1, b"running\n"))
        wfile.flush()
        assert killed.wait(WAIT)

    def kill(req):
        if req.query == {"signal": str(int(signal.SIGTERM))}:
            killed.set()
        return (204, b"")

    daemon.on("POST", f"/containers/{CID}/attach", Hijack(attach))
    daemon.on("POST", f"/containers/{CID}/start", lambda req: (started.set(), (204, b""))[1])
    daemon.on("POST", f"/containers/{CID}/kill", kill)
    daemon.on("POST", f"/containers/{CID}/wait", (200, {"StatusCode": 143}))
    app = os.path.join(os.path.dirname(__file__), "..", "..", "app")
    child = subprocess.Popen(
        [sys.executable, "-m", "lxc_docker", "-H", f"unix://{daemon.path}", "run", "busybox", "sleep", "60"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": app},
    )
    try:
        assert child.stdout.readline() == b"running\n"
        child.send_signal(signal.SIGTERM)
        assert child.wait(WAIT) == 143
        assert killed.is_set()
    finally:
        child.kill()
        child.wait()
        child.stdout.close()
