"""Daemon address parsing: every form Docker 0.9 accepts for -H / DOCKER_HOST, and the bad ones."""

from __future__ import annotations

import copy
import pickle

import pytest

from lxc_docker.hosts import DEFAULT_HOST, Host, default_host, parse_host


@pytest.mark.parametrize(
    ("spec", "proto", "address", "host", "port", "path"),
    [
        ("unix:///var/run/docker.sock", "unix", "/var/run/docker.sock", None, None, "/var/run/docker.sock"),
        ("unix:///tmp/d.sock", "unix", "/tmp/d.sock", None, None, "/tmp/d.sock"),
        ("unix://", "unix", "/var/run/docker.sock", None, None, "/var/run/docker.sock"),
        ("", "unix", "/var/run/docker.sock", None, None, "/var/run/docker.sock"),
        ("  unix:///x.sock \n", "unix", "/x.sock", None, None, "/x.sock"),
        ("tcp://10.0.0.1:2375", "tcp", "10.0.0.1:2375", "10.0.0.1", 2375, None),
        ("tcp://:4000", "tcp", "127.0.0.1:4000", "127.0.0.1", 4000, None),
        ("tcp://example.com", "tcp", "example.com:4243", "example.com", 4243, None),
        ("tcp://localhost:65535", "tcp", "localhost:65535", "localhost", 65535, None),
        ("0.0.0.0:4243", "tcp", "0.0.0.0:4243", "0.0.0.0", 4243, None),
        (":1", "tcp", "127.0.0.1:1", "127.0.0.1", 1, None),
        ("somehost", "tcp", "somehost:4243", "somehost", 4243, None),
        ("tcp://[::1]:4243", "tcp", "[::1]:4243", "::1", 4243, None),
        ("tcp://[fe80::1%eth0]:80", "tcp", "[fe80::1%eth0]:80", "fe80::1%eth0", 80, None),
        ("[::]", "tcp", "[::]:4243", "::", 4243, None),
        ("fd://", "fd", "*", None, None, None),
        ("fd://*", "fd", "*", None, None, None),
        ("fd://3", "fd", "3", None, None, None),
        ("fd://007", "fd", "7", None, None, None),
    ],
)
def test_valid_forms(
    spec: str, proto: str, address: str, host: str | None, port: int | None, path: str | None
):
    parsed = parse_host(spec)
    assert (parsed.proto, parsed.address, parsed.host, parsed.port, parsed.path) == (
        proto,
        address,
        host,
        port,
        path,
    )
    # The canonical form parses back to the same thing.
    assert parse_host(parsed.url) == parsed


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("foo://x", "Invalid bind address protocol: foo://x"),
        ("http://127.0.0.1:4243", "Invalid bind address protocol: http://127.0.0.1:4243"),
        ("tcp://", "Invalid bind address format: tcp://"),
        ("tcp://a:b:c", "Invalid bind address format: tcp://a:b:c"),
        ("::1", "Invalid bind address format: ::1"),
        ("tcp://host:", "Invalid bind address format: tcp://host:"),
        ("tcp://host:0", "Invalid bind address format: tcp://host:0"),
        ("tcp://host:65536", "Invalid bind address format: tcp://host:65536"),
        ("tcp://host:-1", "Invalid bind address format: tcp://host:-1"),
        ("tcp://host:http", "Invalid bind address format: tcp://host:http"),
        ("tcp://host:４２", "Invalid bind address format: tcp://host:４２"),
        ("tcp://host:4243/path", "Invalid bind address format: tcp://host:4243/path"),
        ("tcp://user@host:4243", "Invalid bind address format: tcp://user@host:4243"),
        ("tcp://ho st:4243", "Invalid bind address format: tcp://ho st:4243"),
        ("tcp://[::1", "Invalid bind address format: tcp://[::1"),
        ("tcp://[::1]4243", "Invalid bind address format: tcp://[::1]4243"),
        ("tcp://[localhost]:4243", "Invalid bind address format: tcp://[localhost]:4243"),
        ("tcp://[]:4243", "Invalid bind address format: tcp://[]:4243"),
        ("tcp://::1]:4243", "Invalid bind address format: tcp://::1]:4243"),
        ("fd://x", "Invalid bind address format: fd://x"),
        ("fd://-1", "Invalid bind address format: fd://-1"),
        ("fd://3,4", "Invalid bind address format: fd://3,4"),
        ("unix:///a\0b", "Invalid bind address format: unix:///a\0b"),
    ],
)
def test_bad_input(spec: str, message: str):
    with pytest.raises(ValueError) as info:
        parse_host(spec)
    assert str(info.value).startswith(message)


def test_bad_port_message_says_why():
    with pytest.raises(ValueError, match="port must be a number from 1 to 65535"):
        parse_host("tcp://h:99999")


def test_ipv6_without_brackets_hints_at_them():
    with pytest.raises(ValueError, match=r"brackets"):
        parse_host("tcp://::1:4243")


def test_defaults_can_be_overridden():
    assert parse_host("unix://", default_unix="/run/x.sock").path == "/run/x.sock"
    assert parse_host("", default_unix="/run/x.sock").path == "/run/x.sock"
    assert parse_host(":5", default_tcp_host="0.0.0.0").address == "0.0.0.0:5"
    assert parse_host("tcp://h", default_port=2375).port == 2375


def test_host_is_immutable_hashable_and_prints_its_url():
    host = parse_host("tcp://[::1]:4243")
    with pytest.raises(AttributeError):
        host.port = 1  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del host.host
    assert {host, parse_host("tcp://[::1]")} == {host}
    assert host != parse_host("tcp://127.0.0.1:4243")
    assert host != "tcp://[::1]:4243"
    assert str(host) == host.url == "tcp://[::1]:4243"
    assert repr(host) == "Host('tcp://[::1]:4243')"
    assert Host("unix", "/s", path="/s") == parse_host("unix:///s")


def test_host_copies_and_pickles():
    host = parse_host("tcp://h:1")
    assert copy.copy(host) == pickle.loads(pickle.dumps(host)) == host


def test_fd_number():
    assert parse_host("fd://3").fd == 3
    assert parse_host("fd://").fd is None
    assert parse_host("unix://").fd is None


def test_default_host(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    assert default_host() == DEFAULT_HOST == "unix:///var/run/docker.sock"
    monkeypatch.setenv("DOCKER_HOST", "")
    assert default_host() == DEFAULT_HOST
    monkeypatch.setenv("DOCKER_HOST", "tcp://1.2.3.4:5")
    assert default_host() == "tcp://1.2.3.4:5"
