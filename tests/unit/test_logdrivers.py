"""Logging drivers without a daemon: option checks in Docker's words, json-file rotation and reading
across rotated files, the wire formats (syslog, journald, GELF, fluentd's msgpack), and the bounded
buffer that drops rather than blocks."""

from __future__ import annotations

import gzip
import json
import os
import socket
import struct
import threading
import time

import pytest

from lxc_docker.daemon.logdrivers import LoggerFactory, LogsNotReadable, msgpack
from lxc_docker.daemon.logdrivers.base import AsyncSender, Copier, LogInfo
from lxc_docker.daemon.logdrivers.jsonfile import JsonFileDriver, log_files, read
from lxc_docker.runconfig import logopts

CID = "f" * 12 + "0123456789abcdef" * 3 + "0123"


def info(config: dict[str, str], path: str = "/nonexistent") -> LogInfo:
    return LogInfo(
        container_id=CID,
        name="/web",
        image_id="sha256:" + "a" * 64,
        image_name="busybox",
        command="sh -c echo",
        created="2026-12-04T17:00:00Z",
        log_path=path,
        config=config,
        labels={"com.example": "x", "other": "y"},
        env=["MODE=prod", "SECRET=no"],
    )


@pytest.mark.parametrize(
    "kind, config, message",
    [
        ("json-file", {"max-size": "abc"}, "invalid size: 'abc'"),
        ("json-file", {"max-size": "0"}, "max-size must be a positive number"),
        ("json-file", {"max-file": "x"}, 'strconv.Atoi: parsing "x": invalid syntax'),
        ("json-file", {"max-file": "0"}, "max-file cannot be less than 1"),
        ("json-file", {"tag": "x"}, "unknown log opt 'tag' for json-file log driver"),
        ("syslog", {"syslog-address": "localhost:514"}, "syslog-address should be in form proto://address"),
        ("syslog", {"syslog-address": "unix:///no/such"}, "stat /no/such: no such file or directory"),
        ("syslog", {"syslog-facility": "nope"}, "invalid syslog facility"),
        ("syslog", {"syslog-format": "rfc9999"}, "Invalid syslog format"),
        ("gelf", {"gelf-address": "tcp://127.0.0.1:12201"}, "gelf: endpoint needs to be UDP"),
        ("gelf", {"gelf-address": "udp://127.0.0.1"}, "please provide gelf-address as udp://host:port"),
        ("gelf", {"gelf-address": "udp://h:1", "gelf-compression-type": "lz4"}, "Unknown gelf compression"),
        ("fluentd", {"fluentd-address": "udp://h:1"}, "invalid fluentd-address"),
        ("fluentd", {"fluentd-async-connect": "maybe"}, 'parsing "maybe": invalid syntax'),
        ("none", {"max-size": "1m"}, "unknown log opt 'max-size' for none log driver"),
        ("splunk", {}, "logger: no log driver named 'splunk' is registered"),
        ("bogus", {}, "logger: no log driver named 'bogus' is registered"),
    ],
)
def test_bad_options_are_refused_in_dockers_words(kind, config, message):
    with pytest.raises(logopts.LogOptError, match=message.replace("(", r"\(").replace(".", r"\.")):
        logopts.check(kind, config)


def test_sizes_and_addresses():
    assert logopts.parse_size("10") == 10
    assert logopts.parse_size("10k") == 10240
    assert logopts.parse_size("1.5m") == 1572864
    assert logopts.parse_size("2g") == 2 << 30
    assert logopts.parse_size("3kb") == 3072
    assert str(logopts.syslog_address("udp://127.0.0.1")) == "127.0.0.1:514"
    assert logopts.syslog_address("") is None
    assert logopts.fluentd_address("") == logopts.Address("tcp", "localhost", 24224)
    assert logopts.fluentd_address("127.0.0.1:9") == logopts.Address("tcp", "127.0.0.1", 9)
    assert logopts.fluentd_address("tcp://[::1]:9") == logopts.Address("tcp", "::1", 9)
    assert logopts.syslog_facility("local3") == 19 and logopts.syslog_facility("") == 3


def test_daemon_default_fills_in_an_empty_type_and_its_options():
    factory = LoggerFactory("json-file", {"max-size": "1m"})
    assert factory.effective({"Type": "", "Config": {"max-file": "3"}}) == {
        "Type": "json-file",
        "Config": {"max-file": "3", "max-size": "1m"},
    }
    # Another driver gets none of the default driver's options.
    assert factory.effective({"Type": "none", "Config": {}}) == {"Type": "none", "Config": {}}
    with pytest.raises(logopts.LogOptError):
        factory.set_default("json-file", {"max-size": "huge"})


def test_tags_and_extra_attributes():
    i = info({"tag": "{{.Name}}/{{.ImageName}}/{{.ID}}", "labels": "com.example,missing", "env": "MODE"})
    assert i.tag("{{.ID}}") == f"web/busybox/{CID[:12]}"
    assert info({}).tag("docker.{{.ID}}") == f"docker.{CID[:12]}"
    assert i.extra() == {"com.example": "x", "MODE": "prod"}


def test_json_file_rotates_and_is_read_across_files_in_order(tmp_path):
    path = str(tmp_path / "c-json.log")
    copier = Copier(JsonFileDriver(path, {"max-size": "1k", "max-file": "3"}))
    for n in range(100):
        copier.write("stdout" if n % 2 == 0 else "stderr", f"line {n:03d} {'x' * 40}\n".encode())
    copier.close()
    files = log_files(path)
    assert files == [path + ".2", path + ".1", path]
    assert all(os.path.getsize(f) <= 1024 + 120 for f in files)
    lines = [e["log"] for e in read(path)]
    # The oldest lines went with the file max-file dropped; what is left is in order and ends last.
    numbers = [int(line.split()[1]) for line in lines]
    assert numbers == sorted(numbers) and numbers[-1] == 99 and numbers[0] > 0
    assert [e["log"] for e in read(path, tail=2)] == lines[-2:]
    assert [e["stream"] for e in read(path, tail=2)] == ["stdout", "stderr"]


def test_max_file_one_starts_the_file_over(tmp_path):
    path = str(tmp_path / "c-json.log")
    copier = Copier(JsonFileDriver(path, {"max-size": "200", "max-file": "1"}))
    for n in range(20):
        copier.write("stdout", f"{n}\n".encode() * 1)
    copier.close()
    assert log_files(path) == [path]
    assert os.path.getsize(path) <= 200 + 80


def test_follow_goes_on_through_rotations(tmp_path):
    path = str(tmp_path / "c-json.log")
    driver = JsonFileDriver(path, {"max-size": "300", "max-file": "5"})
    copier = Copier(driver)
    copier.write("stdout", b"first\n")
    running = threading.Event()
    running.set()
    got: list[str] = []
    reader = threading.Thread(
        target=lambda: got.extend(e["log"] for e in read(path, follow=True, is_running=running.is_set))
    )
    reader.start()
    deadline = time.monotonic() + 10
    while not got and time.monotonic() < deadline:
        time.sleep(0.01)
    for n in range(30):  # several rotations while the reader follows
        copier.write("stdout", f"n{n}\n".encode())
        time.sleep(0.005)
    copier.close()
    running.clear()
    reader.join(10)
    assert got == ["first\n"] + [f"n{n}\n" for n in range(30)]
    assert len(log_files(path)) > 1


def test_since_filters_by_time(tmp_path):
    path = str(tmp_path / "c-json.log")
    d = JsonFileDriver(path)
    d.log("stdout", b"old", 1_000_000_000 * 1000)
    d.log("stdout", b"new", 1_000_000_000 * 2000)
    d.close()
    assert [e["log"] for e in read(path, since=1500)] == ["new\n"]


def test_msgpack_round_trip():
    value = ["docker.abc", 1733333333, {"log": "x" * 40, "n": -5, "big": 1 << 40, "ok": True, "z": None}]
    data = msgpack.pack(value)
    assert msgpack.unpack(data) == (value, len(data))
    assert msgpack.pack([1, "a"]) == b"\x92\x01\xa1a"
    with pytest.raises(IndexError):
        msgpack.unpack(data[:-3])


def test_syslog_formats(tmp_path):
    from lxc_docker.daemon.logdrivers.syslog import SyslogDriver

    sock_path = str(tmp_path / "log")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(sock_path)
    try:
        for fmt, pattern in [
            ("", rf"<30>\w\w\w [ \d]\d \d\d:\d\d:\d\d {CID[:12]}\[\d+\]: hello"),
            ("rfc3164", rf"<30>\w\w\w [ \d]\d \d\d:\d\d:\d\d \S+ {CID[:12]}\[\d+\]: hello"),
            ("rfc5424", rf"<30>1 \d{{4}}-\d\d-\d\dT\S+ \S+ {CID[:12]} \d+ {CID[:12]} - hello"),
        ]:
            cfg = {"syslog-address": f"unixgram://{sock_path}", "syslog-format": fmt}
            d = SyslogDriver(info(cfg))
            d.log("stdout", b"hello", time.time_ns())
            d.close()
            server.settimeout(5)
            import re

            assert re.fullmatch(pattern, server.recv(4096).decode())
        d = SyslogDriver(info({"syslog-address": f"unix://{sock_path}", "syslog-facility": "local0"}))
        d.log("stderr", b"oops", time.time_ns())
        d.close()
        assert server.recv(4096).startswith(b"<131>")  # local0 (16) * 8 + err (3)
    finally:
        server.close()


def test_journald_fields_and_binary_safe_values(tmp_path, monkeypatch):
    from lxc_docker.daemon.logdrivers import journald

    assert journald.encode([("A", b"x"), ("B", b"1\n2")]) == b"A=x\nB\n" + struct.pack("<Q", 3) + b"1\n2\n"
    sock_path = str(tmp_path / "journal")
    monkeypatch.setenv("LXC_DOCKER_JOURNALD_SOCKET", sock_path)
    with pytest.raises(OSError, match="journald is not enabled on this host"):
        journald.JournaldDriver(info({}))
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(sock_path)
    try:
        d = journald.JournaldDriver(info({"labels": "com.example"}))
        d.log("stderr", b"boom", time.time_ns())
        d.close()
        server.settimeout(5)
        fields = dict(line.split("=", 1) for line in server.recv(65536).decode().splitlines())
        assert fields["MESSAGE"] == "boom" and fields["PRIORITY"] == "3"
        assert fields["CONTAINER_ID"] == CID[:12] and fields["CONTAINER_ID_FULL"] == CID
        assert fields["CONTAINER_NAME"] == "web" and fields["COM_EXAMPLE"] == "x"
    finally:
        server.close()


def test_gelf_message_and_chunks():
    from lxc_docker.daemon.logdrivers import gelf

    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("127.0.0.1", 0))
    port = server.getsockname()[1]
    try:
        d = gelf.GelfDriver(info({"gelf-address": f"udp://127.0.0.1:{port}", "env": "MODE"}))
        d.log("stdout", b"hi there", time.time_ns())
        d.close()
        server.settimeout(5)
        msg = json.loads(gzip.decompress(server.recv(65536)))
        assert msg["version"] == "1.1" and msg["short_message"] == "hi there" and msg["level"] == 6
        assert msg["_container_id"] == CID and msg["_container_name"] == "web" and msg["_MODE"] == "prod"
    finally:
        server.close()
    parts = gelf.chunks(os.urandom(5000), b"12345678")
    assert len(parts) == 4 and all(p[:2] == b"\x1e\x0f" and p[2:10] == b"12345678" for p in parts)
    assert [p[10:12] for p in parts] == [bytes([n, 4]) for n in range(4)]


def test_fluentd_refused_connection_fails_the_start():
    from lxc_docker.daemon.logdrivers.fluentd import FluentdDriver

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    with pytest.raises(OSError, match=f"dial tcp 127.0.0.1:{port}: connect: connection refused"):
        FluentdDriver(info({"fluentd-address": f"127.0.0.1:{port}"}))
    # With async connect the start goes on, and the events wait (then drop) in the buffer.
    d = FluentdDriver(info({"fluentd-address": f"127.0.0.1:{port}", "fluentd-async-connect": "true"}))
    d.close()


def test_a_stuck_endpoint_drops_with_a_count_instead_of_blocking():
    release = threading.Event()

    def stuck(payload: bytes) -> None:
        release.wait(10)

    sender = AsyncSender("test", stuck, limit_bytes=100)
    for _ in range(50):  # returns at once although nothing is ever delivered
        sender.put(b"x" * 10)
    assert sender.dropped >= 39
    release.set()
    sender.close()


def test_reading_other_drivers_is_refused():
    class C:
        host_config = {"LogConfig": {"Type": "syslog", "Config": {}}}

    with pytest.raises(LogsNotReadable, match="configured logging driver does not support reading"):
        LoggerFactory().check_readable(C())


def test_syslog_over_tcp_frames_each_message_with_a_newline():
    from lxc_docker.daemon.logdrivers.syslog import SyslogDriver

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    try:
        d = SyslogDriver(info({"syslog-address": f"tcp://127.0.0.1:{port}", "syslog-format": "rfc3164"}))
        conn, _ = server.accept()
        d.log("stdout", b"a", time.time_ns())
        d.log("stdout", b"b", time.time_ns())
        d.close()
        conn.settimeout(5)
        data = b""
        while chunk := conn.recv(4096):
            data += chunk
        conn.close()
        assert [m.rsplit(b": ", 1)[1] for m in data.splitlines()] == [b"a", b"b"]
    finally:
        server.close()
    with pytest.raises(OSError, match=f"dial tcp 127.0.0.1:{port}: connect: connection refused"):
        SyslogDriver(info({"syslog-address": f"tcp://127.0.0.1:{port}"}))


def test_json_file_records_the_labels_and_env_it_is_asked_for(tmp_path):
    path = str(tmp_path / "c-json.log")
    config = {"labels": "com.example", "env": "MODE,ABSENT"}
    d = JsonFileDriver(path, config, info(config))
    d.log("stdout", b"x", time.time_ns())
    d.close()
    (entry,) = read(path)
    assert entry["attrs"] == {"com.example": "x", "MODE": "prod"} and entry["log"] == "x\n"


def test_a_bad_tag_template_is_refused_at_create():
    with pytest.raises(logopts.LogOptError, match="log-tag"):
        logopts.check("syslog", {"tag": "{{.ID"})
