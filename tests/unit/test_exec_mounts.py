"""Tests of path resolution inside a container's rootfs: symlinks in an image never lead outside it."""

from __future__ import annotations

import os

import pytest

from lxc_docker.archive.safepath import resolve_in_root


@pytest.fixture
def root(tmp_path):
    root = tmp_path / "rootfs"
    (root / "etc").mkdir(parents=True)
    (root / "usr" / "lib").mkdir(parents=True)
    return root


def test_plain_paths_are_joined(root):
    assert resolve_in_root(str(root), "/etc/hosts") == str(root / "etc" / "hosts")
    assert resolve_in_root(str(root), "etc//./hosts") == str(root / "etc" / "hosts")
    assert resolve_in_root(str(root), "/") == str(root)


def test_dotdot_stops_at_the_root(root):
    assert resolve_in_root(str(root), "/../../../etc/passwd") == str(root / "etc" / "passwd")
    assert resolve_in_root(str(root), "/usr/lib/../../../x") == str(root / "x")


def test_absolute_symlinks_are_taken_relative_to_the_root(root):
    os.symlink("/", root / "proc")
    os.symlink("/usr/lib", root / "lib")
    assert resolve_in_root(str(root), "/proc") == str(root)
    assert resolve_in_root(str(root), "/proc/self") == str(root / "self")
    assert resolve_in_root(str(root), "/lib/x.so") == str(root / "usr" / "lib" / "x.so")


def test_relative_symlinks_cannot_climb_out(root):
    os.symlink("../../../../../../etc", root / "usr" / "etc")
    assert resolve_in_root(str(root), "/usr/etc/shadow") == str(root / "etc" / "shadow")


def test_symlink_to_a_missing_target_resolves_to_where_it_would_be(root):
    os.symlink("/var/run/missing", root / "etc" / "resolv.conf")
    assert resolve_in_root(str(root), "/etc/resolv.conf") == str(root / "var" / "run" / "missing")


def test_chained_symlinks(root):
    os.symlink("b", root / "a")
    os.symlink("/c/d", root / "b")
    (root / "c").mkdir()
    os.symlink("../etc", root / "c" / "d")
    assert resolve_in_root(str(root), "/a/hosts") == str(root / "etc" / "hosts")


def test_symlink_loops_raise_eloop(root):
    os.symlink("loop2", root / "loop1")
    os.symlink("loop1", root / "loop2")
    with pytest.raises(OSError) as info:
        resolve_in_root(str(root), "/loop1/x")
    assert info.value.errno == 40
