"""Extraction of Docker layer tarballs: safe, fast, with whiteout handling.

Layers come from untrusted sources (import, load, registries, build contexts, a daemon answering
`docker cp`), so every parent directory is opened by the destination tree (extracttree.py), one
component at a time with O_NOFOLLOW relative to an open directory descriptor, and only the final
name is touched relative to that descriptor: nothing can be written, linked, chmod-ed or deleted
through a symlink or outside the destination.
"""

from __future__ import annotations

import errno
import os
import stat
import time
from collections.abc import Callable
from typing import BinaryIO

from lxc_docker.archive import safepath
from lxc_docker.archive.compression import decompressed
from lxc_docker.archive.extractpool import Pool
from lxc_docker.archive.extracttree import DestTree, read_umask
from lxc_docker.archive.tarformat import BLOCK, REG_TYPES, Member, Reader, members, show, write_all
from lxc_docker.archive.whiteouts import WHITEOUT_PREFIX
from lxc_docker.archive.whiteouts import apply as apply_whiteout
from lxc_docker.errors import ArchiveError, DockerError, SystemError_

# When the kernel is slow to create inodes, small files are created by helper threads (their
# syscalls release the GIL, and run in parallel) while the main thread parses on. ext4 without a
# journal, as on our VMs, is ~10x slower at it for 30 s after files were deleted anywhere on the
# disk (it scans past recently freed inodes). When creation is fast the threads cost more in GIL
# hand-offs than they save, so files created inline are timed, in windows, to decide.
WRITER_THREADS = 2 if (os.cpu_count() or 1) > 1 else 0
POOL_AFTER_FILES = 32  # the window; small layers never start threads
POOL_SLOW_CREATE = 80e-6  # seconds per small file above which the threads pay (~35us when fast)
OFFLOAD_MAX_SIZE = 256 << 10  # bigger files are streamed by the main thread

_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
# Out of space, quota, I/O: the host's problem, not the archive's.
_SYSTEM_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EMFILE, errno.ENFILE, errno.EROFS}
_WHITEOUT_MODES = ("apply", "overlay", "keep")


def _clean(name: bytes, member: bytes) -> bytes:
    """Normalize a member path to a relative one; b"" is the root. Escapes are rejected."""
    if b"\0" in name:
        raise ArchiveError(f"{show(member)}: NUL byte in path")
    rel = safepath.clean(name)
    if rel is None:
        raise ArchiveError(f"{show(member)}: path escapes the destination directory")
    return rel


def _os_error(name: bytes, exc: OSError) -> DockerError:
    cls = SystemError_ if exc.errno in _SYSTEM_ERRNOS else ArchiveError
    return cls(f"{show(name)}: {exc.strerror or exc}")


class Extractor(DestTree):
    """One extraction: the members of a tar stream written into the destination tree."""

    def __init__(self, dest: str | int, whiteouts: str, same_owner: bool, host_safe: bool = False) -> None:
        super().__init__(dest)
        self.whiteouts = whiteouts
        self.same_owner = same_owner
        # Onto a host's own disk (`docker cp`): no device nodes, no setuid/setgid/sticky bits.
        self.host_safe = host_safe
        self.skipped: list[bytes] = []  # device nodes left out because of host_safe
        self.euid = os.geteuid()
        self.is_root = self.euid == 0
        self.umask = read_umask()
        self.size = 0
        self.timed = 0  # files created inline and timed in the current window
        self.create_time = 0.0
        self.use_pool = False
        # Directory metadata is set at the end, once nothing more is written inside.
        self.deferred: dict[bytes, tuple[int | None, int, int]] = {}

    # Metadata.

    def _owner(self, m: Member, parent: tuple[int, int, bool]) -> tuple[int, int] | None:
        """The (uid, gid) to chown a new entry to, or None when it already has them."""
        if not self.same_owner or (m.uid == self.euid and m.gid == parent[1]):
            return None
        return m.uid, m.gid

    def _chown(self, fn: Callable, *args, **kwargs) -> None:
        try:
            fn(*args, **kwargs)
        except PermissionError:
            # Unprivileged extraction keeps our own ids, as GNU tar does without --same-owner.
            if self.is_root:
                raise

    def _chmod_needed(self, mode: int, requested: int) -> bool:
        """Whether an entry created with mode `requested` needs a chmod to end up with `mode`."""
        umask = self.umask
        return umask is None or (requested & ~umask) != mode

    @staticmethod
    def _xattrs(xattrs: dict[bytes, bytes], target: int | bytes) -> None:
        for key, value in xattrs.items():
            # trusted.overlay.* would let a layer forge overlayfs redirects, origins and opacity.
            if key.startswith(b"trusted.overlay."):
                continue
            try:
                if isinstance(target, int):
                    os.setxattr(target, key, value)
                else:
                    os.setxattr(target, key, value, follow_symlinks=False)
            except OSError:
                pass  # best effort: unsupported namespace, filesystem or privilege

    @staticmethod
    def _proc_path(dfd: int, base: bytes) -> bytes:
        # setxattr has no *at() form; /proc/self/fd/N names the directory we resolved safely.
        return b"/proc/self/fd/%d/%s" % (dfd, base)

    @staticmethod
    def _times(m: Member) -> tuple[int, int]:
        return (m.atime if m.atime is not None else m.mtime, m.mtime)

    # Entries.

    def extract(self, stream: BinaryIO) -> int:
        reader = Reader(decompressed(stream))
        for m in members(reader):
            self.member = m.name
            self._trim()
            try:
                self._entry(m, reader)
            except OSError as exc:
                raise _os_error(m.name, exc) from exc
            except ValueError as exc:  # an embedded NUL in a PAX path or link target
                raise self._reject(str(exc)) from exc
        reader.drain()
        self._settle()
        self._finish_dirs()
        return self.size

    def _entry(self, m: Member, reader: Reader) -> None:
        rel = _clean(m.name, m.name)
        kind = m.type
        if self.host_safe:
            # A container's setuid binary, device node or file capability (security.capability)
            # has no business on the host that runs `docker cp`.
            m.mode &= 0o777
            m.xattrs = None
            if kind in (b"3", b"4"):
                self.skipped.append(m.name)
                reader.skip(m.size + (-m.size % BLOCK))
                return
        if not rel:
            if kind == b"5":
                self._dir_entry(m, self.root, b"", b"")
            reader.skip(m.size + (-m.size % BLOCK))
            return
        parent_rel, _, base = rel.rpartition(b"/")
        if self.whiteouts != "keep" and base.startswith(WHITEOUT_PREFIX):
            reader.skip(m.size + (-m.size % BLOCK))
            apply_whiteout(self, parent_rel, base)
            return
        parent = self._dir(parent_rel, create=True)
        if kind in REG_TYPES:
            fresh = parent_rel in self.fresh and rel not in self.seen
            self.seen.add(rel)
            self._file(m, parent, base, rel, reader, fresh)
            reader.skip(-m.size % BLOCK)
            return
        self._settle(rel)
        self.seen.add(rel)
        if kind == b"5" or kind == b"D":
            self._dir_entry(m, parent, base, rel)
        elif kind == b"2":
            self._symlink(m, parent, base, rel)
        elif kind == b"1":
            self._hardlink(m, parent, base, rel)
        elif kind in (b"3", b"4", b"6"):
            self._node(m, parent, base, rel)
        elif kind != b"V":  # a volume label carries nothing to extract
            raise self._reject(f"unsupported tar entry type {kind!r}")
        reader.skip(m.size + (-m.size % BLOCK))

    def _file(self, m: Member, parent, base: bytes, rel: bytes, reader: Reader, fresh: bool) -> None:
        owner = self._owner(m, parent)
        # chown clears setuid/setgid, so they are (re)applied after it.
        chmod = (owner is not None and m.mode & 0o6000) or self._chmod_needed(m.mode, m.mode)
        self.size += m.size
        small = m.size <= OFFLOAD_MAX_SIZE
        # Only a path that cannot exist yet goes to the pool: replacing one is done here, in order.
        if fresh and small and self.use_pool:
            if self.pool is None:
                self.pool = Pool(WRITER_THREADS, self._create_file)
            data = reader.view(m.size) if m.size else b""
            self.pool.submit((parent[0], base, m.mode, data, owner, chmod, m.xattrs, self._times(m), rel))
            self.pending.add(rel)
            return
        if self.pool is not None:
            self.pool.flush()  # keep the threads busy while this one is written here
        self._settle(rel)
        timing = small and WRITER_THREADS
        start = time.perf_counter() if timing else 0.0
        dfd = parent[0]
        try:
            fd = os.open(base, _CREATE_FLAGS, m.mode, dir_fd=dfd)
        except FileExistsError:
            # Unlink rather than truncate: the old inode may be hard-linked elsewhere in the tree.
            self._clear(dfd, base, rel)
            fd = os.open(base, _CREATE_FLAGS, m.mode, dir_fd=dfd)
        try:
            if m.size:
                reader.copy(fd, m.size)
            self._finish_file(fd, m.mode, owner, chmod, m.xattrs, self._times(m))
        finally:
            os.close(fd)
        if timing:
            self.create_time += time.perf_counter() - start
            self.timed += 1
            if self.timed >= POOL_AFTER_FILES:
                self.use_pool = self.create_time / self.timed > POOL_SLOW_CREATE
                self.timed, self.create_time = 0, 0.0

    def _create_file(self, job: tuple) -> None:
        """A pool job: create a file that does not exist yet in a directory this run made."""
        dfd, base, mode, data, owner, chmod, xattrs, times, rel = job
        try:
            fd = os.open(base, _CREATE_FLAGS, mode, dir_fd=dfd)
            try:
                if data:
                    write_all(fd, data)
                self._finish_file(fd, mode, owner, chmod, xattrs, times)
            finally:
                os.close(fd)
        except OSError as exc:
            raise _os_error(rel, exc) from exc

    def _finish_file(self, fd: int, mode: int, owner, chmod: bool, xattrs, times: tuple[int, int]) -> None:
        if owner is not None:
            self._chown(os.fchown, fd, *owner)
        if chmod:
            os.fchmod(fd, mode)
        if xattrs:
            self._xattrs(xattrs, fd)
        os.utime(fd, ns=times)

    def _dir_entry(self, m: Member, parent, base: bytes, rel: bytes) -> None:
        if rel:
            dfd = parent[0]
            # Owner rwx until the end, so that a read-only directory can still be filled.
            made = (m.mode & 0o777) | 0o700
            try:
                os.mkdir(base, made, dir_fd=dfd)
                self.fresh.add(rel)
                # Subdirectories of a setgid directory inherit the bit.
                umask = self.umask if self.umask is not None else 0o7777
                current = (made & ~umask) | (stat.S_ISGID if parent[2] else 0)
                uid, gid = self.euid, parent[1]
            except FileExistsError:
                st = os.stat(base, dir_fd=dfd, follow_symlinks=False)
                if not stat.S_ISDIR(st.st_mode):
                    self._clear(dfd, base, rel)
                    return self._dir_entry(m, parent, base, rel)
                # A directory over a directory merges: keep the content, take the metadata.
                current, uid, gid = stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid
            if self.same_owner and (m.uid, m.gid) != (uid, gid):
                self._chown(os.chown, base, m.uid, m.gid, dir_fd=dfd, follow_symlinks=False)
            if m.xattrs:
                self._xattrs(m.xattrs, self._proc_path(dfd, base))
        else:
            st = os.fstat(self.root[0])
            current = stat.S_IMODE(st.st_mode)
            if self.same_owner and (m.uid, m.gid) != (st.st_uid, st.st_gid):
                self._chown(os.fchown, self.root[0], m.uid, m.gid)
        chmod = m.mode if current != m.mode else None
        self.deferred.pop(rel, None)  # re-inserted, so that children stay after their parents
        self.deferred[rel] = (chmod, *self._times(m))

    def _symlink(self, m: Member, parent, base: bytes, rel: bytes) -> None:
        # The target may point anywhere (/etc/localtime -> /usr/share/zoneinfo/UTC): it is never
        # followed here, and no later entry can be written through it (see _dir).
        dfd = parent[0]
        try:
            os.symlink(m.linkname, base, dir_fd=dfd)
        except FileExistsError:
            self._clear(dfd, base, rel)
            os.symlink(m.linkname, base, dir_fd=dfd)
        owner = self._owner(m, parent)
        if owner is not None:
            self._chown(os.chown, base, *owner, dir_fd=dfd, follow_symlinks=False)
        if m.xattrs:
            self._xattrs(m.xattrs, self._proc_path(dfd, base))
        os.utime(base, ns=self._times(m), dir_fd=dfd, follow_symlinks=False)

    def _hardlink(self, m: Member, parent, base: bytes, rel: bytes) -> None:
        target = _clean(m.linkname, m.name)
        if not target:
            raise self._reject("hard link to the destination directory")
        self._settle(target)
        target_parent, _, target_base = target.rpartition(b"/")
        tparent = self._dir(target_parent, create=False)
        if tparent is None:
            raise self._reject(f"hard link target {show(m.linkname)} not found")
        if target == rel:
            return
        dfd = parent[0]

        # follow_symlinks=False: a link to a symlink is another symlink, never a link to the file
        # it points at (which could be outside the destination).
        def link() -> None:
            os.link(target_base, base, src_dir_fd=tparent[0], dst_dir_fd=dfd, follow_symlinks=False)

        try:
            link()
        except FileExistsError:
            self._clear(dfd, base, rel)
            link()
        except FileNotFoundError:
            raise self._reject(f"hard link target {show(m.linkname)} not found") from None
        except PermissionError:
            raise self._reject(f"hard link target {show(m.linkname)} is a directory") from None

    def _node(self, m: Member, parent, base: bytes, rel: bytes) -> None:
        dfd = parent[0]
        if m.type == b"6":
            make = lambda: os.mkfifo(base, m.mode & 0o777, dir_fd=dfd)  # noqa: E731
        else:
            if not self.is_root:
                return  # device nodes need root; an unprivileged extraction skips them
            kind = stat.S_IFCHR if m.type == b"3" else stat.S_IFBLK
            dev = os.makedev(m.devmajor, m.devminor)
            make = lambda: os.mknod(base, kind | (m.mode & 0o777), dev, dir_fd=dfd)  # noqa: E731
        try:
            make()
        except FileExistsError:
            self._clear(dfd, base, rel)
            make()
        except PermissionError:
            if m.type == b"6":
                raise
            return  # root without CAP_MKNOD (a user namespace): skipped, as Docker does
        owner = self._owner(m, parent)
        if owner is not None:
            self._chown(os.chown, base, *owner, dir_fd=dfd, follow_symlinks=False)
        if owner is not None or self._chmod_needed(m.mode, m.mode & 0o777):
            try:
                os.chmod(base, m.mode, dir_fd=dfd, follow_symlinks=False)
            except (NotImplementedError, ValueError):
                # libc without fchmodat(AT_SYMLINK_NOFOLLOW); the node was just made, not a link.
                os.chmod(base, m.mode, dir_fd=dfd)
        if m.xattrs:
            self._xattrs(m.xattrs, self._proc_path(dfd, base))
        os.utime(base, ns=self._times(m), dir_fd=dfd, follow_symlinks=False)

    def _finish_dirs(self) -> None:
        for rel, (chmod, atime, mtime) in reversed(self.deferred.items()):
            self._trim()
            self.member = rel
            try:
                entry = self._dir(rel, create=False)
            except ArchiveError:
                continue  # replaced by a symlink later in the archive: not ours to touch
            if entry is None:
                continue  # removed later in the archive
            if chmod is not None:
                os.fchmod(entry[0], chmod)
            os.utime(entry[0], ns=(atime, mtime))


def extract(
    stream: BinaryIO,
    dest: str | int,
    *,
    whiteouts: str = "apply",
    same_owner: bool = True,
    host_safe: bool = False,
    skipped: Callable[[bytes], None] | None = None,
) -> int:
    """Extract a tar stream (plain, gzip, bzip2 or xz) into the existing directory `dest` (a path,
    or an open directory descriptor, which stays the caller's to close).

    Returns the bytes of regular-file content written (the layer's Size). `whiteouts` says what
    `.wh.NAME` and `.wh..wh..opq` entries do: "apply" deletes NAME / empties the directory (vfs,
    or a diff applied onto a full tree), "overlay" turns them into overlayfs markers (0:0 character
    device, trusted.overlay.opaque=y), "keep" extracts them as plain files. `same_owner` applies
    the archive's uid/gid (without root, only where permitted). `host_safe` is for files landing
    on a host's own disk: device nodes are left out (each name handed to `skipped`), and modes
    keep only their permission bits, xattrs none.

    Raises ArchiveError for a corrupt, truncated or malicious archive (naming the member), and
    SystemError_ when the host fails (disk full). On any failure, whatever was already extracted is
    left in `dest`: the caller owns `dest` and removes it. Blocks until done; on a slow disk it
    creates small files from two helper threads of its own, joined before it returns.
    """
    if whiteouts not in _WHITEOUT_MODES:
        raise ValueError(f"whiteouts must be one of {_WHITEOUT_MODES}, not {whiteouts!r}")
    extractor = Extractor(dest, whiteouts, same_owner, host_safe)
    try:
        return extractor.extract(stream)
    finally:
        extractor.close()
        if skipped is not None:
            for name in extractor.skipped:
                skipped(name)
