"""archive.safepath's makers (make_dirs, make_file, make_symlink): what the daemon creates inside an
untrusted image (create's placeholders, volume mount points, ADD targets) lands inside the root,
whatever symlinks the image has on the way."""

from __future__ import annotations

import os
import stat

import pytest

from lxc_docker.archive import safepath


@pytest.fixture
def tree(tmp_path):
    """`root` whose /etc and /dev are absolute symlinks to `outside` (the host's directory)."""
    root = tmp_path / "root"
    outside = tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    os.symlink(str(outside), root / "etc")
    os.symlink(str(outside / "dev"), root / "dev")
    return root, outside


def inside(root, outside) -> str:
    return str(root) + str(outside)  # where an absolute link to `outside` leads inside the root


def test_make_dirs_follows_links_inside_the_root(tree):
    root, outside = tree
    fd, made = safepath.make_dirs(str(root), "/dev/pts", 0o750)
    try:
        assert made
        assert os.readlink(f"/proc/self/fd/{fd}") == inside(root, outside) + "/dev/pts"
        assert stat.S_IMODE(os.fstat(fd).st_mode) == 0o750  # exactly, whatever the umask
    finally:
        os.close(fd)
    assert os.listdir(outside) == []
    fd, made = safepath.make_dirs(str(root), "/dev/pts")
    os.close(fd)
    assert not made


def test_make_dirs_refuses_a_file_on_the_way(tree):
    root, outside = tree
    (root / "file").write_text("x")
    for path in ("/file", "/file/sub"):
        with pytest.raises(NotADirectoryError):
            safepath.make_dirs(str(root), path)


def test_make_file_and_symlink_land_inside(tree):
    root, outside = tree
    assert safepath.make_file(str(root), "/etc/hosts")
    assert not safepath.make_file(str(root), "/etc/hosts")  # there already: left alone
    assert safepath.make_symlink(str(root), "/etc/mtab", "/proc/mounts")
    assert not safepath.make_symlink(str(root), "/etc/mtab", "/proc/mounts")
    assert sorted(os.listdir(inside(root, outside))) == ["hosts", "mtab"]
    assert os.listdir(outside) == []


def test_make_file_through_a_dangling_final_link_stays_inside(tree):
    root, outside = tree
    os.mkdir(root / "d")
    os.symlink(str(outside / "planted"), root / "d" / "hostname")
    assert safepath.make_file(str(root), "/d/hostname")
    assert not os.path.exists(outside / "planted")
    assert os.path.isfile(inside(root, outside) + "/planted")


def test_make_file_never_opens_what_is_there(tree):
    root, _ = tree
    os.mkdir(root / "d")
    os.mkfifo(root / "d" / "fifo")  # opening it would block
    assert not safepath.make_file(str(root), "/d/fifo")
    os.mkdir(root / "d" / "dir")
    assert not safepath.make_file(str(root), "/d/dir")
