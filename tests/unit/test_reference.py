"""REPOSITORY[:TAG] parsing, validation and normalization."""

import pytest

from lxc_docker import reference


@pytest.mark.parametrize(
    "name, expected",
    [
        ("busybox", ("busybox", "latest")),
        ("busybox:1.0", ("busybox", "1.0")),
        ("user/repo", ("user/repo", "latest")),
        ("user/repo:v2", ("user/repo", "v2")),
        ("localhost:5000/foo", ("localhost:5000/foo", "latest")),
        ("localhost:5000/foo:v1", ("localhost:5000/foo", "v1")),
        ("registry.example.com/a/b:c", ("registry.example.com/a/b", "c")),
        ("docker.io/library/busybox:latest", ("busybox", "latest")),
        ("docker.io/someone/app", ("someone/app", "latest")),
        ("index.docker.io/library/ubuntu:12.04", ("ubuntu", "12.04")),
        ("a-b_c.d", ("a-b_c.d", "latest")),
        ("a__b", ("a__b", "latest")),
        ("ubuntu:Precise_1-2.3", ("ubuntu", "Precise_1-2.3")),
    ],
)
def test_parse_valid(name, expected):
    assert reference.parse(name) == expected


@pytest.mark.parametrize(
    "name",
    [
        "",
        "Busybox",
        "a..b",
        "-x",
        "x-",
        "a/B",
        "x:.tag",
        "x:-tag",
        "x:" + "t" * 129,
        "x@sha256:ab",
        "a b",
        "0" * 64,
    ],
)
def test_parse_invalid(name):
    with pytest.raises(ValueError):
        reference.parse(name)


def test_split_tag_keeps_registry_port():
    assert reference.split_tag("localhost:5000/foo") == ("localhost:5000/foo", "")
    assert reference.split_tag("foo:bar") == ("foo", "bar")
    assert reference.split_tag("host:5000/a/b:t") == ("host:5000/a/b", "t")


def test_parse_without_default_tag():
    assert reference.parse("busybox", default_tag=None) == ("busybox", None)


def test_registry_host():
    assert reference.registry_host("localhost:5000/foo") == "localhost:5000"
    assert reference.registry_host("example.com/foo/bar") == "example.com"
    assert reference.registry_host("user/repo") is None
    assert reference.registry_host("busybox") is None


def test_is_id():
    assert reference.is_id("a" * 64)
    assert not reference.is_id("A" * 64)
    assert not reference.is_id("a" * 63)
