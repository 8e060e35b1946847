"""Creating layer tarballs from directories and from change lists."""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
import threading

import pytest

from lib.tarballs import make_deep, tar_of
from lxc_docker.archive.changes import Change
from lxc_docker.archive.create import create, create_from_changes
from lxc_docker.archive.extract import extract
from lxc_docker.errors import ArchiveError

ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not ROOT, reason="needs root (mknod, chown, trusted.* xattrs)")


@pytest.fixture
def deep_tmp(tmp_path):
    """tmp_path, emptied with rm(1) afterwards: pytest's own cleanup recurses once per level."""
    yield tmp_path
    subprocess.run(["rm", "-rf", "--", *map(str, tmp_path.iterdir())], check=True)


def members(data: bytes) -> list[tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        return tf.getmembers()


def archive(src, **kwargs) -> bytes:
    out = io.BytesIO()
    create(str(src), out, **kwargs)
    return out.getvalue()


@pytest.fixture
def src(tmp_path):
    root = tmp_path / "src"
    (root / "etc" / "init.d").mkdir(parents=True)
    (root / "etc" / "passwd").write_text("root:x:0:0\n")
    (root / "etc" / "init.d" / "rc").write_text("#!/bin/sh\n")
    os.chmod(root / "etc" / "init.d" / "rc", 0o755)
    (root / "bin").mkdir()
    (root / "bin" / "busybox").write_bytes(b"\x7fELF" + bytes(10_000))
    os.link(root / "bin" / "busybox", root / "bin" / "sh")
    os.symlink("busybox", root / "bin" / "ls")
    os.utime(root / "etc" / "passwd", (1_234_567_890, 1_234_567_890))
    return root


def test_names_are_relative_sorted_and_parents_come_first(src):
    names = [m.name for m in members(archive(src))]
    assert names == [
        "bin",
        "bin/busybox",
        "bin/ls",
        "bin/sh",
        "etc",
        "etc/init.d",
        "etc/init.d/rc",
        "etc/passwd",
    ]


def test_raw_names_directories_end_with_a_slash(src):
    data = archive(src)
    assert data[:4] == b"bin/"
    assert data[0:100].rstrip(b"\0") == b"bin/"


def test_metadata_and_types(src):
    by_name = {m.name: m for m in members(archive(src))}
    passwd = by_name["etc/passwd"]
    assert passwd.isreg() and passwd.size == 11 and passwd.mtime == 1_234_567_890
    assert by_name["etc/init.d/rc"].mode == 0o755
    assert by_name["bin/ls"].issym() and by_name["bin/ls"].linkname == "busybox"
    assert by_name["bin"].isdir()
    assert by_name["bin/busybox"].uid == os.getuid()
    assert by_name["bin/busybox"].uname == ""


def test_hard_links_are_detected_by_inode(src):
    by_name = {m.name: m for m in members(archive(src))}
    assert by_name["bin/busybox"].isreg() and by_name["bin/busybox"].size == 10_004
    assert by_name["bin/sh"].islnk() and by_name["bin/sh"].linkname == "bin/busybox"


def test_exclude_skips_paths_and_their_content(src):
    names = [m.name for m in members(archive(src, exclude=["/etc/init.d", "bin/ls"]))]
    assert "etc/init.d" not in names and "etc/init.d/rc" not in names
    assert "bin/ls" not in names
    assert "etc/passwd" in names


def test_excluding_the_first_name_of_a_hard_link_keeps_the_content(src):
    by_name = {m.name: m for m in members(archive(src, exclude=["bin/busybox"]))}
    assert by_name["bin/sh"].isreg() and by_name["bin/sh"].size == 10_004


def test_long_names_and_link_targets_use_pax(tmp_path):
    root = tmp_path / "src"
    deep = root / ("d" * 120) / ("e" * 120)
    deep.mkdir(parents=True)
    (deep / ("f" * 200)).write_text("x")
    os.symlink("t" * 250, root / "l")
    data = archive(root)
    names = {m.name: m for m in members(data)}
    assert f"{'d' * 120}/{'e' * 120}/{'f' * 200}" in names
    assert names["l"].linkname == "t" * 250
    listing = subprocess.run(["tar", "-tf", "-"], input=data, capture_output=True, check=True).stdout
    assert f"{'d' * 120}/{'e' * 120}/{'f' * 200}".encode() in listing


def test_non_utf8_names_round_trip(tmp_path):
    root = tmp_path / "src"
    root.mkdir()
    (root / os.fsdecode(b"caf\xe9")).write_text("latin-1 name")
    dest = tmp_path / "dest"
    dest.mkdir()
    extract(io.BytesIO(archive(root)), str(dest))
    assert os.listdir(os.fsencode(dest)) == [b"caf\xe9"]


def test_round_trip_through_gnu_tar(src, tmp_path):
    dest = tmp_path / "gnu"
    dest.mkdir()
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive(src), check=True)
    assert (dest / "etc" / "passwd").read_text() == "root:x:0:0\n"
    assert os.stat(dest / "bin" / "sh").st_ino == os.stat(dest / "bin" / "busybox").st_ino


def test_writes_to_a_pipe(src):
    read_fd, write_fd = os.pipe()
    chunks = []

    def drain():
        with os.fdopen(read_fd, "rb") as reader:
            chunks.append(reader.read())

    thread = threading.Thread(target=drain)
    thread.start()
    with os.fdopen(write_fd, "wb") as writer:
        create(str(src), writer)
    thread.join()
    assert [m.name for m in members(chunks[0])][:2] == ["bin", "bin/busybox"]


def test_archive_ends_with_two_zero_blocks(src):
    data = archive(src)
    assert len(data) % 512 == 0
    assert data[-1024:] == bytes(1024)


def test_user_xattrs_go_into_pax_headers(src):
    try:
        os.setxattr(src / "etc" / "passwd", "user.origin", b"test")
    except OSError as exc:
        pytest.skip(f"no user xattrs here: {exc}")
    by_name = {m.name: m for m in members(archive(src))}
    assert by_name["etc/passwd"].pax_headers["SCHILY.xattr.user.origin"] == "test"
    assert "SCHILY.xattr.user.origin" not in by_name["bin/busybox"].pax_headers
    plain = {m.name: m for m in members(archive(src, xattrs=False))}
    assert "SCHILY.xattr.user.origin" not in plain["etc/passwd"].pax_headers


@needs_root
def test_devices_fifos_and_big_ids(tmp_path):
    root = tmp_path / "src"
    root.mkdir()
    os.mknod(root / "null", 0o666 | 0o020000, os.makedev(1, 3))
    os.mknod(root / "sda", 0o660 | 0o060000, os.makedev(8, 0))
    os.mkfifo(root / "fifo")
    (root / "owned").write_text("x")
    os.chown(root / "owned", 3_000_000, 4_000_000)  # beyond ustar's 7 octal digits
    by_name = {m.name: m for m in members(archive(root))}
    assert by_name["null"].ischr() and (by_name["null"].devmajor, by_name["null"].devminor) == (1, 3)
    assert by_name["sda"].isblk() and (by_name["sda"].devmajor, by_name["sda"].devminor) == (8, 0)
    assert by_name["fifo"].isfifo()
    assert (by_name["owned"].uid, by_name["owned"].gid) == (3_000_000, 4_000_000)
    dest = tmp_path / "dest"
    dest.mkdir()
    extract(io.BytesIO(archive(root)), str(dest))
    st = os.stat(dest / "owned")
    assert (st.st_uid, st.st_gid) == (3_000_000, 4_000_000)


@needs_root
def test_overlay_markers_become_docker_whiteouts(tmp_path):
    upper = tmp_path / "upper"
    (upper / "etc").mkdir(parents=True)
    os.mknod(upper / "etc" / "hosts", 0o020000, 0)
    os.link(upper / "etc" / "hosts", upper / "etc" / "motd")  # overlayfs may share whiteout inodes
    (upper / "opaque").mkdir()
    os.setxattr(upper / "opaque", "trusted.overlay.opaque", b"y")
    os.setxattr(upper / "opaque", "trusted.overlay.origin", b"junk")
    (upper / "opaque" / "new").write_text("n")
    os.mknod(upper / "real-null", 0o666 | 0o020000, os.makedev(1, 3))
    found = members(archive(upper, whiteouts="overlay"))
    names = [m.name for m in found]
    assert names == [
        "etc",
        "etc/.wh.hosts",
        "etc/.wh.motd",
        "opaque",
        "opaque/.wh..wh..opq",
        "opaque/new",
        "real-null",
    ]
    by_name = {m.name: m for m in found}
    assert by_name["etc/.wh.hosts"].isreg() and by_name["etc/.wh.hosts"].size == 0
    assert by_name["etc/.wh.motd"].isreg()
    assert not any(k.startswith("SCHILY.xattr.trusted.overlay") for k in by_name["opaque"].pax_headers)
    assert by_name["real-null"].ischr()
    plain = [m.name for m in members(archive(upper))]
    assert "etc/hosts" in plain and "opaque/.wh..wh..opq" not in plain


def test_create_from_changes(tmp_path):
    root = tmp_path / "layer"
    (root / "etc" / "new.d").mkdir(parents=True)
    (root / "etc" / "new.d" / "a").write_text("a")
    (root / "etc" / "hostname").write_text("box\n")
    (root / "usr").mkdir()
    (root / "usr" / "untouched").write_text("not in the changes")
    changes = [
        Change("/etc/new.d/a", "A"),
        Change("/etc", "C"),
        Change("/etc/new.d", "A"),
        Change("/etc/hostname", "C"),
        Change("/etc/shadow", "D"),
        Change("/var/old", "D"),
        Change("/gone", "D"),
    ]
    out = io.BytesIO()
    create_from_changes(str(root), changes, out)
    found = members(out.getvalue())
    # In the order of the changed paths; directories alone, not with their content.
    assert [m.name for m in found] == [
        "etc",
        "etc/hostname",
        "etc/new.d",
        "etc/new.d/a",
        "etc/.wh.shadow",
        ".wh.gone",
        "var/.wh.old",
    ]
    by_name = {m.name: m for m in found}
    assert by_name["etc"].isdir()
    assert by_name["etc/.wh.shadow"].isreg() and by_name["etc/.wh.shadow"].size == 0
    assert by_name["etc/hostname"].size == 4


def test_changes_tar_applied_onto_the_parent_reproduces_the_layer(tmp_path):
    from lxc_docker.archive.changes import changes as compute_changes

    parent = tmp_path / "parent"
    (parent / "etc").mkdir(parents=True)
    (parent / "etc" / "hosts").write_text("127.0.0.1 localhost\n")
    (parent / "etc" / "old").write_text("old")
    (parent / "var" / "cache").mkdir(parents=True)
    (parent / "var" / "cache" / "x").write_text("x")
    layer = tmp_path / "layer"
    subprocess.run(["cp", "-a", str(parent), str(layer)], check=True)
    (layer / "etc" / "hosts").write_text("127.0.0.1 localhost box\n")
    os.unlink(layer / "etc" / "old")
    subprocess.run(["rm", "-r", str(layer / "var" / "cache")], check=True)
    (layer / "new").mkdir()
    (layer / "new" / "file").write_text("new")
    out = io.BytesIO()
    create_from_changes(str(layer), compute_changes(str(layer), str(parent)), out)
    target = tmp_path / "target"
    subprocess.run(["cp", "-a", str(parent), str(target)], check=True)
    extract(io.BytesIO(out.getvalue()), str(target))
    listing = sorted(str(p.relative_to(target)) for p in target.rglob("*"))
    assert listing == sorted(str(p.relative_to(layer)) for p in layer.rglob("*"))
    assert (target / "etc" / "hosts").read_text() == "127.0.0.1 localhost box\n"


def test_changes_are_not_read_through_a_symlinked_parent(tmp_path):
    root = tmp_path / "layer"
    root.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("host file")
    os.symlink(outside, root / "etc")  # swapped in by a container process after the diff
    with pytest.raises(ArchiveError, match="symlink"):
        create_from_changes(str(root), [Change("/etc/secret", "C")], io.BytesIO())


def test_symlinks_in_the_source_are_archived_not_followed(tmp_path):
    root = tmp_path / "src"
    root.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("host file")
    os.symlink(outside, root / "lib")
    assert [(m.name, m.type) for m in members(archive(root))] == [("lib", tarfile.SYMTYPE)]


def test_trees_deeper_than_the_recursion_limit_round_trip(deep_tmp):
    tmp_path = deep_tmp
    root = tmp_path / "src"
    root.mkdir()
    make_deep(root, "d", 1200)
    build_tar_member = os.path.join(*(["d"] * 1200), "f")
    extract(io.BytesIO(tar_of({build_tar_member: b"deep"})), str(root))
    dest = tmp_path / "dest"
    dest.mkdir()
    extract(io.BytesIO(archive(root)), str(dest))
    names = [m.name for m in members(archive(dest))]
    assert len(names) == 1201
    assert names[-1] == build_tar_member


def test_invalid_whiteout_mode(src):
    with pytest.raises(ValueError):
        create(str(src), io.BytesIO(), whiteouts="aufs")
