"""Writing ADD's and COPY's sources into a new layer, mounted at `root` and used by nothing else.

Destination paths are resolved the way the container will see them: symlinks in the image are
followed but cannot lead out of `root` (archive/safepath.py's descriptor walks).
"""

from __future__ import annotations

import errno
import os
import posixpath
import stat
from collections.abc import Callable

from ..archive import safepath
from ..archive.extract import extract
from ..errors import DockerError
from . import context as ctxfiles
from .context import BuildContext


def add_from_context(
    root: str, context: BuildContext, rel: bytes, dest: str, name: str, unpack: bool = True
) -> int:
    """ADD of context entry `rel` to `dest`; returns the bytes written.

    A directory's contents go into directory `dest` (tar -x semantics: a union, the source winning
    file by file), owned by 0:0 with their modes and times; a local tarball is unpacked into
    `dest` with the owners it records; anything else is copied as one file (0:0, its mode and
    time) to `dest`, or to `dest/name` when `dest` ends with / or is a directory. With `unpack`
    false (COPY) a tarball is copied as any file.
    """
    if context.is_dir(rel) or (unpack and context.is_archive(rel)):
        fd, created = ensure_dir(root, dest)
        try:
            if not context.is_dir(rel):
                return extract(context.archive(rel), fd, whiteouts="keep", same_owner=True)
            if created and rel:
                os.fchmod(fd, context.content(rel).mode)
            return extract(context.tree(rel), fd, whiteouts="keep", same_owner=True)
        finally:
            os.close(fd)
    entry = context.content(rel)
    dir_fd, base = place(root, dest, name)
    try:
        if entry.type in ctxfiles.NODE_TYPES:
            kind = ctxfiles.NODE_TYPES[entry.type]
            os.mknod(base, kind | entry.mode, os.makedev(*entry.dev), dir_fd=dir_fd)
            os.chown(base, 0, 0, dir_fd=dir_fd, follow_symlinks=False)
            return 0
        _write_file(dir_fd, base, lambda fd: context.copy_content(rel, fd), entry.mode, entry.mtime)
    finally:
        os.close(dir_fd)
    return entry.size


def add_download(root: str, got: ctxfiles.Download, dest: str, name: str) -> int:
    """A downloaded file to `dest` (or `dest/name`): 0:0 and mode 0755, as the reference says of
    new files (a download has no metadata of its own). Never unpacked."""
    dir_fd, base = place(root, dest, name)
    try:
        size = os.path.getsize(got.path)
        src = os.open(got.path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            _write_file(dir_fd, base, lambda fd: ctxfiles.copy_range(src, fd, 0, size), 0o755, None)
        finally:
            os.close(src)
    finally:
        os.close(dir_fd)
    return size


def place(root: str, dest: str, name: str) -> tuple[int, str]:
    """(directory descriptor, name in it) where a file added as `name` to `dest` goes, made free
    for it; parents created. The caller closes the descriptor.

    `dest` ending with / means `dest/name`; so does an existing directory (as later Dockers do;
    0.9 replaced it). Whatever else is there is replaced, never written through: a symlink in its
    place could point anywhere.
    """
    target = dest + name if dest.endswith("/") else dest
    parent, base = posixpath.split(posixpath.normpath("/" + target))
    if not base:
        parent, base = "/", name
    dir_fd, _ = ensure_dir(root, parent)
    try:
        existing = _lstat_at(dir_fd, base)
        if existing is not None and stat.S_ISDIR(existing.st_mode):
            sub = os.open(base, safepath.DIR_FLAGS, dir_fd=dir_fd)
            os.close(dir_fd)
            dir_fd, base = sub, name
            existing = _lstat_at(dir_fd, base)
            if existing is not None and stat.S_ISDIR(existing.st_mode):
                raise DockerError(f"cannot replace directory {posixpath.join(target, name)} with a file")
        if existing is not None:
            os.unlink(base, dir_fd=dir_fd)
    except BaseException:
        os.close(dir_fd)
        raise
    return dir_fd, base


def _write_file(dir_fd: int, base: str, fill: Callable[[int], None], mode: int, mtime: int | None) -> None:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    out = os.open(base, flags, 0o600, dir_fd=dir_fd)
    try:
        fill(out)
        os.fchown(out, 0, 0)
        os.fchmod(out, mode)
        if mtime is not None:
            os.utime(out, (mtime, mtime))
    finally:
        os.close(out)


def ensure_dir(root: str, path: str) -> tuple[int, bool]:
    """A descriptor of directory `path` of the image, made (0755, 0:0) with missing parents if
    needed, and whether the directory itself was made. The caller closes the descriptor.

    Reached through safepath's descriptor walk: the image's symlinks are followed inside `root`,
    and every directory made is a fresh one below a descriptor, so nothing lands outside `root`.
    """
    try:
        return safepath.make_dirs(root, path, 0o755, owner=(0, 0))
    except NotADirectoryError:
        raise DockerError(f"cannot add to {path}: it or a parent is not a directory in the image") from None
    except OSError as e:
        if e.errno != errno.ELOOP:
            raise
        raise DockerError(f"cannot add to {path}: {e.strerror}") from None


def _lstat_at(dir_fd: int, name: str) -> os.stat_result | None:
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None
