"""Errno-checked wrappers for the Linux system calls Python 3.11 lacks (mount, umount2, unshare,
setns, pivot_root, sethostname, capget/capset, prctl).

This is the only module that calls libc through ctypes; every wrapper raises OSError on failure.
It is on the in-container init's start-up path, so it imports only ctypes, errno and os.
"""

from __future__ import annotations

import ctypes
import errno
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
MS_UNBINDABLE = 1 << 17
MS_SHARED = 1 << 20
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
CLONE_NEWCGROUP = 0x02000000

# prctl(2) options, from <linux/prctl.h>.
PR_SET_PDEATHSIG = 1
PR_CAPBSET_READ = 23
PR_CAPBSET_DROP = 24
PR_SET_CHILD_SUBREAPER = 36
PR_GET_CHILD_SUBREAPER = 37
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4

# capget(2)/capset(2): version 3 of the interface carries 64 capability bits in two 32-bit words.
_LINUX_CAPABILITY_VERSION_3 = 0x20080522

# pivot_root(2) has no wrapper in older glibc; its number per architecture, from the kernel's tables.
_SYS_PIVOT_ROOT = {
    "x86_64": 155,
    "aarch64": 41,
    "riscv64": 41,
    "loongarch64": 41,
    "i386": 217,
    "i686": 217,
    "s390x": 217,
    "armv7l": 218,
    "armv6l": 218,
    "ppc64le": 203,
    "ppc64": 203,
}


_loaded: list[ctypes.CDLL] = []


def _libc() -> ctypes.CDLL:
    # Loaded on first use, not at import: the client imports sysutil helpers but never mounts.
    # Cached by hand rather than with functools.cache: functools costs the init 3 ms of start-up.
    if _loaded:
        return _loaded[0]
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
    libc.setns.argtypes = [ctypes.c_int, ctypes.c_int]
    libc.setns.restype = ctypes.c_int
    libc.sethostname.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
    libc.sethostname.restype = ctypes.c_int
    libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    libc.prctl.restype = ctypes.c_int
    libc.capget.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    libc.capget.restype = ctypes.c_int
    libc.capset.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    libc.capset.restype = ctypes.c_int
    libc.syscall.restype = ctypes.c_long
    _loaded.append(libc)
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


def setns(fd: int, nstype: int = 0) -> None:
    """setns(2): move the calling thread into the namespace open at `fd` (0 accepts any type)."""
    _check(_libc().setns(fd, nstype))


def pivot_root(new_root: str, put_old: str) -> None:
    """pivot_root(2): make `new_root` the root of the mount namespace, the old root moving to
    `put_old` (the same path as `new_root` stacks it there, to be detached right after)."""
    libc = _libc()
    new, old = _encode(new_root), _encode(put_old)
    try:
        func = libc.pivot_root
    except AttributeError:
        number = _SYS_PIVOT_ROOT.get(os.uname().machine)
        if number is None:
            raise OSError(errno.ENOSYS, "pivot_root: unknown system call number on " + os.uname().machine)
        ret = libc.syscall(ctypes.c_long(number), ctypes.c_char_p(new), ctypes.c_char_p(old))
    else:
        func.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
        func.restype = ctypes.c_int
        ret = func(new, old)
    _check(ret, new_root, put_old)


def sethostname(name: str) -> None:
    """sethostname(2), in the calling process's UTS namespace."""
    data = name.encode()
    _check(_libc().sethostname(data, len(data)))


def prctl(option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
    """prctl(2) with integer arguments; returns the call's result (some options return a value)."""
    return _check(_libc().prctl(option, arg2, arg3, arg4, arg5))


def _cap_header(pid: int) -> ctypes.Array:
    return (ctypes.c_uint32 * 2)(_LINUX_CAPABILITY_VERSION_3, pid)


def capget(pid: int = 0) -> tuple[int, int, int]:
    """capget(2): the (effective, permitted, inheritable) capability sets of `pid` (0 = caller),
    each as a bit mask indexed by capability number."""
    data = (ctypes.c_uint32 * 6)()
    _check(_libc().capget(_cap_header(pid), data))
    # Two struct __user_cap_data_struct {effective, permitted, inheritable}: low words, then high.
    return data[0] | data[3] << 32, data[1] | data[4] << 32, data[2] | data[5] << 32


def capset(effective: int, permitted: int, inheritable: int) -> None:
    """capset(2) on the calling thread; each set is a bit mask indexed by capability number."""
    data = (ctypes.c_uint32 * 6)()
    for i, mask in enumerate((effective, permitted, inheritable)):
        data[i], data[i + 3] = mask & 0xFFFFFFFF, mask >> 32 & 0xFFFFFFFF
    _check(_libc().capset(_cap_header(0), data))
