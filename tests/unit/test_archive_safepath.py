"""archive.safepath: paths under a hostile root resolve as in a chroot, and never leave it."""

from __future__ import annotations

import errno
import os

import pytest

from lxc_docker.archive import safepath


@pytest.fixture
def tree(tmp_path):
    """`root` (the hostile tree) beside `outside` (the host's files it must never reach)."""
    root = tmp_path / "root"
    outside = tmp_path / "outside"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "passwd").write_text("inside")
    outside.mkdir()
    (outside / "passwd").write_text("outside")
    return root, outside


def read(root, path) -> str:
    fd = safepath.open_file(str(root), path)
    with open(fd, "rb") as f:
        return f.read().decode()


def where(fd: int) -> str:
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    finally:
        os.close(fd)


def test_plain_paths(tree):
    root, _ = tree
    assert read(root, "/etc/passwd") == "inside"
    assert read(root, "etc//./passwd") == "inside"
    assert where(safepath.open_dir(str(root), "/")) == str(root)
    assert safepath.lstat(str(root), "/etc").st_ino == os.lstat(root / "etc").st_ino


def test_dotdot_never_climbs_above_the_root(tree):
    root, _ = tree
    assert read(root, "/../../../etc/passwd") == "inside"
    assert read(root, "etc/../../etc/passwd") == "inside"
    assert safepath.resolve_in_root(str(root), "/../../outside/passwd") == str(root / "outside" / "passwd")
    with pytest.raises(FileNotFoundError):
        safepath.open_file(str(root), "../outside/passwd")


def test_absolute_symlink_pointing_out_resolves_inside(tree):
    root, outside = tree
    (root / "abs").symlink_to(outside)  # /abs -> <host>/outside
    (outside / "etc").mkdir()
    (outside / "etc" / "passwd").write_text("host")
    (root / "etc" / "link").symlink_to("/etc/passwd")
    assert read(root, "/etc/link") == "inside"
    with pytest.raises(FileNotFoundError):
        read(root, "/abs/passwd")  # <root>/<host path of outside>/passwd: not there
    assert safepath.resolve_in_root(str(root), "/abs/passwd") == str(root) + str(outside) + "/passwd"


def test_relative_symlink_pointing_out_is_clamped_at_the_root(tree):
    root, outside = tree
    (root / "up").symlink_to("../../../../..")
    (root / "esc").symlink_to("../outside/passwd")
    assert read(root, "/up/etc/passwd") == "inside"
    assert where(safepath.open_dir(str(root), "/up")) == str(root)
    with pytest.raises(FileNotFoundError):
        read(root, "/esc")
    assert (outside / "passwd").read_text() == "outside"


def test_symlink_loops_raise_eloop(tree):
    root, _ = tree
    (root / "loop1").symlink_to("loop2")
    (root / "loop2").symlink_to("/loop1")
    (root / "self").symlink_to("self/x")
    for path in ("/loop1/x", "/loop1", "/self"):
        with pytest.raises(OSError) as info:
            safepath.open_dir(str(root), path)
        assert info.value.errno == errno.ELOOP
    with pytest.raises(OSError) as info:
        safepath.resolve_in_root(str(root), "/loop2/etc")
    assert info.value.errno == errno.ELOOP


def test_last_symlink_followed_or_not(tree):
    root, _ = tree
    (root / "etc" / "link").symlink_to("passwd")
    assert safepath.readlink(str(root), "/etc/link") == b"passwd"
    assert safepath.lstat(str(root), "/etc/link").st_size == len("passwd")
    assert safepath.lstat(str(root), "/etc/link", follow=True).st_size == len("inside")
    found = safepath.open_parent(str(root), "/etc/link")
    try:
        assert found.name == b"passwd" and where(os.dup(found.dir_fd)) == str(root / "etc")
    finally:
        os.close(found.dir_fd)


def test_a_file_in_the_middle_is_not_a_directory(tree):
    root, _ = tree
    with pytest.raises(NotADirectoryError):
        safepath.open_file(str(root), "/etc/passwd/x")
    with pytest.raises(NotADirectoryError):
        safepath.open_dir(str(root), "/etc/passwd")
    # resolve_in_root keeps such a path by name, for its caller to fail on.
    assert safepath.resolve_in_root(str(root), "/etc/passwd/x") == str(root / "etc" / "passwd" / "x")


def test_creating_parents_through_a_symlink_stays_inside(tree):
    root, outside = tree
    (root / "var").symlink_to(outside)  # absolute, to a host path
    (root / "rel").symlink_to("../outside")  # relative, climbing out
    (root / "dangling").symlink_to("/made/here")
    fd = safepath.open_dir(str(root), "/var/lib/data", create=True)
    assert where(fd) == str(root) + str(outside) + "/lib/data"
    assert where(safepath.open_dir(str(root), "/rel/x", create=True)) == str(root / "outside" / "x")
    fd = safepath.open_file(str(root), "/dangling/f", os.O_WRONLY | os.O_CREAT, create_parents=True)
    os.close(fd)
    assert (root / "made" / "here" / "f").is_file()
    assert sorted(os.listdir(outside)) == ["passwd"]


def test_open_file_never_opens_a_final_symlink_planted_outside(tree):
    root, outside = tree
    (root / "etc" / "shadow").symlink_to(outside / "passwd")
    # Resolved inside the root: <root>/<outside>/passwd does not exist, so nothing is opened...
    with pytest.raises(FileNotFoundError):
        safepath.open_file(str(root), "/etc/shadow", os.O_WRONLY)
    # ...and with O_CREAT it is made there, inside, not written through to the host.
    os.close(safepath.open_file(str(root), "/etc/shadow", os.O_WRONLY | os.O_CREAT, create_parents=True))
    assert (outside / "passwd").read_text() == "outside"
    assert os.path.isfile(str(root) + str(outside) + "/passwd")


def test_symlink_swapped_for_a_directory_between_calls(tree):
    root, outside = tree
    (root / "d").symlink_to(outside)
    fd = safepath.open_dir(str(root), "/d", create=True)  # through the link, inside the root
    assert where(fd) == str(root) + str(outside)
    os.unlink(root / "d")
    (root / "d").mkdir()
    (root / "d" / "f").write_text("now a directory")
    assert read(root, "/d/f") == "now a directory"
    os.rename(root / "d", root / "gone")
    (root / "d").symlink_to("../outside")
    with pytest.raises(FileNotFoundError):
        read(root, "/d/f")  # the new link resolves inside too: <root>/outside/f does not exist


def test_a_held_descriptor_keeps_its_directory_when_the_path_is_swapped(tree):
    root, outside = tree
    (root / "d").mkdir()
    fd = safepath.open_dir(str(root), "/d")
    try:
        os.rename(root / "d", root / "moved")
        (root / "d").symlink_to(outside)
        # What was opened is what gets written: the swap cannot redirect it onto the host.
        os.close(os.open("new", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd))
    finally:
        os.close(fd)
    assert (root / "moved" / "new").exists() and not (outside / "new").exists()


def test_walk_reports_missing_components(tree):
    root, _ = tree
    root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        found = safepath.walk(root_fd, "/etc/a/b/../c", allow_missing=True)
        os.close(found.dir_fd)
        assert found.names == [b"etc", b"a", b"c"] and found.missing == 2
        with pytest.raises(FileNotFoundError):
            safepath.walk(root_fd, "/etc/a")
    finally:
        os.close(root_fd)


@pytest.mark.parametrize(
    ("name", "clean"),
    [
        (b"a/b", b"a/b"),
        (b"/a//./b/", b"a/b"),
        (b"./", b""),
        (b"a/../b", b"b"),
        (b"../x", None),
        (b"a/../../x", None),
    ],
)
def test_clean(name, clean):
    assert safepath.clean(name) == clean


def test_remove_tree_does_not_follow_symlinks(tree):
    root, outside = tree
    (root / "d" / "e").mkdir(parents=True)
    (root / "d" / "e" / "out").symlink_to(outside)
    (root / "d" / "f").write_text("x")
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        safepath.remove_tree(fd, b"d")
    finally:
        os.close(fd)
    assert not (root / "d").exists()
    assert (outside / "passwd").read_text() == "outside"
