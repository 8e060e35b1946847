"""Tests of the ctypes system-call wrappers in lxc_docker.sysutil.syscalls."""

from __future__ import annotations

import ctypes
import errno
import importlib
import os
import threading

import pytest

from lxc_docker.sysutil import syscalls

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="mounting needs root")


def test_constants_match_linux_headers():
    assert (syscalls.MS_RDONLY, syscalls.MS_NOSUID, syscalls.MS_NODEV) == (1, 2, 4)
    assert (syscalls.MS_NOEXEC, syscalls.MS_REMOUNT, syscalls.MS_BIND) == (8, 32, 4096)
    assert (syscalls.MS_REC, syscalls.MS_PRIVATE, syscalls.MS_SLAVE) == (16384, 262144, 524288)
    assert syscalls.MS_STRICTATIME == 16777216
    assert (syscalls.MNT_FORCE, syscalls.MNT_DETACH) == (1, 2)
    assert syscalls.CLONE_FS == 0x200
    assert syscalls.CLONE_NEWNS == 0x20000


def test_libc_is_loaded_on_first_call_not_at_import(monkeypatch):
    loads = []
    real_cdll = ctypes.CDLL

    def counting_cdll(*args, **kwargs):
        loads.append(args)
        return real_cdll(*args, **kwargs)

    monkeypatch.setattr(ctypes, "CDLL", counting_cdll)
    module = importlib.reload(syscalls)
    try:
        assert loads == []
        with pytest.raises(OSError):
            module.umount("/nonexistent/lxc-docker-test")
        assert len(loads) == 1
        with pytest.raises(OSError):
            module.umount("/nonexistent/lxc-docker-test")
        assert len(loads) == 1
    finally:
        monkeypatch.undo()
        importlib.reload(syscalls)


def test_check_passes_results_through():
    assert syscalls._check(0) == 0
    assert syscalls._check(7, "/x") == 7


def test_check_raises_oserror_with_errno_and_paths():
    ctypes.set_errno(errno.EINVAL)
    with pytest.raises(OSError) as info:
        syscalls._check(-1, "/some/path")
    assert info.value.errno == errno.EINVAL
    assert info.value.strerror == os.strerror(errno.EINVAL)
    assert info.value.filename == "/some/path"

    ctypes.set_errno(errno.EBUSY)
    with pytest.raises(OSError) as info:
        syscalls._check(-1, "/new", "/old")
    assert (info.value.errno, info.value.filename, info.value.filename2) == (
        errno.EBUSY,
        "/new",
        "/old",
    )

    ctypes.set_errno(errno.EPERM)
    with pytest.raises(PermissionError):
        syscalls._check(-1)


def test_umount_of_missing_path_raises_with_path():
    path = "/nonexistent/lxc-docker-test"
    with pytest.raises(OSError) as info:
        syscalls.umount(path)
    assert info.value.errno in (errno.ENOENT, errno.EPERM)
    assert info.value.filename == path


def test_mount_on_missing_target_raises_with_path(tmp_path):
    target = str(tmp_path / "missing")
    with pytest.raises(OSError) as info:
        syscalls.mount("tmpfs", target, "tmpfs")
    assert info.value.errno in (errno.ENOENT, errno.EPERM)
    assert info.value.filename == target


def test_unshare_fs_gives_a_thread_its_own_working_directory(tmp_path):
    before = os.getcwd()
    seen = []

    def chdir_alone():
        syscalls.unshare(syscalls.CLONE_FS)
        os.chdir(tmp_path)
        seen.append(os.getcwd())

    thread = threading.Thread(target=chdir_alone)
    thread.start()
    thread.join()
    assert seen == [str(tmp_path)]
    assert os.getcwd() == before


def test_unshare_with_bad_flags_raises():
    with pytest.raises(OSError) as info:
        syscalls.unshare(-1)
    assert info.value.errno in (errno.EINVAL, errno.EPERM)


def _mountpoints() -> set[str]:
    with open("/proc/self/mountinfo") as f:
        return {line.split()[4] for line in f}


@pytest.mark.root
@needs_root
def test_bind_mount_then_umount(tmp_path):
    source, target = tmp_path / "source", tmp_path / "target"
    source.mkdir()
    target.mkdir()
    (source / "file").write_text("hello")
    syscalls.mount(str(source), str(target), None, syscalls.MS_BIND)
    try:
        assert str(target) in _mountpoints()
        assert (target / "file").read_text() == "hello"
        syscalls.mount(None, str(target), None, syscalls.MS_PRIVATE)
        syscalls.mount(
            None,
            str(target),
            None,
            syscalls.MS_REMOUNT | syscalls.MS_BIND | syscalls.MS_RDONLY,
        )
        with pytest.raises(OSError) as info:
            (target / "other").write_text("x")
        assert info.value.errno == errno.EROFS
    finally:
        syscalls.umount(str(target), syscalls.MNT_DETACH)
    assert str(target) not in _mountpoints()
    assert not (target / "file").exists()
