"""The StorageDriver interface every layer store implements, the driver registry, and the naive
diff/changes fallback (a directory comparison through `archive.changes`) drivers can lean on.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import IO, BinaryIO, NamedTuple

from lxc_docker.archive import safepath
from lxc_docker.errors import InvalidParameter
from lxc_docker.sysutil.mountprop import unescape

TMP_PREFIX = ".tmp-"
"""Entries of a driver's home starting with this are unfinished work (a create or remove that a crash
interrupted); they are never layers and a driver sweeps them away when it starts."""


class StorageDriver(ABC):
    """A store of layers, each a filesystem tree stacked on an optional parent layer.

    Layer ids are chosen by the caller (the graph). All methods are safe to call from several
    threads, for different ids and for the same id.
    """

    name: str = ""

    def __init__(self, home: str) -> None:
        """`home` is `<graph root>/<driver name>`; raise DriverNotSupported if the host can't do it."""
        self.home = home

    @abstractmethod
    def create(self, id: str, parent: str | None) -> None:
        """Make a new empty layer `id` on top of `parent` (NotFound if missing, Conflict if `id` exists)."""

    @abstractmethod
    def remove(self, id: str) -> None:
        """Delete layer `id`, unmounting it first; removing a missing layer is not an error."""

    @abstractmethod
    def get(self, id: str) -> str:
        """Return the path of the layer's full root filesystem, mounting it if needed.

        Reference counted: every get() must be paired with a put().
        """

    @abstractmethod
    def put(self, id: str) -> None:
        """Release one reference taken by get(); the last one unmounts."""

    @abstractmethod
    def exists(self, id: str) -> bool:
        """Whether layer `id` is on disk."""

    @abstractmethod
    def status(self) -> list[tuple[str, str]]:
        """Key/value lines that `docker info` prints under "Driver:"."""

    @abstractmethod
    def cleanup(self) -> None:
        """Unmount everything this driver mounted (daemon shutdown)."""

    def release_unused(self, keep: set[str]) -> None:
        """Unmount what a crashed daemon left mounted, except the layers in `keep` (those of the
        containers that still run: live restore takes them back through get()). Nothing to do for
        drivers that mount nothing."""
        return None

    @abstractmethod
    def list_ids(self) -> list[str]:
        """Ids of the layers on disk, including partial ones a crash left (so they can be removed)."""

    # The four methods below work for any driver by comparing mounted trees; drivers that know
    # their layer's own changes (overlay's upper dir) override them with something faster.

    def apply_diff(self, id: str, stream: BinaryIO) -> int:
        """Extract a layer tar (possibly compressed) into layer `id`, made by create() beforehand.

        Return the number of bytes written. On error the layer holds part of the tar; the caller
        removes it.
        """
        from lxc_docker.archive.extract import extract

        root = self.get(id)
        try:
            return extract(stream, root, whiteouts="apply")
        finally:
            self.put(id)

    def diff(self, id: str, parent: str | None, out: IO[bytes]) -> None:
        """Write to `out` a layer tar (Docker whiteout format) of `id`'s changes against `parent`."""
        from lxc_docker.archive.create import create, create_from_changes

        if parent is None:
            with self._mounted(id) as root:
                create(root, out, whiteouts="none")
            return
        with self._mounted(id) as root, self._mounted(parent) as parent_root:
            create_from_changes(root, _naive_changes(root, parent_root), out)

    def changes(self, id: str, parent: str | None) -> list:
        """List the archive.changes.Change entries (added, changed, deleted) of `id` against `parent`."""
        with self._mounted(id) as root:
            if parent is None:
                return _naive_changes(root, None)
            with self._mounted(parent) as parent_root:
                return _naive_changes(root, parent_root)

    def diff_size(self, id: str, parent: str | None) -> int:
        """Bytes of the files `id` adds or changes against `parent`."""
        with self._mounted(id) as root:
            if parent is None:
                return dir_size(root)
            with self._mounted(parent) as parent_root:
                return changes_size(root, _naive_changes(root, parent_root))

    @contextlib.contextmanager
    def _mounted(self, id: str) -> Iterator[str]:
        path = self.get(id)
        try:
            yield path
        finally:
            self.put(id)


def _naive_changes(root: str, parent_root: str | None) -> list:
    from lxc_docker.archive import changes

    return changes.changes(root, parent_root)


def dir_size(path: str) -> int:
    """Bytes held by the non-directory entries under `path`, counting hard-linked files once.

    Walked through descriptors: `path` may be a running container's layer, whose directories can
    be swapped for symlinks to the host's while we count."""
    seen: set[tuple[int, int]] = set()
    total = 0

    def enter(_fd: int, _name: str, st: os.stat_result, _state: bool) -> bool | None:
        nonlocal total
        if stat.S_ISDIR(st.st_mode):
            return True
        total += _entry_size(st, seen)
        return None

    top = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        safepath.walk_tree(top, enter, True)
    finally:
        os.close(top)
    return total


def changes_size(root: str, changes: list) -> int:
    """Bytes of the added or changed non-directory entries of `changes`, found under `root`."""
    seen: set[tuple[int, int]] = set()
    total = 0
    top = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for change in changes:
            if change.kind == "D":
                continue
            try:
                st = safepath.lstat(top, change.path)  # never following a symlink on the way
            except (FileNotFoundError, NotADirectoryError):
                continue
            except OSError as e:
                if e.errno not in (errno.ELOOP, errno.ESTALE):
                    raise
                continue
            if not stat.S_ISDIR(st.st_mode):
                total += _entry_size(st, seen)
    finally:
        os.close(top)
    return total


def _entry_size(st: os.stat_result, seen: set[tuple[int, int]]) -> int:
    key = (st.st_dev, st.st_ino)
    if key in seen:
        return 0
    seen.add(key)
    return st.st_size


def validate_id(id: str) -> None:
    """Refuse ids that could name something other than one entry of the driver's home."""
    if (
        not id
        or id.startswith(".")
        or "/" in id
        or "\0" in id
        or id == "l"  # overlay's directory of short links
    ):
        raise InvalidParameter(f"invalid layer id: {id!r}")


def remove_tree(path: str) -> None:
    """Delete `path` recursively, refusing to descend into anything mounted below it.

    A still-mounted overlay would otherwise let the delete walk into, and wipe, the lower layers.
    """
    mounted = mounts_under(path)
    if mounted:
        raise OSError(errno.EBUSY, f"refusing to delete, {mounted[0]} is still mounted", path)
    with contextlib.suppress(FileNotFoundError):
        shutil.rmtree(path)


class MountEntry(NamedTuple):
    """One line of /proc/self/mountinfo (the fields the storage drivers need)."""

    mountpoint: str
    fstype: str
    source: str
    root: str = "/"  # the directory of the source filesystem that is mounted (not "/" for a bind)
    device: str = ""  # "major:minor" of the source filesystem


def read_mountinfo() -> list[MountEntry]:
    """The mount table of this process's mount namespace, in mount order."""
    entries = []
    with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            entries.append(
                MountEntry(
                    mountpoint=unescape(fields[4]),
                    fstype=fields[sep + 1],
                    source=unescape(fields[sep + 2]),
                    root=unescape(fields[3]),
                    device=fields[2],
                )
            )
    return entries


def mounts_under(path: str) -> list[str]:
    """Mount points at or below `path`, deepest first (the order to unmount them in).

    A point is listed once per mount stacked on it, so unmounting each entry by path removes all.
    """
    real = os.path.realpath(path)
    prefix = real.rstrip("/") + "/"
    found = [
        m.mountpoint for m in read_mountinfo() if m.mountpoint == real or m.mountpoint.startswith(prefix)
    ]
    return sorted(found, key=lambda p: (p.count("/"), p), reverse=True)


def backing_filesystem(path: str) -> str:
    """The type (as in /proc/filesystems, e.g. "ext4") of the filesystem holding `path`."""
    real = os.path.realpath(path)
    best, best_len = "unknown", -1
    for entry in read_mountinfo():
        mp = entry.mountpoint
        inside = real == mp or real.startswith(mp.rstrip("/") + "/")
        # `>=` so that of two mounts stacked on one point the later, visible one wins.
        if inside and len(mp) >= best_len:
            best, best_len = entry.fstype, len(mp)
    return best


# Docker's names for the backing filesystem in `docker info`, which come from statfs magic numbers
# and so call every ext version "extfs".
_DOCKER_FS_NAMES = {"ext2": "extfs", "ext3": "extfs", "ext4": "extfs"}


def docker_fs_name(fstype: str) -> str:
    """The name `docker info` uses for filesystem type `fstype`."""
    return _DOCKER_FS_NAMES.get(fstype, fstype)


class IdLocks:
    """One lock per layer id, so a slow remove() of one layer never blocks get() of another."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, list] = {}  # id -> [lock, number of holders and waiters]

    @contextlib.contextmanager
    def hold(self, id: str) -> Iterator[None]:
        with self._guard:
            entry = self._locks.setdefault(id, [threading.Lock(), 0])
            entry[1] += 1
        try:
            with entry[0]:
                yield
        finally:
            with self._guard:
                entry[1] -= 1
                if entry[1] == 0:
                    del self._locks[id]


_REGISTRY: dict[str, type[StorageDriver]] = {}


def register(name: str, cls: type[StorageDriver]) -> None:
    """Make driver class `cls` selectable as `-s name`."""
    _REGISTRY[name] = cls


def driver_class(name: str) -> type[StorageDriver]:
    """The driver class registered as `name` (InvalidParameter if there is none)."""
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        raise InvalidParameter(f"no such storage driver: {name} (known drivers: {known})") from None
