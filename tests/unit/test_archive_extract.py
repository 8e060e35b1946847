"""Extraction of layer tarballs: round trips, whiteout modes, metadata, overwrite rules."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import pathlib
import shutil
import stat
import subprocess
import tarfile
import tempfile

import pytest

from lib.require import require
from lib.tarballs import MTIME, build, entry
from lxc_docker.archive import extract as archive_extract
from lxc_docker.archive.create import create
from lxc_docker.archive.extract import extract
from lxc_docker.errors import ArchiveError

ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not ROOT, reason="needs root (chown, mknod, trusted.* xattrs)")


@pytest.fixture
def deep_tmp(tmp_path):
    """tmp_path, emptied with rm(1) afterwards: pytest's own cleanup recurses once per level."""
    yield tmp_path
    subprocess.run(["rm", "-rf", "--", *map(str, tmp_path.iterdir())], check=True)


# Debian's interpreter, the one the daemon runs on, readable by an unprivileged user.
SYSTEM_PYTHON = "/usr/bin/python3"


def unpack(data: bytes, dest, **kwargs) -> int:
    return extract(io.BytesIO(data), str(dest), **kwargs)


def snapshot(top) -> dict:
    """Everything observable about a tree: type, mode, owner, size, mtime, content, link target."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(top):
        for name in [".", *dirnames, *filenames]:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            rel = os.path.relpath(path, top)
            if name == "." and dirpath != str(top):
                continue
            extra = None
            if stat.S_ISREG(st.st_mode):
                with open(path, "rb") as f:
                    extra = f.read()
            elif stat.S_ISLNK(st.st_mode):
                extra = os.readlink(path)
            elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
                extra = st.st_rdev
            mtime = None if stat.S_ISDIR(st.st_mode) and rel == "." else st.st_mtime_ns // 10**9
            out[rel] = (st.st_mode, st.st_uid, st.st_gid, mtime, extra)
    return out


@pytest.fixture
def dest(tmp_path):
    path = tmp_path / "dest"
    path.mkdir()
    return path


def make_tree(src) -> None:
    (src / "bin").mkdir()
    (src / "bin" / "sh").write_bytes(b"\x7fELF" + bytes(3000))
    os.chmod(src / "bin" / "sh", 0o4755)
    (src / "etc" / "ssl").mkdir(parents=True)
    (src / "etc" / "passwd").write_text("root:x:0:0::/root:/bin/sh\n")
    os.chmod(src / "etc" / "passwd", 0o600)
    os.symlink("/usr/share/zoneinfo/UTC", src / "etc" / "localtime")
    os.symlink("../bin/sh", src / "etc" / "relative")
    os.link(src / "bin" / "sh", src / "etc" / "ssl" / "hardlinked-sh")
    os.mkfifo(src / "etc" / "fifo", 0o640)
    (src / "tmp").mkdir()
    os.chmod(src / "tmp", 0o1777)
    (src / "ro").mkdir()
    (src / "ro" / "inside").write_bytes(b"x")
    (src / "big").write_bytes(os.urandom(3 << 20) + b"tail")
    (src / ("long-" + "n" * 150)).mkdir()
    (src / ("long-" + "n" * 150) / ("file-" + "m" * 120)).write_bytes(b"deep")
    os.chmod(src / "ro", 0o555)
    for path in sorted(src.rglob("*"), reverse=True):
        os.utime(path, ns=(MTIME * 10**9, MTIME * 10**9), follow_symlinks=False)


def test_round_trip_preserves_content_and_metadata(tmp_path, dest):
    src = tmp_path / "src"
    src.mkdir()
    make_tree(src)
    out = io.BytesIO()
    create(str(src), out)
    size = unpack(out.getvalue(), dest)
    got, want = snapshot(dest), snapshot(src)
    assert got == want
    assert (
        size == sum(os.lstat(p).st_size for p in src.rglob("*") if p.is_file() and not p.is_symlink()) - 3004
    )
    assert os.lstat(dest / "bin" / "sh").st_ino == os.lstat(dest / "etc" / "ssl" / "hardlinked-sh").st_ino


@pytest.mark.parametrize("compress", [gzip.compress, bz2.compress, lzma.compress, lambda d: d])
def test_compression_is_detected_by_content(dest, compress):
    data = build(entry("hello.txt", data=b"hello"), entry("dir/", tarfile.DIRTYPE, mode=0o755))
    assert unpack(compress(data), dest) == 5
    assert (dest / "hello.txt").read_bytes() == b"hello"
    assert (dest / "dir").is_dir()


def test_gnu_and_ustar_formats(dest):
    long_name = "d/" + "x" * 200
    for fmt in (tarfile.GNU_FORMAT, tarfile.PAX_FORMAT):
        data = build(entry(long_name, data=b"long"), entry("l", tarfile.SYMTYPE, linkname="t" * 300), fmt=fmt)
        unpack(data, dest)
        assert (dest / long_name).read_bytes() == b"long"
        assert os.readlink(dest / "l") == "t" * 300
    unpack(build(entry("short", data=b"s"), fmt=tarfile.USTAR_FORMAT), dest)
    assert (dest / "short").read_bytes() == b"s"


def test_member_content_across_many_small_reads(dest):
    """Headers and content split at every possible offset by a stream returning 5 bytes a read."""

    class Trickle(io.RawIOBase):
        def __init__(self, data):
            self.data, self.pos = data, 0

        def readable(self):
            return True

        def readinto(self, buf):
            n = min(len(buf), 5, len(self.data) - self.pos)
            buf[:n] = self.data[self.pos : self.pos + n]
            self.pos += n
            return n

    blobs = [os.urandom(n) for n in (0, 1, 511, 512, 513, 5000)]
    data = build(*(entry(f"f{i}", data=b) for i, b in enumerate(blobs)))
    extract(Trickle(gzip.compress(data)), str(dest))
    for i, blob in enumerate(blobs):
        assert (dest / f"f{i}").read_bytes() == blob


def test_many_files_go_through_the_writer_threads_and_keep_their_metadata(dest, monkeypatch):
    jobs = []

    class CountingPool(archive_extract.Pool):
        def submit(self, job):
            jobs.append(job)
            super().submit(job)

    monkeypatch.setattr(archive_extract, "Pool", CountingPool)
    monkeypatch.setattr(archive_extract, "WRITER_THREADS", 2)
    monkeypatch.setattr(archive_extract, "POOL_AFTER_FILES", 4)
    monkeypatch.setattr(archive_extract, "POOL_SLOW_CREATE", 0)  # as if the disk were slow
    entries = [entry("d/", tarfile.DIRTYPE, mode=0o750, mtime=MTIME - 100)]
    for i in range(300):
        entries.append(entry(f"d/f{i}", data=b"%d" % i * (i % 50), mode=0o600 + (i % 2) * 0o100))
    entries.append(entry("d/f7", data=b"replaced"))  # the same path again: must come out last
    entries.append(entry("d/h", tarfile.LNKTYPE, linkname="d/f299"))
    size = unpack(build(*entries), dest)
    assert size == sum(len(b"%d" % i * (i % 50)) for i in range(300)) + 8
    for i in range(300):
        path = dest / "d" / f"f{i}"
        if i != 7:
            assert path.read_bytes() == b"%d" % i * (i % 50)
        st = os.stat(path)
        assert st.st_mtime == MTIME
        assert stat.S_IMODE(st.st_mode) == (0o644 if i == 7 else 0o600 + (i % 2) * 0o100)
    assert (dest / "d" / "f7").read_bytes() == b"replaced"
    assert os.stat(dest / "d" / "h").st_ino == os.stat(dest / "d" / "f299").st_ino
    assert os.stat(dest / "d").st_mtime == MTIME - 100  # set after all the files were written
    assert stat.S_IMODE(os.stat(dest / "d").st_mode) == 0o750
    assert len(jobs) > 250


def test_fast_disks_do_not_start_threads(dest, monkeypatch):
    monkeypatch.setattr(archive_extract, "POOL_SLOW_CREATE", 3600)
    monkeypatch.setattr(archive_extract, "Pool", None)  # would fail if used
    unpack(build(*(entry(f"f{i}", data=b"x") for i in range(200))), dest)
    assert len(os.listdir(dest)) == 200


def test_directory_mtime_is_set_after_its_content(dest):
    unpack(build(entry("a/", tarfile.DIRTYPE, mtime=1000), entry("a/f", data=b"x", mtime=2000)), dest)
    assert os.stat(dest / "a").st_mtime == 1000
    assert os.stat(dest / "a" / "f").st_mtime == 2000


def test_symlink_times_are_its_own(dest, tmp_path):
    target = tmp_path / "target"
    target.write_text("t")
    before = os.stat(target).st_mtime_ns
    unpack(build(entry("l", tarfile.SYMTYPE, linkname=str(target), mtime=1234)), dest)
    assert os.lstat(dest / "l").st_mtime == 1234
    assert os.stat(target).st_mtime_ns == before


def test_pax_times_with_nanoseconds_and_atime(dest):
    info, data = entry("f", data=b"x")
    info.pax_headers = {"mtime": "1500000000.123456789", "atime": "1400000000.5"}
    unpack(build((info, data)), dest)
    st = os.stat(dest / "f")
    assert st.st_mtime_ns == 1_500_000_000_123_456_789
    assert st.st_atime_ns == 1_400_000_000_500_000_000


def test_special_mode_bits(dest):
    unpack(
        build(
            entry("suid", data=b"x", mode=0o4755),
            entry("sgid", data=b"x", mode=0o2711),
            entry("sticky/", tarfile.DIRTYPE, mode=0o1777),
            entry("world", data=b"x", mode=0o666),
        ),
        dest,
    )
    assert stat.S_IMODE(os.stat(dest / "suid").st_mode) == 0o4755
    assert stat.S_IMODE(os.stat(dest / "sgid").st_mode) == 0o2711
    assert stat.S_IMODE(os.stat(dest / "sticky").st_mode) == 0o1777
    assert stat.S_IMODE(os.stat(dest / "world").st_mode) == 0o666  # despite the umask


def test_read_only_directory_is_filled_then_made_read_only(dest):
    unpack(build(entry("ro/", tarfile.DIRTYPE, mode=0o555), entry("ro/f", data=b"x")), dest)
    assert (dest / "ro" / "f").read_bytes() == b"x"
    assert stat.S_IMODE(os.stat(dest / "ro").st_mode) == 0o555


def test_missing_parents_are_created(dest):
    unpack(build(entry("a/b/c/file", data=b"deep")), dest)
    assert (dest / "a" / "b" / "c" / "file").read_bytes() == b"deep"
    assert stat.S_IMODE(os.stat(dest / "a").st_mode) == 0o755


def test_old_style_directory_with_trailing_slash(dest):
    unpack(build(entry("olddir/", tarfile.AREGTYPE)), dest)
    assert (dest / "olddir").is_dir()


def test_leading_dot_slash_and_root_entry(dest):
    os.chmod(dest, 0o755)
    unpack(build(entry("./", tarfile.DIRTYPE, mode=0o700, mtime=4242), entry("./a", data=b"a")), dest)
    assert (dest / "a").read_bytes() == b"a"
    st = os.stat(dest)
    assert stat.S_IMODE(st.st_mode) == 0o700
    assert st.st_mtime == 4242


def test_root_entry_that_is_not_a_directory_is_ignored(dest):
    unpack(build(entry(".", data=b"not a dir")), dest)
    assert dest.is_dir()
    assert list(dest.iterdir()) == []


def test_empty_stream_and_missing_end_blocks(dest):
    assert unpack(b"", dest) == 0
    data = build(entry("f", data=b"abc"))
    end = data.index(b"abc") + 512
    assert unpack(data[:end], dest) == 3  # no end-of-archive blocks: accepted, as Docker does
    assert (dest / "f").read_bytes() == b"abc"


def test_xattrs_from_pax_headers(dest):
    info, data = entry("f", data=b"x")
    info.pax_headers = {"SCHILY.xattr.user.comment": "hello"}
    unpack(build((info, data)), dest)
    try:
        assert os.getxattr(dest / "f", "user.comment") == b"hello"
    except OSError as exc:
        pytest.skip(f"no user xattrs here: {exc}")


@needs_root
def test_overlay_xattrs_in_an_archive_are_not_applied(dest):
    info, _ = entry("d/", tarfile.DIRTYPE)
    info.pax_headers = {"SCHILY.xattr.trusted.overlay.redirect": "/etc", "SCHILY.xattr.trusted.keep": "1"}
    unpack(build((info, b"")), dest)
    assert os.listxattr(dest / "d") == ["trusted.keep"]


@needs_root
def test_owners_and_devices(dest):
    unpack(
        build(
            entry("owned", data=b"x", uid=1234, gid=5678, mode=0o4750),
            entry("dir/", tarfile.DIRTYPE, uid=42, gid=43),
            entry("link", tarfile.SYMTYPE, linkname="/nowhere", uid=7, gid=8),
            entry("null", tarfile.CHRTYPE, mode=0o666, devmajor=1, devminor=3),
            entry("loop", tarfile.BLKTYPE, mode=0o660, devmajor=7, devminor=0, gid=6),
            entry("fifo", tarfile.FIFOTYPE, mode=0o600),
        ),
        dest,
    )
    st = os.stat(dest / "owned")
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (1234, 5678, 0o4750)
    st = os.stat(dest / "dir")
    assert (st.st_uid, st.st_gid) == (42, 43)
    st = os.lstat(dest / "link")
    assert (st.st_uid, st.st_gid) == (7, 8)
    st = os.stat(dest / "null")
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(1, 3) and stat.S_IMODE(st.st_mode) == 0o666
    st = os.stat(dest / "loop")
    assert stat.S_ISBLK(st.st_mode) and st.st_rdev == os.makedev(7, 0) and st.st_gid == 6
    assert stat.S_ISFIFO(os.stat(dest / "fifo").st_mode)


@needs_root
def test_same_owner_false_keeps_our_ids(dest):
    unpack(build(entry("f", data=b"x", uid=1234, gid=5678)), dest, same_owner=False)
    st = os.stat(dest / "f")
    assert (st.st_uid, st.st_gid) == (0, 0)


@needs_root
def test_unprivileged_extraction_skips_devices_and_keeps_own_ids():
    """The same code run as nobody: no mknod, no chown to others, fifos and files still made."""
    require(os.path.exists(SYSTEM_PYTHON), f"needs {SYSTEM_PYTHON}")
    data = build(
        entry("null", tarfile.CHRTYPE, devmajor=1, devminor=3),
        entry("fifo", tarfile.FIFOTYPE),
        entry("f", data=b"x", uid=1234, gid=5678),
        entry("ro/", tarfile.DIRTYPE, mode=0o555),
        entry("ro/inside", data=b"y"),
    )
    # Not under tmp_path: pytest makes that readable by root only.
    work = pathlib.Path(tempfile.mkdtemp(prefix="archive-nobody-"))
    os.chmod(work, 0o755)
    (work / "layer.tar").write_bytes(data)
    (work / "dest").mkdir()
    os.chown(work / "dest", 65534, 65534)
    try:
        result = run_as_nobody(work)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "2"
        assert not os.path.lexists(work / "dest" / "null")
        assert stat.S_ISFIFO(os.lstat(work / "dest" / "fifo").st_mode)
        assert os.stat(work / "dest" / "f").st_uid == 65534
        assert (work / "dest" / "ro" / "inside").read_bytes() == b"y"
        assert stat.S_IMODE(os.stat(work / "dest" / "ro").st_mode) == 0o555
    finally:
        shutil.rmtree(work)


def run_as_nobody(work: pathlib.Path) -> subprocess.CompletedProcess:
    code = (
        "import sys; from lxc_docker.archive.extract import extract; "
        "print(extract(open(sys.argv[1], 'rb'), sys.argv[2]))"
    )
    app = os.path.dirname(os.path.dirname(os.path.dirname(archive_extract.__file__)))
    return subprocess.run(
        [SYSTEM_PYTHON, "-c", code, str(work / "layer.tar"), str(work / "dest")],
        user=65534,
        group=65534,
        extra_groups=[],
        env={"PYTHONPATH": app, "PATH": os.environ.get("PATH", "")},
        capture_output=True,
        text=True,
    )


# Overwrite rules.


def test_file_replaces_file_without_touching_its_other_hard_links(dest):
    (dest / "f").write_text("old")
    os.link(dest / "f", dest / "other-name")
    unpack(build(entry("f", data=b"new")), dest)
    assert (dest / "f").read_text() == "new"
    assert (dest / "other-name").read_text() == "old"


def test_file_replaces_symlink_not_its_target(dest, tmp_path):
    target = tmp_path / "target"
    target.write_text("keep")
    os.symlink(target, dest / "f")
    unpack(build(entry("f", data=b"new")), dest)
    assert not os.path.islink(dest / "f")
    assert (dest / "f").read_text() == "new"
    assert target.read_text() == "keep"


def test_directory_over_directory_merges_and_takes_metadata(dest):
    (dest / "d").mkdir(mode=0o700)
    (dest / "d" / "lower").write_text("lower")
    unpack(build(entry("d/", tarfile.DIRTYPE, mode=0o751, mtime=777), entry("d/upper", data=b"up")), dest)
    assert sorted(os.listdir(dest / "d")) == ["lower", "upper"]
    st = os.stat(dest / "d")
    assert stat.S_IMODE(st.st_mode) == 0o751
    assert st.st_mtime == 777


@pytest.mark.parametrize(
    "replacement",
    [
        entry("d", data=b"file"),
        entry("d", tarfile.SYMTYPE, linkname="elsewhere"),
        entry("d", tarfile.FIFOTYPE),
    ],
)
def test_non_directory_over_directory_removes_the_directory(dest, replacement):
    (dest / "d" / "sub").mkdir(parents=True)
    (dest / "d" / "sub" / "f").write_text("x")
    unpack(build(replacement), dest)
    assert not os.path.isdir(dest / "d") or os.path.islink(dest / "d")
    assert os.path.lexists(dest / "d")


def test_directory_over_file_and_symlink(dest):
    (dest / "was-file").write_text("x")
    os.symlink("/", dest / "was-link")
    unpack(build(entry("was-file/", tarfile.DIRTYPE), entry("was-link/", tarfile.DIRTYPE)), dest)
    assert (dest / "was-file").is_dir()
    assert (dest / "was-link").is_dir() and not (dest / "was-link").is_symlink()


def test_directory_cached_then_replaced_then_recreated(dest):
    unpack(
        build(
            entry("d/f1", data=b"1"),
            entry("d", data=b"now a file"),
            entry("e/f2", data=b"2"),
            entry("d", tarfile.DIRTYPE),
            entry("d/f3", data=b"3"),
        ),
        dest,
    )
    assert os.listdir(dest / "d") == ["f3"]
    assert (dest / "e" / "f2").read_bytes() == b"2"


def test_tree_deeper_than_the_recursion_limit_is_replaced_and_whited_out(dest, deep_tmp):
    for top in ("a", "b"):  # shutil.rmtree recurses once per level: too deep for it
        fd = os.open(dest, os.O_RDONLY)
        for _ in range(1200):
            os.mkdir(top, dir_fd=fd)
            sub = os.open(top, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = sub
        os.close(fd)
    unpack(build(entry("a", data=b"file now"), entry(".wh.b")), dest)
    assert os.listdir(dest) == ["a"]
    assert (dest / "a").read_bytes() == b"file now"


def test_hard_link_to_a_file_of_the_lower_tree(dest):
    (dest / "lower").write_text("from parent layer")
    unpack(build(entry("upper", tarfile.LNKTYPE, linkname="lower")), dest)
    assert os.stat(dest / "upper").st_ino == os.stat(dest / "lower").st_ino


def test_hard_link_replaces_an_existing_entry(dest):
    (dest / "a").write_text("a")
    (dest / "b").write_text("b")
    unpack(build(entry("b", tarfile.LNKTYPE, linkname="a"), entry("a", tarfile.LNKTYPE, linkname="a")), dest)
    assert os.stat(dest / "b").st_ino == os.stat(dest / "a").st_ino
    assert (dest / "a").read_text() == "a"


# Whiteouts.


def lower_tree(dest) -> None:
    (dest / "etc" / "conf.d").mkdir(parents=True)
    (dest / "etc" / "conf.d" / "a.conf").write_text("a")
    (dest / "etc" / "conf.d" / "b.conf").write_text("b")
    (dest / "etc" / "hosts").write_text("h")
    (dest / "var" / "cache" / "deep").mkdir(parents=True)
    (dest / "var" / "cache" / "deep" / "f").write_text("f")
    (dest / "var" / "keep").write_text("k")


def test_apply_whiteouts_delete_files_and_trees(dest):
    lower_tree(dest)
    unpack(
        build(
            entry("etc/.wh.hosts"),
            entry("var/.wh.cache"),
            entry(".wh.not-there"),
            entry("nowhere/.wh.x"),
        ),
        dest,
        whiteouts="apply",
    )
    assert not os.path.lexists(dest / "etc" / "hosts")
    assert not os.path.lexists(dest / "var" / "cache")
    assert (dest / "var" / "keep").exists()
    assert not os.path.lexists(dest / ".wh.not-there")
    assert not os.path.lexists(dest / "nowhere")


def test_apply_whiteout_of_something_cached_as_a_directory(dest):
    lower_tree(dest)
    unpack(
        build(
            entry("var/cache/deep/new", data=b"n"),
            entry("var/.wh.cache"),
            entry("var/cache/again", data=b"a"),
        ),
        dest,
    )
    assert os.listdir(dest / "var" / "cache") == ["again"]


def test_apply_opaque_directory_hides_lower_content_only(dest):
    lower_tree(dest)
    unpack(
        build(
            entry("etc/conf.d/early", data=b"extracted before the marker"),
            entry("etc/conf.d/", tarfile.DIRTYPE),
            entry("etc/conf.d/.wh..wh..opq"),
            entry("etc/conf.d/new.conf", data=b"new"),
        ),
        dest,
    )
    assert sorted(os.listdir(dest / "etc" / "conf.d")) == ["early", "new.conf"]
    assert (dest / "etc" / "hosts").exists()


def test_apply_opaque_recurses_into_directories_of_this_layer(dest):
    lower_tree(dest)
    unpack(build(entry("var/cache/deep/mine", data=b"m"), entry("var/.wh..wh..opq")), dest)
    # var/cache and var/cache/deep were not in the archive but lead to what was: kept.
    assert os.listdir(dest / "var") == ["cache"]
    assert os.listdir(dest / "var" / "cache") == ["deep"]
    assert os.listdir(dest / "var" / "cache" / "deep") == ["mine"]


def test_aufs_metadata_is_skipped(dest):
    unpack(build(entry(".wh..wh.plnk/", tarfile.DIRTYPE), entry(".wh..wh.aufs", data=b"x")), dest)
    assert list(dest.iterdir()) == []


def test_keep_whiteouts_extracts_them_as_files(dest):
    unpack(build(entry("etc/.wh.hosts"), entry("etc/.wh..wh..opq")), dest, whiteouts="keep")
    assert sorted(os.listdir(dest / "etc")) == [".wh..wh..opq", ".wh.hosts"]


@needs_root
def test_overlay_whiteouts_become_overlayfs_markers(dest):
    unpack(
        build(
            entry("etc/", tarfile.DIRTYPE),
            entry("etc/.wh.hosts"),
            entry("opaque/", tarfile.DIRTYPE),
            entry("opaque/.wh..wh..opq"),
            entry("opaque/new", data=b"n"),
            entry("implicit/.wh..wh..opq"),
        ),
        dest,
        whiteouts="overlay",
    )
    st = os.lstat(dest / "etc" / "hosts")
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == 0
    assert os.getxattr(dest / "opaque", "trusted.overlay.opaque") == b"y"
    assert os.getxattr(dest / "implicit", "trusted.overlay.opaque") == b"y"
    assert os.listdir(dest / "opaque") == ["new"]
    assert not os.path.lexists(dest / "etc" / ".wh.hosts")


def test_invalid_whiteout_mode_is_a_programming_error(dest):
    with pytest.raises(ValueError):
        unpack(build(entry("f")), dest, whiteouts="aufs")


def test_unsupported_entry_type_is_rejected(dest):
    with pytest.raises(ArchiveError, match="sparse"):
        info, data = entry("sparse")
        info.pax_headers = {"GNU.sparse.major": "1"}
        unpack(build((info, data)), dest)


def test_host_safe_drops_devices_special_bits_and_xattrs(dest):
    skipped = []
    data = build(
        entry("sudo", data=b"#!/bin/sh\n", mode=0o4755),
        entry("dir/", tarfile.DIRTYPE, mode=0o3777),
        entry("null", tarfile.CHRTYPE, devmajor=1, devminor=3),
        entry("cap", data=b"x", pax_headers={"SCHILY.xattr.user.note": "hi"}),
    )
    unpack(data, dest, whiteouts="keep", host_safe=True, skipped=skipped.append)
    assert stat.S_IMODE(os.stat(dest / "sudo").st_mode) == 0o755
    assert stat.S_IMODE(os.stat(dest / "dir").st_mode) == 0o777
    assert not os.path.lexists(dest / "null") and skipped == [b"null"]
    assert os.listxattr(dest / "cap") == []


def test_extract_into_an_open_directory_descriptor(dest):
    fd = os.open(dest, os.O_RDONLY | os.O_DIRECTORY)
    try:
        extract(io.BytesIO(build(entry("a/b", data=b"b"))), fd)
        os.fstat(fd)  # still the caller's, still open
    finally:
        os.close(fd)
    assert (dest / "a" / "b").read_bytes() == b"b"
