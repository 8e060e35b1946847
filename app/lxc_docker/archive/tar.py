"""Docker layer tarballs: safe, fast extraction with whiteout handling, and creation.

Layers come from untrusted sources (import, load, registries, build contexts), so extraction resolves
every parent directory itself, one component at a time with O_NOFOLLOW relative to an open directory
descriptor, and then only touches the final name relative to that descriptor: nothing can be
written, linked, chmod-ed or deleted through a symlink or outside the destination.
"""

from __future__ import annotations

import errno
import os
import queue
import resource
import stat
import threading
import time
from collections.abc import Callable, Iterable
from typing import BinaryIO

from lxc_docker.archive.changes import Change
from lxc_docker.archive.compression import decompressed
from lxc_docker.archive.tarformat import BLOCK, REG_TYPES, Member, Reader, Writer, members, show, write_all
from lxc_docker.errors import ArchiveError, DockerError, SystemError_

WHITEOUT_PREFIX = b".wh."
WHITEOUT_META_PREFIX = b".wh..wh."
WHITEOUT_OPAQUE = b".wh..wh..opq"
OVERLAY_OPAQUE_XATTR = "trusted.overlay.opaque"

# Open directory descriptors kept between members (tars list a directory's entries together),
# within a share of the descriptor limit.
MAX_CACHED_DIRS = max(32, min(1024, resource.getrlimit(resource.RLIMIT_NOFILE)[0] // 4))

# When the kernel is slow to create inodes, small files are created by helper threads (their
# syscalls release the GIL, and run in parallel) while the main thread parses on. ext4 without a
# journal, as on our VMs, is ~10x slower at it for 30 s after files were deleted anywhere on the
# disk (it scans past recently freed inodes). When creation is fast the threads cost more in GIL
# hand-offs than they save, so files created inline are timed, in windows, to decide.
WRITER_THREADS = 2 if (os.cpu_count() or 1) > 1 else 0
POOL_AFTER_FILES = 32  # the window; small layers never start threads
POOL_SLOW_CREATE = 80e-6  # seconds per small file above which the threads pay (~35us when fast)
OFFLOAD_MAX_SIZE = 256 << 10  # bigger files are streamed by the main thread
POOL_BATCH = 16
POOL_MAX_BATCHES = 16  # bounds the memory held by queued file contents

_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# Out of space, quota, I/O: the host's problem, not the archive's.
_SYSTEM_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EMFILE, errno.ENFILE, errno.EROFS}
_WHITEOUT_MODES = ("apply", "overlay", "keep")


def _clean(name: bytes, member: bytes) -> bytes:
    """Normalize a member path to a relative one; b"" is the root. Escapes are rejected."""
    if b"\0" in name:
        raise ArchiveError(f"{show(member)}: NUL byte in path")
    if not (name[:1] in b"/." or b"/." in name or b"//" in name or name.endswith(b"/")):
        return name  # already clean: the common case, kept cheap
    parts: list[bytes] = []
    # A leading "/" is dropped, as Docker does: members are always relative to the destination.
    for part in name.split(b"/"):
        if part == b"" or part == b".":
            continue
        if part == b"..":
            if not parts:
                raise ArchiveError(f"{show(member)}: path escapes the destination directory")
            parts.pop()
        else:
            parts.append(part)
    return b"/".join(parts)


def _read_umask() -> int | None:
    # os.umask() can only read the mask by changing it, which races with other daemon threads.
    try:
        with open("/proc/self/status", "rb") as status:
            for line in status:
                if line.startswith(b"Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return None


def _os_error(name: bytes, exc: OSError) -> DockerError:
    cls = SystemError_ if exc.errno in _SYSTEM_ERRNOS else ArchiveError
    return cls(f"{show(name)}: {exc.strerror or exc}")


def _inode(fd: int) -> tuple[int, int]:
    st = os.fstat(fd)
    return st.st_dev, st.st_ino


def _up(fd: int, expected: tuple[int, int]) -> int:
    """Open the parent of directory `fd`, checking that it is still the one we came down from."""
    parent = os.open(b"..", _DIR_FLAGS, dir_fd=fd)
    if _inode(parent) != expected:
        os.close(parent)
        raise ArchiveError("a directory was moved while it was being read or removed")
    return parent


def _remove_tree(dfd: int, name: bytes) -> None:
    """`rm -r` of directory `name` in `dfd`: never following a symlink, and holding a single
    descriptor however deep the tree (shutil.rmtree holds one per level, and recurses)."""

    def empty_files(fd: int) -> list[str]:
        subdirs = []
        with os.scandir(fd) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    subdirs.append(entry.name)
                else:
                    os.unlink(entry.name, dir_fd=fd)
        return subdirs

    fd = os.open(name, _DIR_FLAGS, dir_fd=dfd)
    try:
        # Per level: its name in its parent, its inode (to check ".." against), subdirs to visit.
        levels: list[tuple[bytes | str, tuple[int, int], list[str]]] = [(name, _inode(fd), empty_files(fd))]
        while True:
            pending = levels[-1][2]
            if pending:
                child = pending.pop()
                sub = os.open(child, _DIR_FLAGS, dir_fd=fd)
                os.close(fd)
                fd = sub
                levels.append((child, _inode(fd), empty_files(fd)))
                continue
            done = levels.pop()[0]
            if not levels:
                break
            parent = _up(fd, levels[-1][1])
            os.close(fd)
            fd = parent
            os.rmdir(done, dir_fd=fd)
    finally:
        os.close(fd)
    os.rmdir(name, dir_fd=dfd)


class _Pool:
    """Threads running file-creation jobs in batches; `barrier` waits for all and re-raises."""

    def __init__(self, threads: int, run: Callable[[tuple], None]) -> None:
        self._run = run
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._batch: list[tuple] = []
        self._cond = threading.Condition()
        self._outstanding = 0
        self._cancelled = False
        self.error: BaseException | None = None
        self._threads = []
        for _ in range(threads):
            thread = threading.Thread(target=self._work, name="extract", daemon=True)
            thread.start()
            self._threads.append(thread)

    def submit(self, job: tuple) -> None:
        self._batch.append(job)
        if len(self._batch) >= POOL_BATCH:
            self.flush()

    def flush(self) -> None:
        if not self._batch:
            return
        with self._cond:
            while self._outstanding >= POOL_MAX_BATCHES:
                self._cond.wait()
            self._outstanding += 1
        self._queue.put(self._batch)
        self._batch = []
        if self.error is not None:
            raise self.error

    def barrier(self) -> None:
        self.flush()
        with self._cond:
            while self._outstanding:
                self._cond.wait()
        if self.error is not None:
            raise self.error

    def _work(self) -> None:
        while True:
            batch = self._queue.get()
            if batch is None:
                return
            for job in batch:
                if self.error is not None or self._cancelled:
                    break
                try:
                    self._run(job)
                except BaseException as exc:  # handed to the main thread, which raises it
                    self.error = exc
            with self._cond:
                self._outstanding -= 1
                self._cond.notify_all()

    def close(self) -> None:
        self._cancelled = True
        self._batch = []
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join()


class _Extractor:
    def __init__(self, dest: str, whiteouts: str, same_owner: bool) -> None:
        self.whiteouts = whiteouts
        self.same_owner = same_owner
        self.euid = os.geteuid()
        self.egid = os.getegid()
        self.is_root = self.euid == 0
        self.umask = _read_umask()
        self.size = 0
        self.member = b""
        self.timed = 0  # files created inline and timed in the current window
        self.create_time = 0.0
        self.use_pool = False
        self.pool: _Pool | None = None
        self.pending: set[bytes] = set()  # paths handed to the pool since its last barrier
        # rel dir -> (fd, gid its new children get, whether it is setgid); the root is apart.
        self.dirs: dict[bytes, tuple[int, int, bool]] = {}
        self.root = self._describe(os.open(dest, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC))
        # Directories this extraction made: nothing is in them that it did not put there.
        self.fresh: set[bytes] = set()
        with os.scandir(self.root[0]) as entries:
            if next(entries, None) is None:
                self.fresh.add(b"")
        # Every path this archive extracted (opaque directories keep these, and only these).
        self.seen: set[bytes] = set()
        # Directory metadata is set at the end, once nothing more is written inside.
        self.deferred: dict[bytes, tuple[int | None, int, int]] = {}

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()  # before closing the descriptors its jobs use
        for fd, _, _ in self.dirs.values():
            os.close(fd)
        self.dirs.clear()
        os.close(self.root[0])

    def _describe(self, fd: int) -> tuple[int, int, bool]:
        st = os.fstat(fd)
        sgid = bool(st.st_mode & stat.S_ISGID)
        return fd, (st.st_gid if sgid else self.egid), sgid

    def _reject(self, why: str) -> ArchiveError:
        return ArchiveError(f"{show(self.member)}: {why}")

    def _settle(self, rel: bytes | None = None) -> None:
        """Wait for the pool's jobs: all of them, or only if one of them is about `rel`."""
        if self.pool is not None and (rel is None or rel in self.pending):
            self.pool.barrier()
            self.pending.clear()

    # Directory descriptors.

    def _trim(self) -> None:
        if len(self.dirs) > MAX_CACHED_DIRS:
            self._settle()  # queued jobs may still use any of these descriptors
            while len(self.dirs) > MAX_CACHED_DIRS // 2:
                os.close(self.dirs.pop(next(iter(self.dirs)))[0])

    def _forget(self, rel: bytes) -> None:
        """Drop cached descriptors of `rel` and below: that directory is about to be removed."""
        below = rel + b"/"
        for key in [k for k in self.dirs if k == rel or k.startswith(below)]:
            os.close(self.dirs.pop(key)[0])
        self.fresh.discard(rel)

    def _dir(self, rel: bytes, create: bool) -> tuple[int, int, bool] | None:
        """Open directory `rel` without following any symlink; create missing ones if asked."""
        if not rel:
            return self.root
        hit = self.dirs.get(rel)
        if hit is not None:
            return hit
        parts = rel.split(b"/")
        start = len(parts) - 1
        parent = None
        while start > 0:
            parent = self.dirs.get(b"/".join(parts[:start]))
            if parent is not None:
                break
            start -= 1
        if parent is None:
            parent = self.root
        # Intermediate directories past the cache's size are closed as soon as their child is
        # open: a very deep path must not exhaust the descriptor limit.
        transient = -1
        try:
            for i in range(start, len(parts)):
                path = b"/".join(parts[: i + 1])
                self._settle(path)
                try:
                    fd = os.open(parts[i], _DIR_FLAGS, dir_fd=parent[0])
                except FileNotFoundError:
                    if not create:
                        return None
                    os.mkdir(parts[i], 0o755, dir_fd=parent[0])
                    self.seen.add(path)
                    self.fresh.add(path)
                    fd = os.open(parts[i], _DIR_FLAGS, dir_fd=parent[0])
                except OSError as exc:
                    if exc.errno not in (errno.ENOTDIR, errno.ELOOP):
                        raise
                    # Following it could lead anywhere on the host (CVE-2014-6407, CVE-2018-15664).
                    st = os.stat(parts[i], dir_fd=parent[0], follow_symlinks=False)
                    what = "a symlink" if stat.S_ISLNK(st.st_mode) else "not a directory"
                    raise self._reject(f"parent {show(path)} is {what}") from None
                if transient >= 0:
                    os.close(transient)
                    transient = -1
                parent = self._describe(fd)
                if i == len(parts) - 1 or len(self.dirs) < MAX_CACHED_DIRS:
                    self.dirs[path] = parent
                else:
                    transient = fd
            return parent
        finally:
            if transient >= 0:
                os.close(transient)

    def _clear(self, dfd: int, base: bytes, rel: bytes) -> None:
        """Remove whatever is at `base` in `dfd`, to replace or delete it."""
        self._settle()
        try:
            os.unlink(base, dir_fd=dfd)
        except IsADirectoryError:
            self._forget(rel)
            _remove_tree(dfd, base)
        except FileNotFoundError:
            pass

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
        if not rel:
            if kind == b"5":
                self._dir_entry(m, self.root, b"", b"")
            reader.skip(m.size + (-m.size % BLOCK))
            return
        parent_rel, _, base = rel.rpartition(b"/")
        if self.whiteouts != "keep" and base.startswith(WHITEOUT_PREFIX):
            reader.skip(m.size + (-m.size % BLOCK))
            self._whiteout(parent_rel, base)
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
                self.pool = _Pool(WRITER_THREADS, self._create_file)
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

    # Whiteouts.

    def _whiteout(self, parent_rel: bytes, base: bytes) -> None:
        self._settle()
        if base == WHITEOUT_OPAQUE:
            if self.whiteouts == "overlay":
                parent = self._dir(parent_rel, create=True)
                os.setxattr(parent[0], OVERLAY_OPAQUE_XATTR, b"y")  # type: ignore[index]
            else:
                parent = self._dir(parent_rel, create=False)
                if parent is not None:
                    self._make_opaque(parent_rel, parent[0])
            return
        if base.startswith(WHITEOUT_META_PREFIX) and not parent_rel:
            return  # AUFS bookkeeping (.wh..wh.plnk, .wh..wh.aufs), skipped as Docker does
        name = base[len(WHITEOUT_PREFIX) :]
        if name in (b"", b".", b".."):
            raise self._reject("invalid whiteout name")
        rel = parent_rel + b"/" + name if parent_rel else name
        if self.whiteouts == "overlay":
            parent = self._dir(parent_rel, create=True)
            dfd = parent[0]  # type: ignore[index]
            self._clear(dfd, name, rel)
            # overlayfs marks a deletion with a 0:0 character device of the deleted name.
            os.mknod(name, stat.S_IFCHR, 0, dir_fd=dfd)
            self.seen.add(rel)
            return
        parent = self._dir(parent_rel, create=False)
        if parent is not None:
            self._clear(parent[0], name, rel)
            self.seen.discard(rel)

    def _make_opaque(self, rel: bytes, dfd: int, keep: set[bytes] | None = None) -> None:
        """Remove what lower layers put in `rel`, keeping what this archive extracted."""
        if keep is None:
            # What this archive extracted below `rel`, and the directories leading to it.
            prefix = rel + b"/" if rel else b""
            keep = set()
            for path in self.seen:
                if path.startswith(prefix):
                    parts = path[len(prefix) :].split(b"/")
                    keep.update(prefix + b"/".join(parts[:i]) for i in range(1, len(parts) + 1))
        for entry in os.listdir(dfd):
            name = os.fsencode(entry)
            child = rel + b"/" + name if rel else name
            if child not in keep:
                self._clear(dfd, name, child)
            elif stat.S_ISDIR(os.stat(name, dir_fd=dfd, follow_symlinks=False).st_mode):
                sub = self._dir(child, create=False)
                if sub is not None:
                    self._make_opaque(child, sub[0], keep)

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


def extract(stream: BinaryIO, dest: str, *, whiteouts: str = "apply", same_owner: bool = True) -> int:
    """Extract a tar stream (plain, gzip, bzip2 or xz) into the existing directory `dest`.

    Returns the bytes of regular-file content written (the layer's Size). `whiteouts` says what
    `.wh.NAME` and `.wh..wh..opq` entries do: "apply" deletes NAME / empties the directory (vfs,
    or a diff applied onto a full tree), "overlay" turns them into overlayfs markers (0:0 character
    device, trusted.overlay.opaque=y), "keep" extracts them as plain files. `same_owner` applies
    the archive's uid/gid (without root, only where permitted).

    Raises ArchiveError for a corrupt, truncated or malicious archive (naming the member), and
    SystemError_ when the host fails (disk full). On any failure, whatever was already extracted is
    left in `dest`: the caller owns `dest` and removes it. Blocks until done; on a slow disk it
    creates small files from two helper threads of its own, joined before it returns.
    """
    if whiteouts not in _WHITEOUT_MODES:
        raise ValueError(f"whiteouts must be one of {_WHITEOUT_MODES}, not {whiteouts!r}")
    extractor = _Extractor(dest, whiteouts, same_owner)
    try:
        return extractor.extract(stream)
    finally:
        extractor.close()


# --- creation --------------------------------------------------------------------------------
#
# The source may be the root filesystem of a running container, whose processes can swap a
# directory for a symlink while we read: every name is opened relative to its parent directory's
# descriptor and never followed, so the archive cannot be made to include host files (the class of
# CVE-2018-15664, `docker cp`).

_OPEN_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


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
        # Depth first with an explicit stack (trees can be deeper than Python's recursion limit)
        # and one open directory, the current one: back up through a checked "..".
        levels = [(b"", _inode(fd), iter(_sorted_names(fd)))]
        while True:
            rel, _, names = levels[-1]
            name = next(names, None)
            if name is None:
                levels.pop()
                if not levels:
                    break
                parent = _up(fd, levels[-1][1])
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
                levels.append((child + b"/", _inode(fd), iter(_sorted_names(fd))))
        archiver.writer.end()
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
