"""Creation of tar archives from directory trees: image layers, `docker export`, `docker cp`.

The source may be the root filesystem of a running container, whose processes can swap a
directory for a symlink while we read: every name is opened relative to its parent directory's
descriptor and never followed, so the archive cannot be made to include host files (the class of
CVE-2018-15664, `docker cp`).
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterable
from typing import BinaryIO

from lxc_docker.archive import safepath
from lxc_docker.archive.changes import Change
from lxc_docker.archive.tarformat import Writer, show
from lxc_docker.archive.whiteouts import OVERLAY_OPAQUE_XATTR, WHITEOUT_OPAQUE, WHITEOUT_PREFIX
from lxc_docker.errors import ArchiveError

_OPEN_DIR = safepath.DIR_FLAGS


def _at(dfd: int, name: bytes) -> bytes:
    # For the calls without an *at() form (xattrs): /proc/self/fd/N is the directory itself.
    return b"/proc/self/fd/%d/%s" % (dfd, name)


def _read_xattrs(path: bytes) -> dict[bytes, bytes] | None:
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return None
    found = {}
    for name in names:
        # overlayfs bookkeeping of this host's layers is not part of the image.
        if name.startswith("trusted.overlay."):
            continue
        try:
            found[name.encode()] = os.getxattr(path, name, follow_symlinks=False)
        except OSError:
            pass
    return found or None


def _is_opaque(path: bytes) -> bool:
    try:
        return os.getxattr(path, OVERLAY_OPAQUE_XATTR, follow_symlinks=False) == b"y"
    except OSError:
        return False


class _Archiver:
    """Writes filesystem entries as tar members, remembering inodes to emit hard links."""

    def __init__(self, out: BinaryIO, xattrs: bool, overlay: bool) -> None:
        self.writer = Writer(out)
        self.xattrs = xattrs
        self.overlay = overlay
        self.links: dict[tuple[int, int], bytes] = {}

    def add(self, dfd: int, name: bytes, rel: bytes) -> os.stat_result:
        """Write entry `name` of directory `dfd` (not its children) as `rel`; return its lstat."""
        st = os.stat(name, dir_fd=dfd, follow_symlinks=False)
        header = self.writer.header
        mode = st.st_mode
        meta = {"mode": stat.S_IMODE(mode), "uid": st.st_uid, "gid": st.st_gid, "mtime": int(st.st_mtime)}
        # Checked before hard links: overlayfs may share one whiteout inode between many names.
        if self.overlay and stat.S_ISCHR(mode) and st.st_rdev == 0:
            parent, _, base = rel.rpartition(b"/")
            whiteout = (parent + b"/" if parent else b"") + WHITEOUT_PREFIX + base
            header(whiteout, b"0", **dict(meta, mode=0o600))
            return st
        xattrs = _read_xattrs(_at(dfd, name)) if self.xattrs else None
        if stat.S_ISDIR(mode):
            header(rel + b"/", b"5", xattrs=xattrs, **meta)
            if self.overlay and _is_opaque(_at(dfd, name)):
                header(rel + b"/" + WHITEOUT_OPAQUE, b"0", **dict(meta, mode=meta["mode"] & 0o777))
            return st
        if st.st_nlink > 1:
            first = self.links.setdefault((st.st_dev, st.st_ino), rel)
            if first != rel:
                header(rel, b"1", linkname=first, xattrs=xattrs, **meta)
                return st
        if stat.S_ISREG(mode):
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dfd)
            try:
                header(rel, b"0", size=st.st_size, xattrs=xattrs, **meta)
                self.writer.content(fd, st.st_size)
            finally:
                os.close(fd)
        elif stat.S_ISLNK(mode):
            header(rel, b"2", linkname=os.readlink(name, dir_fd=dfd), xattrs=xattrs, **meta)
        elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            dev = (os.major(st.st_rdev), os.minor(st.st_rdev))
            header(rel, b"3" if stat.S_ISCHR(mode) else b"4", dev=dev, xattrs=xattrs, **meta)
        elif stat.S_ISFIFO(mode):
            header(rel, b"6", xattrs=xattrs, **meta)
        # Sockets cannot be archived; tar(1) skips them too.
        return st


def _rel_key(path: str) -> bytes:
    return b"/".join(part for part in os.fsencode(path).split(b"/") if part not in (b"", b"."))


def _sorted_names(dfd: int) -> list[bytes]:
    # Name order, as Go's filepath.Walk gives Docker: the same tree always makes the same tar.
    return sorted(os.fsencode(name) for name in os.listdir(dfd))


def create(
    src: str,
    out: BinaryIO,
    *,
    whiteouts: str = "none",
    exclude: Iterable[str] = (),
    xattrs: bool = True,
) -> None:
    """Write directory `src` as an uncompressed tar to `out`, parents before children.

    Names are relative (`bin/sh`, `etc/`); hard links are found by inode; long names, big ids and
    xattrs go into PAX headers. `whiteouts="overlay"` turns overlayfs markers into Docker's
    `.wh.NAME` and `.wh..wh..opq` entries. Paths in `exclude` (relative) are left out with their
    content. `out` is only written to (a pipe or a socket will do).
    """
    if whiteouts not in ("none", "overlay"):
        raise ValueError(f"whiteouts must be 'none' or 'overlay', not {whiteouts!r}")
    skip = {_rel_key(path) for path in exclude}
    archiver = _Archiver(out, xattrs, whiteouts == "overlay")
    fd = os.open(src, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        _add_tree(archiver, fd, b"", skip)
    finally:
        os.close(fd)
    archiver.writer.end()


def create_entry(root: safepath.Root, path: str, out: BinaryIO, name: str) -> os.stat_result:
    """Write what `path` names under `root` (a file, or a directory with its content) as a tar
    whose top entry is `name`, as `docker cp` sends it; return the entry's lstat.

    `path` is resolved inside `root` as the container sees it (a symlink at the end is followed,
    within the root). FileNotFoundError when there is nothing there.
    """
    found = safepath.open_parent(root, path)
    archiver = _Archiver(out, xattrs=True, overlay=False)
    try:
        top = os.fsencode(name)
        if not found.name:  # the root itself
            st = archiver.add(found.dir_fd, b".", top)
            _add_tree(archiver, found.dir_fd, top + b"/", set())
        else:
            st = archiver.add(found.dir_fd, found.name, top)
            if stat.S_ISDIR(st.st_mode):
                sub = os.open(found.name, _OPEN_DIR, dir_fd=found.dir_fd)
                try:
                    _add_tree(archiver, sub, top + b"/", set())
                finally:
                    os.close(sub)
    finally:
        os.close(found.dir_fd)
    archiver.writer.end()
    return st


def _add_tree(archiver: _Archiver, top: int, prefix: bytes, skip: set[bytes]) -> None:
    """Add the content of directory `top` (not itself), names starting with `prefix`."""
    # Depth first with an explicit stack (trees can be deeper than Python's recursion limit)
    # and one open directory, the current one: back up through a checked "..".
    fd = os.dup(top)
    try:
        levels = [(prefix, safepath.inode(fd), iter(_sorted_names(fd)))]
        while True:
            rel, _, names = levels[-1]
            name = next(names, None)
            if name is None:
                levels.pop()
                if not levels:
                    break
                parent = safepath.up(fd, levels[-1][1])
                os.close(fd)
                fd = parent
                continue
            child = rel + name
            if child in skip:
                continue
            if stat.S_ISDIR(archiver.add(fd, name, child).st_mode):
                sub = os.open(name, _OPEN_DIR, dir_fd=fd)
                os.close(fd)
                fd = sub
                levels.append((child + b"/", safepath.inode(fd), iter(_sorted_names(fd))))
    finally:
        os.close(fd)


def _open_parent(root: int, rel: bytes) -> int:
    """Open the directory holding `rel` below `root`, following no symlink on the way."""
    dfd = os.dup(root)
    for part in rel.split(b"/")[:-1]:
        try:
            sub = os.open(part, _OPEN_DIR, dir_fd=dfd)
        except OSError as exc:
            os.close(dfd)
            if exc.errno in (errno.ENOTDIR, errno.ELOOP):
                raise ArchiveError(f"{show(rel)}: a parent directory was replaced by a symlink") from None
            raise
        os.close(dfd)
        dfd = sub
    return dfd


def create_from_changes(root: str, changes: list[Change], out: BinaryIO) -> None:
    """Write a layer tar of `changes`: entries from `root` for A and C, `.wh.NAME` for D."""
    archiver = _Archiver(out, xattrs=True, overlay=False)
    root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for change in sorted(changes, key=lambda c: os.fsencode(c.path)):
            rel = _rel_key(change.path)
            if not rel:
                continue
            parent, _, name = rel.rpartition(b"/")
            if change.kind == "D":
                try:
                    # The parent's mtime is when the deletion happened, and is reproducible.
                    mtime = int(os.stat(parent or b".", dir_fd=root_fd, follow_symlinks=False).st_mtime)
                except OSError:
                    mtime = 0
                whiteout = (parent + b"/" if parent else b"") + WHITEOUT_PREFIX + name
                archiver.writer.header(whiteout, b"0", mode=0o600, mtime=mtime)
                continue
            dfd = _open_parent(root_fd, rel)
            try:
                archiver.add(dfd, name, rel)
            finally:
                os.close(dfd)
        archiver.writer.end()
    finally:
        os.close(root_fd)
