"""Crafted malicious layers: nothing may be written, linked, chmod-ed or deleted outside dest.

Each test extracts into tmp/dest next to a sentinel directory tmp/outside, and checks afterwards
that the sentinel (its entries, their content and metadata) is exactly as it was.
"""

from __future__ import annotations

import gzip
import io
import os
import stat
import tarfile

import pytest

from lib import tarballs
from lib.tarballs import build
from lxc_docker.archive import extract as archive_extract
from lxc_docker.archive.extract import extract
from lxc_docker.errors import ArchiveError

ROOT = os.geteuid() == 0


def entry(name, kind=tarfile.REGTYPE, data=b"", mode=0o644, **fields):
    fields.setdefault("mtime", 1_000_000_000)
    return tarballs.entry(name, kind, data, mode, **fields)


def state(top) -> dict:
    out = {}
    for dirpath, dirnames, filenames in os.walk(top):
        for name in [".", *dirnames, *filenames]:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            content = None
            if stat.S_ISREG(st.st_mode):
                with open(path, "rb") as f:
                    content = f.read()
            out[os.path.relpath(path, top)] = (st.st_mode, st.st_uid, st.st_gid, st.st_mtime_ns, content)
    return out


@pytest.fixture
def box(tmp_path):
    """(dest, outside): extract into dest; outside must never change."""
    dest = tmp_path / "dest"
    dest.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("do not touch")
    os.chmod(outside / "secret", 0o600)
    (outside / "sub").mkdir()
    (outside / "sub" / "file").write_text("nested")
    os.utime(outside / "secret", ns=(10**18, 10**18))
    before = state(outside)
    top_before = sorted(os.listdir(tmp_path))
    yield dest, outside
    assert state(outside) == before, "something outside dest changed"
    assert sorted(os.listdir(tmp_path)) == top_before, "something appeared next to dest"


def rejected(data: bytes, dest, match: str, **kwargs) -> ArchiveError:
    with pytest.raises(ArchiveError, match=match) as info:
        extract(io.BytesIO(data), str(dest), **kwargs)
    return info.value


@pytest.fixture(params=["sync", "threads"])
def mode(request, monkeypatch):
    """Run a case both with every file created inline and with the writer threads busy."""
    if request.param == "threads":
        monkeypatch.setattr(archive_extract, "WRITER_THREADS", 2)
        monkeypatch.setattr(archive_extract, "POOL_AFTER_FILES", 1)
        monkeypatch.setattr(archive_extract, "POOL_SLOW_CREATE", 0)
    return request.param


def padding() -> list:
    return [entry(f"pad/f{i}", data=b"x" * i) for i in range(40)]


def test_absolute_names_are_made_relative(box):
    dest, outside = box
    extract(io.BytesIO(build(entry(str(outside / "pwned"), data=b"evil"))), str(dest))
    assert not (outside / "pwned").exists()
    assert (dest / str(outside / "pwned").lstrip("/")).read_bytes() == b"evil"


@pytest.mark.parametrize(
    "name", ["../outside/pwned", "a/../../outside/pwned", "..", "./../x", "a/b/../../../x"]
)
def test_dotdot_escape_is_rejected(box, name, mode):
    dest, _ = box
    err = rejected(build(*padding(), entry(name, data=b"evil")), dest, "escapes the destination")
    assert name.rstrip("/") in str(err)


def test_dotdot_that_stays_inside_is_fine(box):
    dest, _ = box
    extract(io.BytesIO(build(entry("a/../b", data=b"ok"))), str(dest))
    assert (dest / "b").read_bytes() == b"ok"


@pytest.mark.parametrize("fmt", [tarfile.GNU_FORMAT, tarfile.PAX_FORMAT])
def test_long_name_escape_is_rejected(box, fmt):
    dest, _ = box
    name = "../" + "x" * 150
    rejected(build(entry(name, data=b"evil"), fmt=fmt), dest, "escapes the destination")


@pytest.mark.parametrize("target_style", ["absolute", "relative"])
def test_write_through_symlink_from_the_same_archive_is_rejected(box, target_style, mode):
    dest, outside = box
    target = str(outside) if target_style == "absolute" else "../outside"
    data = build(
        *padding(), entry("link", tarfile.SYMTYPE, linkname=target), entry("link/pwned", data=b"evil")
    )
    err = rejected(data, dest, "is a symlink")
    assert "link/pwned" in str(err)


def test_directory_through_symlink_is_rejected(box):
    dest, outside = box
    data = build(
        entry("link", tarfile.SYMTYPE, linkname=str(outside)), entry("link/sub/deeper/", tarfile.DIRTYPE)
    )
    rejected(data, dest, "is a symlink")


def test_deep_symlink_component_is_rejected(box, mode):
    dest, outside = box
    data = build(
        *padding(),
        entry("a/b/", tarfile.DIRTYPE),
        entry("a/b/c", tarfile.SYMTYPE, linkname=str(outside)),
        entry("a/b/c/sub/pwned", data=b"evil"),
    )
    rejected(data, dest, "a/b/c is a symlink")


def test_write_through_symlink_already_in_dest_is_rejected(box, mode):
    dest, outside = box
    os.symlink(outside, dest / "lib")  # e.g. from the parent layer's copy (vfs)
    rejected(build(*padding(), entry("lib/pwned", data=b"evil")), dest, "parent lib is a symlink")
    rejected(build(entry("lib/sub/", tarfile.DIRTYPE)), dest, "is a symlink")
    rejected(build(entry("lib/secret", tarfile.SYMTYPE, linkname="/")), dest, "is a symlink")
    rejected(build(entry("lib/fifo", tarfile.FIFOTYPE)), dest, "is a symlink")


def test_relative_symlink_to_dotdot_in_dest_is_rejected(box):
    dest, _ = box
    os.symlink("..", dest / "up")
    rejected(build(entry("up/outside/pwned", data=b"evil")), dest, "is a symlink")


def test_symlink_entry_may_point_anywhere_and_is_not_followed(box):
    dest, outside = box
    data = build(
        entry("etc/localtime", tarfile.SYMTYPE, linkname="/usr/share/zoneinfo/UTC"),
        entry("escape", tarfile.SYMTYPE, linkname=str(outside / "secret")),
        entry("escape", data=b"replaces the link, not its target"),
    )
    extract(io.BytesIO(data), str(dest))
    assert os.readlink(dest / "etc" / "localtime") == "/usr/share/zoneinfo/UTC"
    assert (dest / "escape").read_bytes() == b"replaces the link, not its target"


def test_directory_entry_over_symlink_does_not_chmod_its_target(box):
    dest, outside = box
    data = build(
        entry("d", tarfile.SYMTYPE, linkname=str(outside)),
        entry("d/", tarfile.DIRTYPE, mode=0o777, mtime=5),
    )
    extract(io.BytesIO(data), str(dest))
    assert (dest / "d").is_dir() and not (dest / "d").is_symlink()


def test_directory_later_replaced_by_symlink_gets_no_deferred_metadata(box):
    dest, outside = box
    data = build(
        entry("d/", tarfile.DIRTYPE, mode=0o777),
        entry("d", tarfile.SYMTYPE, linkname=str(outside)),
    )
    extract(io.BytesIO(data), str(dest))
    assert os.readlink(dest / "d") == str(outside)


def test_root_symlink_entry_does_not_replace_dest(box):
    dest, outside = box
    extract(io.BytesIO(build(entry(".", tarfile.SYMTYPE, linkname=str(outside)))), str(dest))
    assert dest.is_dir() and not dest.is_symlink()


def test_root_entry_updates_only_dest_metadata(box):
    dest, _ = box
    extract(io.BytesIO(build(entry("/", tarfile.DIRTYPE, mode=0o711))), str(dest))
    assert stat.S_IMODE(os.stat(dest).st_mode) == 0o711


@pytest.mark.parametrize("linkname", ["../outside/secret", "a/../../outside/secret"])
def test_hard_link_outside_is_rejected(box, linkname, mode):
    dest, _ = box
    rejected(
        build(*padding(), entry("x", tarfile.LNKTYPE, linkname=linkname)), dest, "escapes the destination"
    )


def test_absolute_hard_link_target_is_resolved_inside_dest(box):
    dest, outside = box
    data = build(entry("x", tarfile.LNKTYPE, linkname=str(outside / "secret")))
    rejected(data, dest, "not found")
    assert not os.path.lexists(dest / "x")


def test_hard_link_through_symlink_is_rejected(box, mode):
    dest, outside = box
    data = build(
        *padding(),
        entry("link", tarfile.SYMTYPE, linkname=str(outside)),
        entry("x", tarfile.LNKTYPE, linkname="link/secret"),
    )
    rejected(data, dest, "link is a symlink")


def test_hard_link_to_symlink_links_the_symlink_itself(box):
    dest, outside = box
    data = build(
        entry("link", tarfile.SYMTYPE, linkname=str(outside / "secret")),
        entry("hard", tarfile.LNKTYPE, linkname="link"),
    )
    extract(io.BytesIO(data), str(dest))
    assert os.path.islink(dest / "hard")
    assert os.lstat(dest / "hard").st_ino == os.lstat(dest / "link").st_ino


def test_hard_link_to_symlink_then_write_through_it_is_rejected(box, mode):
    dest, outside = box
    data = build(
        *padding(),
        entry("link", tarfile.SYMTYPE, linkname=str(outside)),
        entry("hard", tarfile.LNKTYPE, linkname="link"),
        entry("hard/pwned", data=b"evil"),
    )
    rejected(data, dest, "hard is a symlink")


def test_hard_link_to_symlink_then_file_replaces_the_link(box):
    dest, outside = box
    data = build(
        entry("link", tarfile.SYMTYPE, linkname=str(outside / "secret")),
        entry("hard", tarfile.LNKTYPE, linkname="link"),
        entry("hard", data=b"new file"),
        entry("link", data=b"another"),
    )
    extract(io.BytesIO(data), str(dest))
    assert (dest / "hard").read_bytes() == b"new file"


def test_hard_link_to_a_directory_is_rejected(box):
    dest, _ = box
    data = build(entry("d/", tarfile.DIRTYPE), entry("x", tarfile.LNKTYPE, linkname="d"))
    rejected(data, dest, "x: ")


def test_hard_link_to_the_root_is_rejected(box):
    dest, _ = box
    rejected(build(entry("x", tarfile.LNKTYPE, linkname="/")), dest, "hard link to the destination")


@pytest.mark.parametrize("name", [".wh...", "a/.wh...", ".wh..", ".wh."])
def test_whiteout_escape_is_rejected(box, name, mode):
    dest, _ = box
    (dest / "a").mkdir()
    err = rejected(build(*padding(), entry(name)), dest, "invalid whiteout")
    assert name in str(err)


@pytest.mark.parametrize("whiteouts", ["apply", "overlay"])
def test_whiteout_through_symlink_is_rejected(box, whiteouts):
    dest, outside = box
    os.symlink(outside, dest / "pre")
    data = build(entry("link", tarfile.SYMTYPE, linkname=str(outside)), entry("link/.wh.secret"))
    rejected(data, dest, "is a symlink", whiteouts=whiteouts)
    rejected(build(entry("pre/.wh.secret")), dest, "is a symlink", whiteouts=whiteouts)
    rejected(build(entry("pre/sub/.wh.file")), dest, "is a symlink", whiteouts=whiteouts)


def test_whiteout_of_a_symlink_removes_the_link_not_its_target(box):
    dest, outside = box
    os.symlink(outside, dest / "to-dir")
    os.symlink(outside / "secret", dest / "to-file")
    extract(io.BytesIO(build(entry(".wh.to-dir"), entry(".wh.to-file"))), str(dest))
    assert os.listdir(dest) == []


def test_opaque_through_symlink_is_rejected(box):
    dest, outside = box
    os.symlink(outside, dest / "pre")
    rejected(build(entry("pre/.wh..wh..opq")), dest, "is a symlink")


def test_opaque_directory_with_symlinks_to_outside_removes_only_the_links(box):
    dest, outside = box
    (dest / "d").mkdir()
    os.symlink(outside, dest / "d" / "to-dir")
    extract(io.BytesIO(build(entry("d/.wh..wh..opq"))), str(dest))
    assert os.listdir(dest / "d") == []


def test_truncated_in_content(box):
    dest, _ = box
    data = build(entry("f", data=os.urandom(5000)))
    rejected(data[:2000], dest, "truncated")


def test_truncated_in_header(box):
    dest, _ = box
    data = build(entry("f", data=b"abc"), entry("g", data=b"def"))
    rejected(data[: 1024 + 100], dest, "truncated")


def test_truncated_after_extended_header(box):
    dest, _ = box
    data = build(entry("x" * 300, data=b"abc"), fmt=tarfile.GNU_FORMAT)
    rejected(data[:1024], dest, "end of archive")


def test_garbage_is_not_a_tar(box):
    dest, _ = box
    rejected(os.urandom(10_000), dest, "not a tar archive")
    rejected(b"hello world\n" * 100, dest, "not a tar archive")


def test_corrupt_gzip(box):
    dest, _ = box
    data = bytearray(gzip.compress(build(*(entry(f"f{i}", data=os.urandom(3000)) for i in range(20)))))
    data[len(data) // 2] ^= 0xFF
    data[len(data) // 2 + 1] ^= 0xFF
    rejected(bytes(data), dest, "corrupt gzip data")


def test_truncated_gzip(box):
    dest, _ = box
    data = gzip.compress(build(entry("f", data=os.urandom(100_000))))
    rejected(data[: len(data) - 100], dest, "corrupt gzip data|truncated")


def test_gzip_with_bad_crc_after_a_complete_tar(box):
    dest, _ = box
    data = bytearray(gzip.compress(build(entry("f", data=b"abc"))))
    data[-8] ^= 0xFF
    rejected(bytes(data), dest, "corrupt gzip data")


def test_huge_extended_header_is_rejected(box):
    dest, _ = box
    info, _ = entry("ignored")
    info.type = b"x"
    info.size = 1 << 40
    header = info.tobuf(tarfile.GNU_FORMAT)
    rejected(header + bytes(1024), dest, "too large")


def test_nul_in_pax_path_is_rejected(box):
    dest, _ = box
    info, data = entry("f", data=b"x")
    info.pax_headers = {"path": "a\0b"}
    rejected(build((info, data)), dest, "NUL")


def test_nul_in_symlink_target_is_rejected(box):
    dest, _ = box
    info, data = entry("l", tarfile.SYMTYPE)
    info.pax_headers = {"linkpath": "/etc\0/passwd"}
    rejected(build((info, data)), dest, "l: ")


def test_bad_checksum_is_rejected(box):
    dest, _ = box
    data = bytearray(build(entry("f", data=b"abc")))
    data[0] ^= 0x01
    rejected(bytes(data), dest, "checksum")


def test_parent_is_a_file(box):
    dest, _ = box
    rejected(build(entry("f", data=b"x"), entry("f/g", data=b"y")), dest, "parent f is not a directory")


@pytest.mark.skipif(not ROOT, reason="needs root to create device nodes")
def test_devices_are_created_only_where_asked(box):
    dest, _ = box
    extract(io.BytesIO(build(entry("dev/null", tarfile.CHRTYPE, devmajor=1, devminor=3))), str(dest))
    assert stat.S_ISCHR(os.lstat(dest / "dev" / "null").st_mode)
