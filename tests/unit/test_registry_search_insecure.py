"""Pure parts of search, `--insecure-registry` and the credentials files: Docker 0.9's search table,
the daemon's limit and filters, which registries are insecure, and later Docker's config.json."""

from __future__ import annotations

import base64
import json

import pytest

from lxc_docker.cli import authconfig
from lxc_docker.cli.commands.search import shorten, table
from lxc_docker.errors import InvalidParameter
from lxc_docker.registry import insecure, search


def _row(name, desc="", stars=0, official=False, trusted=False):
    return search.result_row(
        {
            "name": name,
            "description": desc,
            "star_count": stars,
            "is_official": official,
            "is_trusted": trusted,
        }
    )


def test_search_table_is_docker_0_9s():
    out = table([_row("busybox", "small", 3, official=True), _row("me/tool", "mine", 0, trusted=True)])
    assert out == (
        "NAME      DESCRIPTION   STARS     OFFICIAL   TRUSTED\n"
        "busybox   small         3         [OK]       \n"
        "me/tool   mine          0                    [OK]\n"
    )
    rows = [_row("a", stars=5), _row("b", stars=1, trusted=True)]
    assert [line.split()[0] for line in table(rows, stars=2).splitlines()[1:]] == ["a"]
    assert [line.split()[0] for line in table(rows, trusted=True).splitlines()[1:]] == ["b"]


def test_search_description_cut_at_45_bytes_and_line_breaks():
    assert shorten("x" * 45, False) == "x" * 45
    assert shorten("x" * 46, False) == "x" * 42 + "..."
    assert shorten("x" * 46, True) == "x" * 46
    assert shorten("one\ntwo\rthree", False) == "one two three"
    # Bytes, as Go counts them: a character cut in two is dropped, not half printed.
    assert shorten("é" * 30, False) == "é" * 21 + "..."


def test_split_term_names_a_registry_like_docker():
    assert search.split_term("busybox", "idx") == ("idx", "busybox")
    assert search.split_term("library/busybox", "idx") == ("idx", "busybox")
    assert search.split_term("user/app", "idx") == ("idx", "user/app")
    assert search.split_term("127.0.0.1:5000/app", "idx") == ("127.0.0.1:5000", "app")
    assert search.split_term("localhost/app", "idx") == ("localhost", "app")
    assert search.split_term("reg.example/ns/app", "idx") == ("reg.example", "ns/app")


def test_search_limit_and_filters():
    rows = [_row("a", stars=5, official=True), _row("b", stars=2, trusted=True), _row("c")]
    assert [r["name"] for r in search.apply(rows, {}, 25)] == ["a", "b", "c"]
    assert [r["name"] for r in search.apply(rows, {}, 2)] == ["a", "b"]
    assert [r["name"] for r in search.apply(rows, {"is-official": ["true"]}, 25)] == ["a"]
    assert [r["name"] for r in search.apply(rows, {"is-official": ["false"]}, 25)] == ["b", "c"]
    assert [r["name"] for r in search.apply(rows, {"is-automated": ["true"]}, 25)] == ["b"]
    assert [r["name"] for r in search.apply(rows, {"stars": ["1", "3"]}, 25)] == ["a"]
    assert rows[1]["is_automated"] and rows[1]["is_trusted"]
    for bad, words in [
        ({"color": ["x"]}, "Invalid filter 'color'"),
        ({"stars": ["many"]}, "Invalid filter 'stars=many'"),
        ({"is-automated": ["yes"]}, "Invalid filter 'is-automated=yes'"),
    ]:
        with pytest.raises(InvalidParameter, match=words):
            search.check_filters(bad)
    for limit in (0, 101, -1):
        with pytest.raises(InvalidParameter, match="outside the range"):
            search.check_limit(limit)
    search.check_limit(1)
    search.check_limit(100)
    assert search.result_row({"description": "no name"}) is None
    assert search.result_row({"name": "x", "star_count": "lots"})["star_count"] == 0


def test_insecure_registries_match_names_and_networks():
    reg = insecure.InsecureRegistries(["reg.test:5000", "10.20.0.0/16", "[fd00::1]:443", "fd01::/64"])
    assert reg.match("reg.test:5000") and reg.match("REG.test:5000")
    assert not reg.match("reg.test:5001")
    assert reg.match("10.20.3.4:5000") and reg.match("10.20.3.4")
    assert not reg.match("10.21.0.1:5000")
    assert reg.match("[fd00::1]:443") and reg.match("[fd01::5]:5000") and not reg.match("[fd02::1]:5000")
    # Loopback is insecure without being listed, as in Docker.
    none = insecure.InsecureRegistries()
    assert none.match("127.0.0.1:5000") and none.match("127.9.9.9") and none.match("localhost:5000")
    assert none.match("[::1]:5000")
    assert not none.match("10.0.0.1:5000")


@pytest.mark.parametrize("bad", ["http://reg:5000", "10.0.0.0/33", "reg:port", "", "a b:5000", "[::1]:x"])
def test_insecure_registry_values_refused(bad):
    with pytest.raises(ValueError):
        insecure.parse(bad)


def test_config_json_entries_read_and_logout_removes_them(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("DOCKER_CONFIG", raising=False)
    (tmp_path / ".docker").mkdir()
    config = {
        "auths": {
            "127.0.0.1:5000": {"auth": base64.b64encode(b"ann:pw1").decode()},
            "127.0.0.1:6000": {"username": "ben", "password": "pw2"},
        },
        "HttpHeaders": {"X-Meta": "kept"},
    }
    (tmp_path / ".docker" / "config.json").write_text(json.dumps(config))

    def sent(image):
        return json.loads(base64.urlsafe_b64decode(authconfig.header_for(image)["X-Registry-Auth"]))

    assert (sent("127.0.0.1:5000/a")["username"], sent("127.0.0.1:5000/a")["password"]) == ("ann", "pw1")
    assert (sent("127.0.0.1:6000/a")["username"], sent("127.0.0.1:6000/a")["password"]) == ("ben", "pw2")
    # ~/.dockercfg wins where both name a registry.
    authconfig.save_entry("127.0.0.1:5000", "cat", "pw3", "")
    assert sent("127.0.0.1:5000/a")["username"] == "cat"
    assert authconfig.remove_entry("127.0.0.1:5000")
    assert sent("127.0.0.1:5000/a") == {}
    left = json.loads((tmp_path / ".docker" / "config.json").read_text())
    assert left == {
        "auths": {"127.0.0.1:6000": config["auths"]["127.0.0.1:6000"]},
        "HttpHeaders": {"X-Meta": "kept"},
    }
    assert not authconfig.remove_entry("127.0.0.1:5000")


def test_push_compressor_hashes_tar_and_gzip_in_one_pass():
    import gzip
    import hashlib
    import os

    from lxc_docker.registry import v2push

    chunks: list[bytes] = []
    seen: list[int] = []
    comp = v2push._Compressor(chunks.append, seen.append)
    data = os.urandom(700_000) + b"text " * 200_000
    for i in range(0, len(data), 512):  # tar headers arrive 512 bytes at a time
        comp.write(data[i : i + 512])
    comp.close()
    blob = b"".join(chunks)
    assert gzip.decompress(blob) == data
    assert comp.blob_sha.hexdigest() == hashlib.sha256(blob).hexdigest() and comp.blob_size == len(blob)
    assert comp.tar_sha.hexdigest() == hashlib.sha256(data).hexdigest() and comp.tar_size == len(data)
    assert all(len(c) >= v2push.CHUNK for c in chunks[:-1])
    assert seen[-1] == len(data) and seen == sorted(seen)


def test_distribution_metadata_survives_a_restart(tmp_path):
    from lxc_docker.registry.metadata import DistributionMetadata

    meta = DistributionMetadata(str(tmp_path))
    meta.set_layer("a" * 64, "sha256:" + "1" * 64, "sha256:" + "2" * 64, 42)
    meta.record_pull("reg:5000/x", "sha256:" + "3" * 64, "b" * 64, [("b" * 64, "sha256:d", "sha256:e", 7)])
    again = DistributionMetadata(str(tmp_path))
    assert again.layer("a" * 64) == ("sha256:" + "1" * 64, "sha256:" + "2" * 64, 42)
    assert again.layer("b" * 64) == ("sha256:d", "sha256:e", 7)
    assert again.repo_digest("reg:5000/x@sha256:" + "3" * 64) == "b" * 64
    assert again.layer("c" * 64) is None and again.repo_digest("reg:5000/x@sha256:0") is None
    (tmp_path / "distribution" / "metadata.json").write_text("{not json")
    assert DistributionMetadata(str(tmp_path)).layer("a" * 64) is None  # a hint store: damage forgets


def test_build_header_carries_every_stored_credential(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("DOCKER_CONFIG", raising=False)
    assert authconfig.build_header() == {}
    authconfig.save_entry("127.0.0.1:5000", "ann", "pw1", "ann@example.org")
    authconfig.save_entry(authconfig.INDEX_SERVER, "ben", "pw2", "")
    doc = json.loads(base64.urlsafe_b64decode(authconfig.build_header()["X-Registry-Config"]))
    assert doc == {
        "127.0.0.1:5000": {
            "username": "ann",
            "password": "pw1",
            "serveraddress": "127.0.0.1:5000",
            "email": "ann@example.org",
        },
        authconfig.INDEX_SERVER: {
            "username": "ben",
            "password": "pw2",
            "serveraddress": authconfig.INDEX_SERVER,
        },
    }


def test_docker_hub_is_searched_on_its_index_host():
    assert search.split_term("busybox", "registry-1.docker.io") == ("index.docker.io", "busybox")


class _FakeGraph:
    def __init__(self, pieces, fail_after=None):
        self.pieces, self.fail_after = pieces, fail_after

    def layer_tar(self, image_id, out):
        for n, piece in enumerate(self.pieces):
            if self.fail_after is not None and n == self.fail_after:
                raise OSError("disk went away")
            out.write(piece)


class _FakeImage:
    id = "f" * 64


def test_push_stream_yields_the_layer_and_passes_errors_on():
    import gzip
    import os

    from lxc_docker.registry import v2push

    pieces = [os.urandom(300_000) for _ in range(12)]
    stream = v2push._Stream(_FakeGraph(pieces), _FakeImage(), lambda n: None)
    blob = b"".join(stream)
    stream.close()
    assert gzip.decompress(blob) == b"".join(pieces) and stream.error is None
    failing = v2push._Stream(_FakeGraph(pieces, fail_after=6), _FakeImage(), lambda n: None)
    with pytest.raises(OSError, match="disk went away"):
        for _ in failing:
            pass
    failing.close()
    # A reader that gives up early (the registry closed the upload) does not leave the thread stuck.
    abandoned = v2push._Stream(_FakeGraph(pieces * 20), _FakeImage(), lambda n: None)
    next(iter(abandoned))
    abandoned.close()
    assert not abandoned.thread.is_alive()
