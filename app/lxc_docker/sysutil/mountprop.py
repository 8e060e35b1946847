"""Bind mount propagation (Docker 1.12's `shared|rshared|slave|rslave|private|rprivate` bind modes):
the names and their mount(2) flags, and which propagation the mount holding a path has, read from
/proc/self/mountinfo's optional fields (`shared:N`, `master:N`).

Used by the daemon (the start-time check that a shared bind's source is on a shared mount, as Docker
does) and by the native driver's init inside the container's mount namespace, so it imports only os.
"""

from __future__ import annotations

import os

MS_REC = 16384
MS_PRIVATE = 1 << 18
MS_SLAVE = 1 << 19
MS_SHARED = 1 << 20

DEFAULT = "rprivate"  # Docker's propagation for a bind that names none
FLAGS = {
    "private": MS_PRIVATE,
    "rprivate": MS_PRIVATE | MS_REC,
    "shared": MS_SHARED,
    "rshared": MS_SHARED | MS_REC,
    "slave": MS_SLAVE,
    "rslave": MS_SLAVE | MS_REC,
}
MODES = frozenset(FLAGS)


def is_shared(mode: str) -> bool:
    return mode in ("shared", "rshared")


def is_slave(mode: str) -> bool:
    return mode in ("slave", "rslave")


def root_propagation(modes: list[str]) -> str:
    """The propagation the container's root tree needs for binds with `modes` (as Docker sets the OCI
    spec's rootfsPropagation): rshared when one is shared, since a slave copy of the source could
    never send the container's mounts back; rslave when one is a slave, so the host's later mounts
    still arrive; rprivate otherwise (nothing crosses)."""
    if any(is_shared(m) for m in modes):
        return "rshared"
    if any(is_slave(m) for m in modes):
        return "rslave"
    return "rprivate"


def unescape(field: str) -> str:
    # The kernel writes space, tab, newline and backslash in paths as \ooo octal escapes.
    if "\\" not in field:
        return field
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and field[i + 1 : i + 4].isdigit():
            out.append(chr(int(field[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def mount_of(path: str, mountinfo: str = "/proc/self/mountinfo") -> tuple[str, list[str]]:
    """(mount point, optional fields) of the mount that holds `path` (symlinks resolved), the
    last-mounted of the longest mount point containing it, as the kernel resolves it."""
    real = os.path.realpath(path)
    best: tuple[str, list[str]] = ("", [])
    with open(mountinfo, encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            fields = line.split()
            mp = unescape(fields[4])
            inside = real == mp or real.startswith(mp.rstrip("/") + "/")
            # `>=`: of two mounts stacked on one point, the later one is the visible one.
            if inside and len(mp) >= len(best[0]):
                best = (mp, fields[6 : fields.index("-")])
    return best


def check_source(path: str, mode: str, mountinfo: str = "/proc/self/mountinfo") -> str | None:
    """Docker's message when the mount holding `path` cannot give a bind of propagation `mode`
    what it asks (a shared bind needs a shared mount, a slave one a shared or slave mount), else None."""
    if not (is_shared(mode) or is_slave(mode)):
        return None
    mountpoint, optional = mount_of(path, mountinfo)
    shared = any(o.startswith("shared:") for o in optional)
    slave = any(o.startswith("master:") for o in optional)
    if is_shared(mode) and not shared:
        return f"Path {path} is mounted on {mountpoint} but it is not a shared mount."
    if is_slave(mode) and not (shared or slave):
        return f"Path {path} is mounted on {mountpoint} but it is not a shared or slave mount."
    return None
