"""Image commands through our own CLI against a real daemon."""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import os
import tarfile

import pytest

from lib.fileserver import layer_of, serve_directory


def image_ids(daemon) -> set[str]:
    return set(daemon.out("images", "-a", "-q", "--no-trunc").split())


def small_tar(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_images_lists_imported_busybox(daemon):
    out = daemon.out("images")
    header, *rows = out.splitlines()
    assert header.split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "VIRTUAL", "SIZE"]
    row = next(r for r in rows if r.startswith("busybox "))
    fields = row.split()
    assert fields[1] == "latest" and len(fields[2]) == 12
    assert "ago" in row and "MB" in row


@pytest.mark.parametrize("compress", [None, gzip.compress, bz2.compress, lzma.compress])
def test_import_detects_compression_by_content(daemon, compress):
    data = small_tar({"hello.txt": b"hi\n"})
    if compress:
        data = compress(data)
    name = f"comp/{compress.__module__ if compress else 'plain'}"
    out = daemon.out("import", "-", name, input=data)
    image_id = out.strip().splitlines()[-1]
    assert len(image_id) == 64
    saved = daemon.cli("save", image_id, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(saved)) as outer:
        layer = outer.extractfile(f"{image_id}/layer.tar").read()
    with tarfile.open(fileobj=io.BytesIO(layer)) as inner:
        assert inner.extractfile("hello.txt").read() == b"hi\n"
    daemon.out("rmi", name)


def test_import_bad_archives_change_nothing(daemon):
    before = image_ids(daemon)
    good = small_tar({"a": b"x" * 5000, "b": b"y"})
    for bad in (good[:700], b"this is not a tar archive at all" * 40, gzip.compress(good)[:-30]):
        result = daemon.cli("import", "-", "bad/archive", input=bad)
        assert result.returncode != 0
        assert result.stderr.startswith(b"Error: ")
        assert b"Traceback" not in result.stderr
    assert image_ids(daemon) == before
    assert "bad/archive" not in daemon.out("images")


def test_import_malicious_archive_writes_nothing_outside(daemon):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        link = tarfile.TarInfo("escape")
        link.type, link.linkname = tarfile.SYMTYPE, "/tmp"
        tar.addfile(link)
        payload = b"owned"
        info = tarfile.TarInfo("escape/lxc-docker-pwned")
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))
    before = image_ids(daemon)
    result = daemon.cli("import", "-", "evil/one", input=buf.getvalue())
    assert result.returncode != 0
    assert not os.path.exists("/tmp/lxc-docker-pwned")
    assert image_ids(daemon) == before


def test_import_invalid_name_is_refused_before_import(daemon):
    before = image_ids(daemon)
    result = daemon.cli("import", "-", "Bad:Name:x", input=small_tar({"a": b"1"}))
    assert result.returncode != 0
    assert image_ids(daemon) == before


def test_tag_and_force(daemon):
    other = daemon.out("import", "-", input=small_tar({"o": b"1"})).split()[-1]
    daemon.out("tag", "busybox", "tagtest/x:v1")
    assert "v1" in daemon.out("images", "tagtest/x")
    conflict = daemon.cli("tag", other, "tagtest/x:v1")
    assert conflict.returncode != 0 and b"Conflict" in conflict.stderr
    daemon.out("tag", "-f", other, "tagtest/x:v1")
    assert other[:12] in daemon.out("images", "tagtest/x")
    daemon.out("rmi", "tagtest/x:v1")
    assert other not in image_ids(daemon)


def test_rmi_rules_from_the_documentation(daemon):
    image = daemon.out("import", "-", input=small_tar({"f": b"7 bytes"})).split()[-1]
    for name in ("test1", "test", "test2"):
        daemon.out("tag", image, name)
    refused = daemon.cli("rmi", image[:12])
    assert refused.returncode != 0
    assert (
        b"conflict: unable to delete %s (must be forced) - image is referenced in multiple repositories"
        % image[:12].encode()
        in refused.stderr
    )
    assert b"failed to remove one or more images" in refused.stderr
    assert daemon.out("rmi", "test1") == f"Untagged: {image}\n"
    assert daemon.out("rmi", "test2") == f"Untagged: {image}\n"
    assert daemon.out("rmi", "test") == f"Untagged: {image}\nDeleted: {image}\n"
    assert image not in image_ids(daemon)
    missing = daemon.cli("rmi", "test")
    assert missing.returncode != 0 and b"No such image: test" in missing.stderr


def test_rmi_several_and_prefix(daemon):
    a = daemon.out("import", "-", input=small_tar({"a": b"1"})).split()[-1]
    b = daemon.out("import", "-", input=small_tar({"b": b"2"})).split()[-1]
    out = daemon.out("rmi", a[:10], b)
    assert out == f"Deleted: {a}\nDeleted: {b}\n"


def test_ambiguous_prefix_is_a_clear_error(daemon):
    ids = sorted(image_ids(daemon))
    made = []
    # Import until two image ids share a first hex digit.
    while True:
        new = daemon.out("import", "-", input=small_tar({"x": os.urandom(8)})).split()[-1]
        made.append(new)
        if any(i[0] == new[0] for i in ids + made[:-1]):
            break
    result = daemon.cli("inspect", new[0])
    assert result.returncode != 0
    assert b"Multiple IDs found with provided prefix" in result.stderr or b"No such image" in result.stderr
    daemon.out("rmi", *made)


def test_history(daemon):
    out = daemon.out("history", "busybox")
    lines = out.splitlines()
    assert lines[0].split() == ["IMAGE", "CREATED", "CREATED", "BY", "SIZE"]
    assert len(lines) == 2
    quiet = daemon.out("history", "-q", "--no-trunc", "busybox").split()
    assert len(quiet) == 1 and len(quiet[0]) == 64


def test_inspect_json_and_format(daemon):
    doc = json.loads(daemon.out("inspect", "busybox"))
    assert isinstance(doc, list) and len(doc[0]["id"]) == 64
    assert doc[0]["comment"] == "Imported from -"
    assert daemon.out("inspect", "--format", "{{.id}}", "busybox").strip() == doc[0]["id"]
    assert daemon.out("inspect", "-f", "{{.os}}/{{.architecture}}", "busybox").strip() == "linux/amd64"
    bad = daemon.cli("inspect", "-f", "{{.id", "busybox")
    assert bad.returncode != 0 and b"Traceback" not in bad.stderr


def test_save_load_round_trip_keeps_all_tags(daemon, tmp_path):
    daemon.out("tag", "busybox", "roundtrip/a:one")
    daemon.out("tag", "busybox", "roundtrip/a:two")
    image = daemon.out("inspect", "-f", "{{.id}}", "busybox").strip()
    archive = tmp_path / "rt.tar"
    daemon.out("save", "-o", str(archive), "roundtrip/a")
    with tarfile.open(archive) as tar:
        names = tar.getnames()
        repos = json.load(tar.extractfile("repositories"))
    assert repos == {"roundtrip/a": {"one": image, "two": image}}
    assert f"{image}/layer.tar" in names and f"{image}/VERSION" in names
    daemon.out("rmi", "roundtrip/a:one")
    daemon.out("rmi", "roundtrip/a:two")
    daemon.out("load", "-i", str(archive))
    listing = daemon.out("images", "roundtrip/a")
    assert " one " in listing and " two " in listing
    daemon.out("rmi", "roundtrip/a:one", "roundtrip/a:two")


def test_save_unknown_image_is_an_error(daemon):
    result = daemon.cli("save", "nosuchimage")
    assert result.returncode != 0 and b"No such image: nosuchimage" in result.stderr


def test_load_fixture_written_by_docker_20_10(daemon):
    fixture = os.path.join(
        os.path.dirname(__file__), "..", "..", "..", "shared", "fixtures", "docker-20.10-save.tar"
    )
    if not os.path.exists(fixture):
        fixture = "/work/shared/fixtures/docker-20.10-save.tar"
    with open(fixture, "rb") as f:
        daemon.out("load", input=f.read())
    listing = daemon.out("images")
    assert any(r.split()[:2] == ["fx/base", "latest"] for r in listing.splitlines())
    assert any(r.split()[:2] == ["fx/child", "v1"] for r in listing.splitlines())
    child = json.loads(daemon.out("inspect", "fx/child:v1"))[0]
    assert child["comment"] == "fixture child" and child["author"] == "lxc-docker tests"
    saved = daemon.cli("save", "fx/child:v1", check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(saved)) as outer:
        layer = outer.extractfile(f"{child['id']}/layer.tar").read()
    with tarfile.open(fileobj=io.BytesIO(layer)) as inner:
        names = inner.getnames()
        assert "bin/.wh.ls" in names
        assert inner.extractfile("etc/fx-added").read() == b"added\n"
    daemon.out("rmi", "fx/child:v1", "fx/base")


def test_load_garbage_and_truncated_change_nothing(daemon, tmp_path):
    before = image_ids(daemon)
    archive = tmp_path / "b.tar"
    daemon.out("save", "-o", str(archive), "busybox")
    data = archive.read_bytes()
    daemon.out("tag", "busybox", "keep/me")
    for bad in (data[: len(data) // 2], b"garbage" * 100):
        result = daemon.cli("load", input=bad)
        assert result.returncode != 0, bad[:20]
        assert b"Traceback" not in result.stderr
    assert image_ids(daemon) == before
    daemon.out("rmi", "keep/me")


def test_insert_downloads_a_file_into_a_new_layer(daemon, tmp_path):
    (tmp_path / "payload.txt").write_bytes(b"inserted content\n")
    with serve_directory(str(tmp_path)) as base:
        out = daemon.out("insert", "busybox", f"{base}/payload.txt", "/usr/share/p.txt")
        new_id = out.strip().splitlines()[-1]
        history = daemon.out("history", "-q", new_id).split()
        assert len(history) == 2
        missing = daemon.cli("insert", "busybox", f"{base}/nothere.txt", "/x")
        assert missing.returncode != 0 and b"404" in missing.stderr
    with tarfile.open(fileobj=io.BytesIO(layer_of(daemon, new_id))) as inner:
        assert inner.extractfile("usr/share/p.txt").read() == b"inserted content\n"
    daemon.out("rmi", daemon.out("inspect", "-f", "{{.id}}", new_id).strip())


def test_images_tree_and_viz(daemon):
    tree = daemon.out("images", "--tree")
    assert "Virtual Size:" in tree and "busybox:latest" in tree
    viz = daemon.out("images", "--viz")
    assert viz.startswith("digraph docker {") and "busybox:latest" in viz


def test_usage_and_unknown_commands(daemon):
    top = daemon.cli()
    assert top.returncode == 0 and b"Commands:" in top.stdout and b"images" in top.stdout
    assert b"Usage: docker images" in daemon.cli("help", "images").stdout
    assert b"Usage: docker images" in daemon.cli("images", "--help").stdout
    unknown = daemon.cli("frobnicate")
    assert unknown.returncode != 0 and b"not a docker command" in unknown.stderr
    badflag = daemon.cli("images", "--bogus")
    assert badflag.returncode != 0
    assert b"flag provided but not defined: --bogus" in badflag.stderr
    assert b"Usage: docker images" in badflag.stderr


def test_image_events_with_since(daemon):
    import time

    start = int(time.time()) - 1
    daemon.out("tag", "busybox", "events/x")
    daemon.out("rmi", "events/x")
    out = daemon.out("events", "--since", str(start), "--until", str(int(time.time()) + 1))
    statuses = [line.rsplit(" ", 1)[-1] for line in out.splitlines()]
    assert "tag" in statuses and "untag" in statuses
