"""The destination of an extraction, seen through open directory descriptors: every directory a
member names is opened one component at a time with O_NOFOLLOW from the destination down (a
symlink on the way is refused, never followed), and cached while the archive lists its entries.
Subclassed by the extractor (extract.py), which writes the entries.
"""

from __future__ import annotations

import errno
import os
import resource
import stat

from lxc_docker.archive import safepath
from lxc_docker.archive.extractpool import Pool
from lxc_docker.archive.tarformat import show
from lxc_docker.errors import ArchiveError

# Open directory descriptors kept between members (tars list a directory's entries together),
# within a share of the descriptor limit.
MAX_CACHED_DIRS = max(32, min(1024, resource.getrlimit(resource.RLIMIT_NOFILE)[0] // 4))

_DIR_FLAGS = safepath.DIR_FLAGS


def read_umask() -> int | None:
    # os.umask() can only read the mask by changing it, which races with other daemon threads.
    try:
        with open("/proc/self/status", "rb") as status:
            for line in status:
                if line.startswith(b"Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return None


class DestTree:
    """Directories of the destination `dest` (a path, or a descriptor that stays the caller's)."""

    def __init__(self, dest: str | int) -> None:
        self.egid = os.getegid()
        self.member = b""
        self.pool: Pool | None = None
        self.pending: set[bytes] = set()  # paths handed to the pool since its last barrier
        # rel dir -> (fd, gid its new children get, whether it is setgid); the root is apart.
        self.dirs: dict[bytes, tuple[int, int, bool]] = {}
        if isinstance(dest, int):
            fd = os.dup(dest)
        else:
            fd = os.open(dest, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        self.root = self._describe(fd)
        # Directories this extraction made: nothing is in them that it did not put there.
        self.fresh: set[bytes] = set()
        with os.scandir(self.root[0]) as entries:
            if next(entries, None) is None:
                self.fresh.add(b"")
        # Every path this archive extracted (opaque directories keep these, and only these).
        self.seen: set[bytes] = set()

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
            safepath.remove_tree(dfd, base)
        except FileNotFoundError:
            pass
