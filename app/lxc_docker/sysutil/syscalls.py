"""Errno-checked wrappers for the Linux system calls Python 3.11 lacks (mount, umount2, unshare).

This is the only module that calls libc through ctypes; every wrapper raises OSError on failure.
"""

from __future__ import annotations

import ctypes
import functools
import os

# mount(2) flags, from <linux/mount.h>.
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MS_SLAVE = 1 << 19
MS_STRICTATIME = 1 << 24

# umount2(2) flags.
MNT_FORCE = 1
MNT_DETACH = 2

# unshare(2) / clone(2) flags, from <linux/sched.h>.
CLONE_FS = 0x00000200
CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000


@functools.cache
def _libc() -> ctypes.CDLL:
    # Loaded on first use, not at import: the client imports sysutil helpers but never mounts.
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mount.argtypes = [
        ctypes.c_char_p,
        ctypes.c_char_p,
        ctypes.c_char_p,
        ctypes.c_ulong,
        ctypes.c_char_p,
    ]
    libc.mount.restype = ctypes.c_int
    libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
    libc.umount2.restype = ctypes.c_int
    libc.unshare.argtypes = [ctypes.c_int]
    libc.unshare.restype = ctypes.c_int
    return libc


def _check(ret: int, *paths: str | None) -> int:
    """Return `ret`, or raise OSError from the ctypes-saved errno when the call returned -1.

    `paths` name the file(s) involved, so the message reads like Python's own os errors.
    """
    if ret != -1:
        return ret
    err = ctypes.get_errno()
    if len(paths) >= 2:
        raise OSError(err, os.strerror(err), paths[0], None, paths[1])
    raise OSError(err, os.strerror(err), *paths[:1])


def _encode(value: str | bytes | None) -> bytes | None:
    return None if value is None else os.fsencode(value)


def mount(
    source: str | None,
    target: str,
    fstype: str | None,
    flags: int = 0,
    data: str | None = None,
) -> None:
    """mount(2): attach `source` (of type `fstype`, with option string `data`) at `target`."""
    ret = _libc().mount(_encode(source), _encode(target), _encode(fstype), flags, _encode(data))
    _check(ret, target)


def umount(target: str, flags: int = 0) -> None:
    """umount2(2): detach the filesystem mounted at `target` (MNT_DETACH for a lazy unmount)."""
    _check(_libc().umount2(_encode(target), flags), target)


def unshare(flags: int) -> None:
    """unshare(2): give the calling thread its own copy of the resources named by CLONE_* `flags`."""
    _check(_libc().unshare(flags))
