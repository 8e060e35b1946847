"""Logging drivers with a real daemon: json-file rotation and `docker logs` across the rotated files,
`none`, syslog (unix datagram and UDP), gelf (UDP), fluentd (TCP, msgpack), journald (a socket of the
test's own through LXC_DOCKER_JOURNALD_SOCKET), the daemon's --log-driver, and an endpoint that never
reads not blocking the container. Through our CLI, the docker CLI 28 and the docker SDK for Python.
Every endpoint is bound by the test on loopback or in its own directory."""

from __future__ import annotations

import functools
import gzip
import json
import os
import re
import shutil
import socket
import tempfile
import threading

import pytest

from lib.clients import cli28
from lib.poll import poll
from lib.require import require_module
from lib.unixhttp import request

DOCKER_CLI = "/usr/local/bin/docker"
PRINT_200 = "i=0; while [ $i -lt 200 ]; do echo line-$i-abcdefghijklmnopqrstuvwxyz; i=$((i+1)); done"


@pytest.fixture
def sockdir():
    path = tempfile.mkdtemp(prefix="ldl-", dir="/tmp")  # short: unix socket paths are limited
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def real_cli(daemon):
    """The docker CLI 28 (tests/lib/clients.py), its exit status left to the test."""
    return functools.partial(cli28(daemon.host), check=False)


def demux(body: bytes) -> list[str]:
    """Lines of a multiplexed log stream (8-byte headers)."""
    lines, i = [], 0
    while i + 8 <= len(body):
        size = int.from_bytes(body[i + 4 : i + 8], "big")
        lines.append(body[i + 8 : i + 8 + size].decode().rstrip("\n"))
        i += 8 + size
    return lines


def inspect(daemon, cid: str) -> dict:
    return json.loads(daemon.out("inspect", cid))[0]


def udp_server() -> tuple[socket.socket, int]:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(10)
    return s, s.getsockname()[1]


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_json_file_rotates_and_logs_reads_every_file_in_order(daemon):
    cid = daemon.out(
        "run", "-d", "--log-opt", "max-size=1k", "--log-opt", "max-file=3", "busybox", "sh", "-c", PRINT_200
    ).strip()
    assert daemon.out("wait", cid).strip() == "0"
    lc = inspect(daemon, cid)["HostConfig"]["LogConfig"]
    assert lc == {"Type": "json-file", "Config": {"max-size": "1k", "max-file": "3"}}
    cdir = os.path.join(daemon.root, "containers", cid)
    files = sorted(n for n in os.listdir(cdir) if n.startswith(f"{cid}-json.log"))
    assert files == [f"{cid}-json.log", f"{cid}-json.log.1", f"{cid}-json.log.2"]
    for name in files:
        assert os.path.getsize(os.path.join(cdir, name)) < 1024 + 200
    out = daemon.out("logs", cid).splitlines()
    numbers = [int(line.split("-")[1]) for line in out]
    # What max-file kept: the newest lines, oldest file first, none twice, none missing in between.
    assert numbers == list(range(numbers[0], 200)) and numbers[0] > 0
    assert daemon.out("logs", "--tail", "2", cid).splitlines() == out[-2:]
    # The API: timestamps on every line, tail and since across the files.
    logs_url = f"/v1.24/containers/{cid}/logs?stdout=1"
    status, _, body = request(daemon.sock, "GET", logs_url + "&timestamps=1&tail=3")
    frames = demux(body)
    assert status == 200 and [line.split(" ", 1)[1] for line in frames] == out[-3:]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT[\d:.]+Z", line.split(" ", 1)[0]) for line in frames)
    status, _, body = request(daemon.sock, "GET", logs_url + "&since=4102444800")
    assert status == 200 and body == b""  # nothing logged after 2100
    status, _, body = request(daemon.sock, "GET", logs_url + "&since=1")
    assert demux(body) == out


def test_follow_survives_rotations(daemon):
    script = "i=0; while [ $i -lt 60 ]; do echo follow-$i-abcdefghijklmnop; i=$((i+1)); usleep 20000; done"
    cid = daemon.out(
        "run", "-d", "--log-opt", "max-size=400", "--log-opt", "max-file=100", "busybox", "sh", "-c", script
    ).strip()
    follower = daemon.cli("logs", "-f", cid, timeout=60)  # returns when the container exits
    lines = follower.stdout.decode().splitlines()
    assert lines == [f"follow-{i}-abcdefghijklmnop" for i in range(60)]
    cdir = os.path.join(daemon.root, "containers", cid)
    assert len([n for n in os.listdir(cdir) if n.startswith(f"{cid}-json.log.")]) > 3


def test_bad_log_options_are_400_in_dockers_words(daemon):
    cases = [
        ({"Type": "json-file", "Config": {"max-size": "1x"}}, "invalid size: '1x'"),
        ({"Type": "json-file", "Config": {"max-file": "0"}}, "max-file cannot be less than 1"),
        ({"Type": "json-file", "Config": {"tag": "x"}}, "unknown log opt 'tag' for json-file log driver"),
        ({"Type": "awslogs", "Config": {}}, "logger: no log driver named 'awslogs' is registered"),
        ({"Type": "nope", "Config": {}}, "logger: no log driver named 'nope' is registered"),
        ({"Type": "gelf", "Config": {"gelf-address": "tcp://127.0.0.1:1"}}, "gelf: endpoint needs to be UDP"),
    ]
    before = daemon.out("ps", "-aq")
    for log_config, message in cases:
        body = {"Image": "busybox", "Cmd": ["true"], "HostConfig": {"LogConfig": log_config}}
        status, _, text = request(
            daemon.sock,
            "POST",
            "/v1.24/containers/create",
            json.dumps(body).encode(),
            {"Content-Type": "application/json"},
        )
        assert status == 400 and message in text.decode(), (log_config, status, text)
    assert daemon.out("ps", "-aq") == before  # nothing made
    result = daemon.cli("run", "--log-opt", "max-size=big", "busybox", "true")
    assert result.returncode != 0 and b"invalid size: 'big'" in result.stderr


def test_none_keeps_nothing_but_attach_still_works(daemon, real_cli):
    result = daemon.cli("run", "--log-driver", "none", "busybox", "echo", "attached")
    assert result.returncode == 0 and result.stdout == b"attached\n"
    cid = daemon.out("ps", "-lq").strip()
    assert inspect(daemon, cid)["HostConfig"]["LogConfig"] == {"Type": "none", "Config": {}}
    log_file = os.path.join(daemon.root, "containers", *([cid] * 1), f"{cid}-json.log")
    assert not os.path.exists(log_file) or os.path.getsize(log_file) == 0
    logs = daemon.cli("logs", cid)
    assert logs.returncode != 0 and b"configured logging driver does not support reading" in logs.stderr
    status, _, body = request(daemon.sock, "GET", f"/v1.24/containers/{cid}/logs?stdout=1")
    assert status == 500 and b"configured logging driver does not support reading" in body
    theirs = real_cli("logs", cid)
    assert theirs.returncode != 0 and b"configured logging driver does not support reading" in theirs.stderr


def test_syslog_over_a_unix_datagram_socket_and_udp(daemon, sockdir):
    path = os.path.join(sockdir, "log")
    unix = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    unix.bind(path)
    unix.settimeout(10)
    udp, port = udp_server()
    try:
        cid = daemon.out(
            "run", "-d", "--log-driver", "syslog", "--log-opt", f"syslog-address=unixgram://{path}",
            "--log-opt", "tag=web-{{.Name}}", "--name", "sl-unix",
            "busybox", "sh", "-c", "echo out; echo err >&2",
        ).strip()  # fmt: skip
        got = sorted(unix.recv(4096).decode() for _ in range(2))
        # Docker's default format for a local socket: <PRI>Mmm dd hh:mm:ss TAG[PID]: MSG (daemon = 3).
        stamp = r"\w{3} [ \d]\d \d\d:\d\d:\d\d"
        assert re.fullmatch(rf"<27>{stamp} web-sl-unix\[\d+\]: err", got[0]), got
        assert re.fullmatch(rf"<30>{stamp} web-sl-unix\[\d+\]: out", got[1]), got
        daemon.out("wait", cid)
        cid = daemon.out(
            "run", "-d", "--log-driver", "syslog", "--log-opt", f"syslog-address=udp://127.0.0.1:{port}",
            "--log-opt", "syslog-format=rfc5424", "--log-opt", "syslog-facility=local1",
            "busybox", "echo", "hi",
        ).strip()  # fmt: skip
        msg = udp.recv(4096).decode()
        assert msg.startswith("<142>1 ") and msg.endswith(f" {cid[:12]} - hi"), msg
        logs = daemon.cli("logs", cid)
        assert b"configured logging driver does not support reading" in logs.stderr
    finally:
        unix.close()
        udp.close()


def test_gelf_over_udp(daemon, real_cli):
    udp, port = udp_server()
    try:
        result = real_cli(
            "run", "--rm", "--log-driver", "gelf", "--log-opt", f"gelf-address=udp://127.0.0.1:{port}",
            "-l", "team=core", "--log-opt", "labels=team", "busybox", "echo", "gelf line",
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        msg = json.loads(gzip.decompress(udp.recv(65536)))
        assert msg["version"] == "1.1" and msg["short_message"] == "gelf line" and msg["level"] == 6
        assert len(msg["_container_id"]) == 64 and msg["_image_name"] == "busybox" and msg["_team"] == "core"
    finally:
        udp.close()


class FluentdServer:
    """Accepts one connection and collects what arrives; `read=False` never reads (a stuck endpoint)."""

    def __init__(self, read: bool = True) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.data = b""
        self.conns: list[socket.socket] = []
        self._read = read
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        self.conns.append(conn)
        if not self._read:
            return
        while chunk := conn.recv(65536):
            self.data += chunk

    def events(self) -> list:
        from lxc_docker.daemon.logdrivers.msgpack import unpack

        out, i = [], 0
        while i < len(self.data):
            try:
                value, used = unpack(self.data[i:])
            except (IndexError, Exception):
                break
            out.append(value)
            i += used
        return out

    def close(self) -> None:
        for c in self.conns:
            c.close()
        self.sock.close()


def test_fluentd_over_tcp_and_a_refused_address_fails_the_start(daemon, real_cli):
    server = FluentdServer()
    try:
        cid = daemon.out(
            "run", "-d", "--log-driver", "fluentd", "--log-opt", f"fluentd-address=127.0.0.1:{server.port}",
            "--name", "fl-one", "busybox", "sh", "-c", "echo one; echo two >&2",
        ).strip()  # fmt: skip
        events = poll(lambda: len(server.events()) >= 2 and server.events(), what="two fluentd events")
        tags = {e[0] for e in events}
        assert tags == {f"docker.{cid[:12]}"} and all(isinstance(e[1], int) for e in events)
        records = sorted((e[2]["source"], e[2]["log"]) for e in events)
        assert records == [("stderr", "two"), ("stdout", "one")]
        assert events[0][2]["container_id"] == cid and events[0][2]["container_name"] == "/fl-one"
    finally:
        server.close()
    port = free_port()
    result = daemon.cli("run", "--log-driver", "fluentd", "--log-opt", f"fluentd-address=127.0.0.1:{port}",
                        "busybox", "true")  # fmt: skip
    assert result.returncode != 0
    assert f"Failed to initialize logging driver: dial tcp 127.0.0.1:{port}: connect: connection refused" in (
        result.stderr.decode()
    )
    theirs = real_cli("run", "--log-driver", "fluentd", "--log-opt", f"fluentd-address=127.0.0.1:{port}",
                      "busybox", "true")  # fmt: skip
    assert theirs.returncode != 0 and b"Failed to initialize logging driver" in theirs.stderr


def test_an_endpoint_that_never_reads_does_not_block_the_container(daemon):
    server = FluentdServer(read=False)
    try:
        cid = daemon.out(
            "run", "-d", "--log-driver", "fluentd", "--log-opt", f"fluentd-address=127.0.0.1:{server.port}",
            "--log-opt", "fluentd-buffer-limit=64k", "busybox", "sh", "-c",
            "i=0; while [ $i -lt 40000 ]; do"
            " echo $i-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa; i=$((i+1)); done",
        ).strip()  # fmt: skip
        # ~2.7 MB of events against a peer that reads nothing: the container still finishes.
        assert daemon.cli("wait", cid, timeout=90).stdout.decode().strip() == "0"
        poll(lambda: "messages dropped" in daemon.log(), what="the daemon's count of dropped messages")
    finally:
        server.close()


def test_journald_and_the_daemons_default_driver(daemon_factory, busybox_tar, sockdir, monkeypatch):
    path = os.path.join(sockdir, "journal")
    monkeypatch.setenv("LXC_DOCKER_JOURNALD_SOCKET", path)  # the daemon's environment (tests only)
    journal = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    journal.bind(path)
    journal.settimeout(10)
    d = daemon_factory("--log-driver", "journald", "--log-opt", "tag={{.Name}}").start()
    try:
        d.cli("import", "-", "busybox", input=open(busybox_tar, "rb").read(), check=True)
        cid = d.out("run", "-d", "--name", "jd", "busybox", "sh", "-c", "echo journal line").strip()
        entry = journal.recv(65536).decode()
        fields = dict(line.split("=", 1) for line in entry.splitlines())
        assert fields["MESSAGE"] == "journal line" and fields["PRIORITY"] == "6"
        assert fields["CONTAINER_ID"] == cid[:12] and fields["CONTAINER_ID_FULL"] == cid
        assert fields["CONTAINER_NAME"] == "jd" and fields["CONTAINER_TAG"] == "jd"
        lc = inspect(d, cid)["HostConfig"]["LogConfig"]
        assert lc == {"Type": "journald", "Config": {"tag": "{{.Name}}"}}
        assert "Logging Driver: journald\n" in d.out("info")
        status, _, body = request(d.sock, "GET", "/v1.24/info")
        assert json.loads(body)["LoggingDriver"] == "journald"
        # A container's own driver wins over the default, without the default's options.
        other = d.out("create", "--log-driver", "json-file", "busybox", "true").strip()
        assert inspect(d, other)["HostConfig"]["LogConfig"] == {"Type": "json-file", "Config": {}}
    finally:
        journal.close()


def test_a_bad_daemon_log_driver_is_refused_at_start(daemon_factory):
    d = daemon_factory("--log-driver", "splunk")
    with pytest.raises(RuntimeError, match="no log driver named 'splunk' is registered"):
        d.start()


def test_sdk_log_config(daemon):
    docker = require_module("docker", "pip install docker; scripts/setup-dev.sh installs it")
    client = docker.DockerClient(base_url=daemon.host, version="1.24", timeout=60)
    try:
        lc = docker.types.LogConfig(type="json-file", config={"max-file": "100", "max-size": "10m"})
        c = client.containers.create("busybox", "true", log_config=lc)
        assert c.attrs["HostConfig"]["LogConfig"] == {"Type": "json-file", "Config": lc.config}
        c.remove()
        assert client.containers.run("busybox", "echo hello", log_config={"type": "none"}) is None
        out = client.containers.run("busybox", "echo hello", log_config={"type": "json-file"}, remove=True)
        assert out == b"hello\n"
    finally:
        client.close()
