"""The devices an unprivileged container gets: the nodes made in its /dev, and the devices cgroup
whitelist (Docker 0.9's list), shared by the init (which makes the nodes) and the daemon (the cgroup).
"""

from __future__ import annotations

import os
import stat

# (name in /dev, major, minor): character devices created with mode 0666 in the container's /dev.
NODES = (
    ("null", 1, 3),
    ("zero", 1, 5),
    ("full", 1, 7),
    ("random", 1, 8),
    ("urandom", 1, 9),
    ("tty", 5, 0),
)

# Docker 0.9's devices cgroup whitelist, in the cgroup v1 `devices.allow` syntax. mknod is allowed for
# every device because without CAP_MKNOD (dropped) it can't happen anyway, and with --privileged the
# whitelist is lifted; read/write only for the harmless nodes, the terminals and tun.
ALLOWED = (
    "c *:* m",
    "b *:* m",
    "c 1:3 rwm",  # null
    "c 1:5 rwm",  # zero
    "c 1:7 rwm",  # full
    "c 1:8 rwm",  # random
    "c 1:9 rwm",  # urandom
    "c 5:0 rwm",  # tty
    "c 5:1 rwm",  # console
    "c 4:0 rwm",  # tty0
    "c 4:1 rwm",  # tty1
    "c 136:* rwm",  # the pty slaves (/dev/pts/N)
    "c 5:2 rwm",  # ptmx
    "c 10:200 rwm",  # tun/tap
)

# Symlinks every Linux program expects in /dev.
LINKS = (
    ("fd", "/proc/self/fd"),
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"),
    ("ptmx", "pts/ptmx"),
)

# Host /dev entries a privileged container does not copy: made per container, or filesystems.
_NOT_COPIED = {"pts", "ptmx", "shm", "mqueue", "hugepages", "console", "tty", "fd"}


def make_nodes(dev: str) -> None:
    """Create the standard nodes and links in `dev` (a fresh tmpfs; the caller set umask 0), keeping
    any already there (copied from the host for a privileged container)."""
    for name, major, minor in NODES:
        path = os.path.join(dev, name)
        if not os.path.lexists(path):
            os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(major, minor))
    for name, target in LINKS:
        path = os.path.join(dev, name)
        if not os.path.lexists(path):
            os.symlink(target, path)


def copy_host_nodes(host_dev: str, dev: str) -> None:
    """Recreate every device node of the host's /dev in `dev`, for --privileged (all devices)."""
    try:
        entries = list(os.scandir(host_dev))
    except OSError:
        return
    for entry in entries:
        if entry.name in _NOT_COPIED and host_dev == "/dev":
            continue
        target = os.path.join(dev, entry.name)
        try:
            st = entry.stat(follow_symlinks=False)
            if stat.S_ISDIR(st.st_mode):
                os.makedirs(target, 0o755, exist_ok=True)
                copy_host_nodes(entry.path, target)
            elif (stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)) and not os.path.lexists(target):
                os.mknod(target, st.st_mode, st.st_rdev)
                os.chown(target, st.st_uid, st.st_gid)
        except OSError:
            # A device that vanished while we copied, or a node type this kernel refuses: skip it,
            # a privileged container still gets every other device.
            continue
