"""archive.safepath's makers (make_dirs, make_file, make_symlink): what the daemon creates inside an
untrusted image (create's placeholders, volume mount points, ADD targets) lands inside the root,
whatever symlinks the image has on the way."""

from __future__ import annotations

import errno
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


def names_walked(top: str, on_enter=None, left: list[str] | None = None) -> list[str]:
    seen: list[str] = []
    left = [] if left is None else left

    def enter(fd: int, name: str, st: os.stat_result, parent: str) -> str | None:
        path = f"{parent}/{name}"
        seen.append(path)
        if on_enter is not None:
            on_enter(fd, name)
        return path

    fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
    try:
        safepath.walk_tree(fd, enter, "", left.append)
    finally:
        os.close(fd)
    return seen


def test_walk_tree_lists_every_entry_and_follows_no_link(tree):
    root, outside = tree
    (outside / "secret").write_text("host")
    (root / "a" / "b").mkdir(parents=True)
    (root / "a" / "b" / "f").write_text("x")
    os.symlink("/", root / "a" / "link")
    left: list[str] = []
    seen = names_walked(str(root), left=left)
    assert sorted(seen) == ["/a", "/a/b", "/a/b/f", "/a/link", "/dev", "/etc"]
    assert left == ["/a/b", "/a"]  # each directory left once its subtree is done


def test_walk_tree_does_not_descend_a_directory_swapped_for_a_link(tree):
    root, outside = tree
    (outside / "g").write_text("host")
    os.mkdir(root / "d")

    def swap(fd: int, name: str) -> None:
        if name == "d":  # after it was seen as a directory, before it is opened
            os.rename("d", "d.old", src_dir_fd=fd, dst_dir_fd=fd)
            os.symlink(str(outside), "d", dir_fd=fd)

    seen = names_walked(str(root), swap)
    assert "/d/g" not in seen and all("g" not in p.split("/") for p in seen)


def test_walk_tree_refuses_to_climb_out_of_a_moved_directory(tree):
    root, _ = tree
    (root / "d" / "sub").mkdir(parents=True)
    (root / "d" / "sub" / "x").write_text("x")
    (root / "elsewhere").mkdir()

    def move(fd: int, name: str) -> None:
        if name == "x":  # while the walk is inside d/sub, d moves below elsewhere/
            os.rename(root / "d", root / "elsewhere" / "d")

    with pytest.raises(OSError) as err:
        names_walked(str(root), move)
    assert err.value.errno == errno.ESTALE
