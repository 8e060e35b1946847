"""Registry server input checks: repository names, tags, digests, Range and Content-Range."""

from __future__ import annotations

import pytest

from lxc_docker.registry.server import names


@pytest.mark.parametrize("name", ["a", "library/busybox", "ns/img", "a.b/c_d/e-f", "a__b", "x--y/z"])
def test_good_repository_names(name: str) -> None:
    assert names.valid_repository(name) == name


@pytest.mark.parametrize(
    "name",
    ["", "..", "a/..", "../etc", "a//b", "/a", "a/", "A/b", "a/.b", "a_", "-a", "a b", "a/b\x00", "a" * 256],
)
def test_bad_repository_names_never_reach_the_disk(name: str) -> None:
    with pytest.raises(names.NameError_):
        names.valid_repository(name)


def test_tags_ids_digests_and_upload_ids() -> None:
    assert names.valid_tag("v1.2_rc-3") == "v1.2_rc-3"
    for bad in ("", ".hidden", "-x", "a/b", "x" * 129):
        with pytest.raises(names.NameError_):
            names.valid_tag(bad)
    hexd = "ab" * 32
    assert names.digest_hex("sha256:" + hexd) == hexd
    for bad in ("sha256:" + "AB" * 32, "sha512:" + hexd, hexd, "sha256:../../x"):
        with pytest.raises(names.NameError_):
            names.digest_hex(bad)
    assert names.valid_image_id(hexd) == hexd
    with pytest.raises(names.NameError_):
        names.valid_image_id("..")
    with pytest.raises(names.NameError_):
        names.valid_upload_id("../x")


@pytest.mark.parametrize(
    ("header", "size", "span"),
    [
        ("", 10, None),
        ("bytes=0-", 10, (0, 9)),
        ("bytes=2-4", 10, (2, 4)),
        ("bytes=5-100", 10, (5, 9)),
        ("bytes=-3", 10, (7, 9)),
        ("bytes=-30", 10, (0, 9)),
        ("BYTES = 9-9", 10, (9, 9)),
    ],
)
def test_range(header: str, size: int, span: tuple[int, int] | None) -> None:
    assert names.parse_range(header, size) == span


@pytest.mark.parametrize(
    "header", ["bytes=10-", "bytes=4-2", "bytes=0-1,3-4", "items=0-1", "bytes=x-", "bytes=-0", "bytes"]
)
def test_unsatisfiable_or_malformed_range(header: str) -> None:
    with pytest.raises(names.RangeError):
        names.parse_range(header, 10)


def test_content_range() -> None:
    assert names.parse_content_range("0-99") == (0, 99)
    assert names.parse_content_range("bytes 100-199/*") == (100, 199)
    for bad in ("", "5", "9-3", "a-b", "-1-2"):
        with pytest.raises(names.RangeError):
            names.parse_content_range(bad)
