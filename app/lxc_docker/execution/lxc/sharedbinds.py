"""Shared binds (`-v /src:/dst:rshared`) under the lxc driver.

LXC turns the container's whole mount tree into a slave of the host's before it mounts anything, so
its own bind of the source is at best a slave: the host's mounts reach the container, but mounts the
container makes never reach the host, which is what `shared`/`rshared` promise. So while LXC's
start-host hook holds the container's init back (execution/lxc/driver.py), the daemon runs this
program (`docker sharedbind PID SPEC`): it clones each source's tree in the host's namespace
(open_tree(OPEN_TREE_CLONE) keeps the clone in the source's peer group), enters PID's mount namespace
and moves the clone onto the bind LXC made there. Mounts the container makes under it then
propagate to the host, as with runc and the native driver.

It runs as a process of its own because setns(CLONE_NEWNS) refuses a multi-threaded caller.
"""

from __future__ import annotations

import ctypes
import json
import os
import subprocess
import sys

from lxc_docker.archive import safepath
from lxc_docker.execution.base import ContainerStartError, Mount
from lxc_docker.sysutil import mountprop, syscalls
from lxc_docker.sysutil.selfexec import mode_argv

# From <linux/mount.h> and <fcntl.h>; open_tree and move_mount have the same number on every
# architecture (the unified system call table, Linux 5.2).
_SYS_OPEN_TREE = 428
_SYS_MOVE_MOUNT = 429
_SYS_MOUNT_SETATTR = 442
_MOUNT_ATTR_RDONLY = 0x1
_AT_EMPTY_PATH = 0x1000
_OPEN_TREE_CLONE = 1
_AT_FDCWD = -100
_AT_RECURSIVE = 0x8000
_MOVE_MOUNT_F_EMPTY_PATH = 0x04
_MOVE_MOUNT_T_EMPTY_PATH = 0x40
_TIMEOUT = 30


class _MountAttr(ctypes.Structure):
    _fields_ = [(name, ctypes.c_uint64) for name in ("attr_set", "attr_clr", "propagation", "userns_fd")]


def attach(pid: int, mounts: list[Mount]) -> None:
    """Give the container of init `pid` (held back by the start-host hook) its shared binds; raise
    ContainerStartError if that fails. Nothing to do (and nothing run) without a shared bind."""
    shared = [m for m in mounts if mountprop.is_shared(m.propagation)]
    if not shared:
        return
    spec = json.dumps([[m.source, m.destination, m.writable, m.propagation] for m in shared])
    try:
        result = subprocess.run(
            [*mode_argv("sharedbind"), str(pid), spec],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        raise ContainerStartError(f"shared bind mounts: {e}", 1) from None
    if result.returncode != 0:
        raise ContainerStartError(
            result.stderr.decode(errors="replace").strip() or "shared bind mounts failed"
        )


def main(args: list[str]) -> int:
    """`sharedbind PID SPEC`: SPEC is a JSON list of [source, destination, writable, propagation]."""
    try:
        pid, spec = int(args[0]), json.loads(args[1])
        _move_in(pid, spec)
    except (OSError, ValueError, IndexError) as e:
        print(f"shared bind mounts: {e}", file=sys.stderr)
        return 1
    return 0


def _move_in(pid: int, spec: list[list]) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    trees = []
    mntns = os.open(f"/proc/{pid}/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
    try:
        for source, _destination, writable, propagation in spec:
            flags = _OPEN_TREE_CLONE | os.O_CLOEXEC | (_AT_RECURSIVE if propagation == "rshared" else 0)
            tree = _check(libc.syscall(_SYS_OPEN_TREE, _AT_FDCWD, os.fsencode(source), flags), source)
            trees.append(tree)
            if not writable:
                # Read-only before it is moved in (the container's /proc can't name our descriptors),
                # the top mount only, as a remount of an rbind does.
                attr = _MountAttr(_MOUNT_ATTR_RDONLY, 0, 0, 0)
                size = ctypes.sizeof(attr)
                _check(
                    libc.syscall(_SYS_MOUNT_SETATTR, tree, b"", _AT_EMPTY_PATH, ctypes.byref(attr), size),
                    source,
                )
        syscalls.setns(mntns, syscalls.CLONE_NEWNS)  # our root and cwd are now the container's
    finally:
        os.close(mntns)
    for tree, (_source, destination, _writable, _propagation) in zip(trees, spec, strict=True):
        # The destination is resolved inside the container's root like every other mount target
        # (the image is untrusted); LXC's own bind of the source is there already.
        target = _open_target(destination)
        try:
            flags = _MOVE_MOUNT_F_EMPTY_PATH | _MOVE_MOUNT_T_EMPTY_PATH
            _check(libc.syscall(_SYS_MOVE_MOUNT, tree, b"", target, b"", flags), destination)
        finally:
            os.close(target)
            os.close(tree)


def _open_target(destination: str) -> int:
    try:
        return safepath.open_dir("/", destination)
    except NotADirectoryError:  # a bind of a file
        return safepath.open_file("/", destination, os.O_PATH)


def _check(ret: int, what: str) -> int:
    if ret < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")
    return ret
