"""`docker diff`: changes between two full trees, and changes recorded in an overlayfs upper dir."""

from __future__ import annotations

import os
import subprocess

import pytest

from lib.tarballs import make_deep
from lxc_docker.archive.changes import Change, changes, overlay_changes

ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not ROOT, reason="needs root (mknod, chown, trusted.* xattrs)")


@pytest.fixture
def deep_tmp(tmp_path):
    """tmp_path, emptied with rm(1) afterwards: pytest's own cleanup recurses once per level."""
    yield tmp_path
    subprocess.run(["rm", "-rf", "--", *map(str, tmp_path.iterdir())], check=True)


def listing(found: list[Change]) -> list[str]:
    return [str(c) for c in found]


@pytest.fixture
def trees(tmp_path):
    """(layer, parent): parent is a small rootfs, layer a full copy of it (as vfs makes)."""
    parent = tmp_path / "parent"
    (parent / "etc" / "conf.d").mkdir(parents=True)
    (parent / "etc" / "hosts").write_text("127.0.0.1 localhost\n")
    (parent / "etc" / "conf.d" / "a.conf").write_text("a")
    (parent / "var" / "lib" / "apt").mkdir(parents=True)
    (parent / "var" / "lib" / "apt" / "lists").write_text("lists")
    (parent / "bin").mkdir()
    os.symlink("busybox", parent / "bin" / "sh")
    layer = tmp_path / "layer"
    subprocess.run(["cp", "-a", str(parent), str(layer)], check=True)
    return layer, parent


def test_change_prints_like_docker_diff():
    assert str(Change("/etc", "C")) == "C /etc"
    assert Change("/etc", "C") == Change("/etc", "C")


def test_identical_trees_have_no_changes(trees):
    layer, parent = trees
    assert changes(str(layer), str(parent)) == []


def test_added_changed_deleted(trees):
    layer, parent = trees
    (layer / "etc" / "hosts").write_text("127.0.0.1 localhost box\n")
    (layer / "etc" / "new").write_text("new")
    os.unlink(layer / "var" / "lib" / "apt" / "lists")
    assert listing(changes(str(layer), str(parent))) == [
        "C /etc",
        "C /etc/hosts",
        "A /etc/new",
        "C /var",
        "C /var/lib",
        "C /var/lib/apt",
        "D /var/lib/apt/lists",
    ]


def test_a_deleted_directory_is_one_deletion(trees):
    layer, parent = trees
    subprocess.run(["rm", "-r", str(layer / "var")], check=True)
    assert listing(changes(str(layer), str(parent))) == ["D /var"]


def test_a_new_directory_and_all_its_content_are_added(trees):
    layer, parent = trees
    (layer / "opt" / "app" / "lib").mkdir(parents=True)
    (layer / "opt" / "app" / "lib" / "x.so").write_text("x")
    assert listing(changes(str(layer), str(parent))) == [
        "A /opt",
        "A /opt/app",
        "A /opt/app/lib",
        "A /opt/app/lib/x.so",
    ]


def test_no_parent_means_everything_is_added(trees):
    _, parent = trees
    assert listing(changes(str(parent), None)) == [
        "A /bin",
        "A /bin/sh",
        "A /etc",
        "A /etc/conf.d",
        "A /etc/conf.d/a.conf",
        "A /etc/hosts",
        "A /var",
        "A /var/lib",
        "A /var/lib/apt",
        "A /var/lib/apt/lists",
    ]


def test_mode_change_only(trees):
    layer, parent = trees
    os.chmod(layer / "etc" / "hosts", 0o600)
    # The parent directory too, as Docker reports it: applying the layer restores its metadata.
    assert listing(changes(str(layer), str(parent))) == ["C /etc", "C /etc/hosts"]


def test_directory_metadata_change_only(trees):
    layer, parent = trees
    os.chmod(layer / "etc" / "conf.d", 0o700)
    assert listing(changes(str(layer), str(parent))) == ["C /etc", "C /etc/conf.d"]


def test_a_directory_made_in_both_trees_at_different_times_is_unchanged(trees):
    # vfs copies the init layer into the container's before the volume mount points are made, then
    # makes each one in both: the same empty directory, but two mkdir times, and the parent's
    # mtime moves in each tree. `docker diff` printed `C /data` whenever the clock ticked between.
    layer, parent = trees
    for tree, ns in ((parent, 1_600_000_000_111_000_000), (layer, 1_600_000_000_222_000_000)):
        for path in (tree / "data", tree / "var" / "lib" / "mnt"):
            path.mkdir()
            os.utime(path, ns=(ns, ns))
        os.utime(tree / "var" / "lib", ns=(ns, ns))
    assert changes(str(layer), str(parent)) == []
    # A directory counts as changed by its own metadata or by what is below it, as in Docker.
    (layer / "data" / "f").write_text("f")
    assert listing(changes(str(layer), str(parent))) == ["C /data", "A /data/f"]


def test_same_size_same_mtime_content_change_is_invisible_like_docker(trees):
    layer, parent = trees
    st = os.stat(layer / "etc" / "hosts")
    (layer / "etc" / "hosts").write_text("127.0.0.2 localhost\n")
    os.utime(layer / "etc" / "hosts", ns=(st.st_atime_ns, st.st_mtime_ns))
    assert changes(str(layer), str(parent)) == []


def test_mtime_with_and_without_nanoseconds_is_the_same_time(trees):
    layer, parent = trees
    os.utime(parent / "etc" / "hosts", ns=(1_500_000_000_123_456_789,) * 2)
    os.utime(layer / "etc" / "hosts", ns=(1_500_000_000_000_000_000,) * 2)  # as extracted from a tar
    assert changes(str(layer), str(parent)) == []
    os.utime(layer / "etc" / "hosts", ns=(1_500_000_001_000_000_000,) * 2)
    assert listing(changes(str(layer), str(parent))) == ["C /etc", "C /etc/hosts"]


def test_symlink_target_change(trees):
    layer, parent = trees
    st = os.lstat(layer / "bin" / "sh")
    os.unlink(layer / "bin" / "sh")
    os.symlink("dashbox", layer / "bin" / "sh")  # same length
    os.utime(layer / "bin" / "sh", ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)
    os.utime(layer / "bin", ns=(os.stat(parent / "bin").st_atime_ns, os.stat(parent / "bin").st_mtime_ns))
    assert listing(changes(str(layer), str(parent))) == ["C /bin", "C /bin/sh"]


def test_file_replaced_by_directory_and_directory_by_file(trees):
    layer, parent = trees
    os.unlink(layer / "etc" / "hosts")
    (layer / "etc" / "hosts").mkdir()
    (layer / "etc" / "hosts" / "inside").write_text("i")
    subprocess.run(["rm", "-r", str(layer / "var" / "lib")], check=True)
    (layer / "var" / "lib").write_text("now a file")
    found = listing(changes(str(layer), str(parent)))
    assert "C /etc/hosts" in found and "A /etc/hosts/inside" in found
    assert "C /var/lib" in found
    # The directory goes whole when the file replaces it: no deletions below it.
    assert not [c for c in found if c.startswith("D ")]


@needs_root
def test_owner_and_device_changes(trees):
    layer, parent = trees
    os.chown(layer / "etc" / "hosts", 1000, 1000)
    os.mknod(parent / "null", 0o666 | 0o020000, os.makedev(1, 3))
    os.mknod(layer / "null", 0o666 | 0o020000, os.makedev(1, 5))
    os.utime(layer / "null", ns=(os.stat(parent / "null").st_atime_ns, os.stat(parent / "null").st_mtime_ns))
    os.utime(layer, ns=(os.stat(parent).st_atime_ns, os.stat(parent).st_mtime_ns))
    assert listing(changes(str(layer), str(parent))) == ["C /etc", "C /etc/hosts", "C /null"]


def test_sorted_by_bytes_like_docker(tmp_path):
    layer = tmp_path / "layer"
    for name in ["b", "a-b", "a", "A", "a.b"]:
        (layer / name).mkdir(parents=True)
    (layer / "a" / "z").write_text("z")
    assert [c.path for c in changes(str(layer), None)] == ["/A", "/a", "/a-b", "/a.b", "/a/z", "/b"]


def test_trees_deeper_than_the_recursion_limit(trees, deep_tmp):
    layer, parent = trees
    make_deep(layer, "d", 1200)
    found = changes(str(layer), str(parent))
    assert len(found) == 1200
    make_deep(parent, "d", 1199)
    os.utime(parent / "d", ns=(os.stat(layer / "d").st_atime_ns, os.stat(layer / "d").st_mtime_ns))
    found = changes(str(layer), str(parent))
    assert found[-1] == Change("/d" * 1200, "A")
    assert len(found) == 1200  # 1199 directories changed (the last one's child added), 1 added


# overlayfs upper directories.


@pytest.fixture
def stack(tmp_path):
    """(upper, [lower2, lower1]): two lower layers, topmost first, and an empty upper dir."""
    lower1 = tmp_path / "lower1"
    (lower1 / "etc" / "conf.d").mkdir(parents=True)
    (lower1 / "etc" / "hosts").write_text("h")
    (lower1 / "etc" / "conf.d" / "a.conf").write_text("a")
    (lower1 / "etc" / "gone-in-lower2").write_text("g")
    (lower1 / "opt" / "deep").mkdir(parents=True)
    lower2 = tmp_path / "lower2"
    (lower2 / "etc").mkdir(parents=True)
    (lower2 / "etc" / "lower2-file").write_text("l2")
    upper = tmp_path / "upper"
    upper.mkdir()
    return upper, [str(lower2), str(lower1)]


def test_overlay_added_and_changed(stack):
    upper, lowers = stack
    (upper / "etc").mkdir()
    (upper / "etc" / "hosts").write_text("changed")
    (upper / "etc" / "lower2-file").write_text("changed too")
    (upper / "etc" / "new").write_text("new")
    (upper / "srv" / "www").mkdir(parents=True)
    assert listing(overlay_changes(str(upper), lowers)) == [
        "C /etc",
        "C /etc/hosts",
        "C /etc/lower2-file",
        "A /etc/new",
        "A /srv",
        "A /srv/www",
    ]


def test_overlay_without_lowers_everything_is_added(stack):
    upper, _ = stack
    (upper / "etc").mkdir()
    (upper / "etc" / "hosts").write_text("x")
    assert listing(overlay_changes(str(upper), [])) == ["A /etc", "A /etc/hosts"]


@needs_root
def test_overlay_whiteouts_are_deletions(stack):
    upper, lowers = stack
    (upper / "etc").mkdir()
    os.mknod(upper / "etc" / "hosts", 0o020000, 0)
    os.mknod(upper / "opt", 0o020000, 0)
    assert listing(overlay_changes(str(upper), lowers)) == ["C /etc", "D /etc/hosts", "D /opt"]


@needs_root
def test_overlay_opaque_directory_is_changed_and_its_content_added(stack):
    upper, lowers = stack
    (upper / "etc" / "conf.d").mkdir(parents=True)
    os.setxattr(upper / "etc" / "conf.d", "trusted.overlay.opaque", b"y")
    (upper / "etc" / "conf.d" / "a.conf").write_text("same name as below, but the lower one is hidden")
    assert listing(overlay_changes(str(upper), lowers)) == [
        "C /etc",
        "C /etc/conf.d",
        "A /etc/conf.d/a.conf",
    ]


@needs_root
def test_overlay_lower_whiteouts_and_opaque_dirs_hide_deeper_layers(tmp_path, stack):
    upper, lowers = stack
    lower2 = tmp_path / "lower2"
    os.mknod(lower2 / "etc" / "gone-in-lower2", 0o020000, 0)
    (lower2 / "opt").mkdir()
    os.setxattr(lower2 / "opt", "trusted.overlay.opaque", b"y")
    (upper / "etc").mkdir()
    (upper / "etc" / "gone-in-lower2").write_text("back again")
    (upper / "opt" / "deep").mkdir(parents=True)
    assert listing(overlay_changes(str(upper), lowers)) == [
        "C /etc",
        "A /etc/gone-in-lower2",
        "C /opt",
        "A /opt/deep",
    ]
