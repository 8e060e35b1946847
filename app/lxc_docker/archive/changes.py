"""What a layer changed relative to its parent (`docker diff`, and the content of a committed layer).

Two ways to know: compare two full trees (vfs, or any driver without a better way), or read an
overlayfs upper directory, where changes are recorded as such (whiteouts, opaque directories).
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass

from lxc_docker.archive import safepath

ADDED = "A"
CHANGED = "C"
DELETED = "D"

_OPAQUE_XATTR = "trusted.overlay.opaque"


@dataclass(frozen=True)
class Change:
    """One changed path, as `docker diff` prints it."""

    path: str  # absolute style: "/etc/passwd"
    kind: str  # "A", "C" or "D"

    def __str__(self) -> str:
        return f"{self.kind} {self.path}"


def _same_time(a: int, b: int) -> bool:
    # Like Docker: a tar-extracted copy has whole seconds, so nanoseconds count only if both have them.
    if a == b:
        return True
    return a // 1_000_000_000 == b // 1_000_000_000 and (a % 1_000_000_000 == 0 or b % 1_000_000_000 == 0)


def _differs(new: os.stat_result, old: os.stat_result, new_at: tuple[int, str], old_path: str) -> bool:
    if (
        new.st_mode != old.st_mode
        or new.st_uid != old.st_uid
        or new.st_gid != old.st_gid
        or new.st_rdev != old.st_rdev
    ):
        return True
    # A directory's size and mtime say nothing about its content, which is compared entry by entry
    # (and marks it changed when anything below is). Its mtime also moves when a directory is
    # made in it in both trees at different times: vfs makes a volume's mount point in the init
    # layer and again in the container's copy of it, and `docker diff` showed `C /data` whenever
    # the clock ticked between the two mkdirs. Docker stopped comparing directory mtimes too.
    if stat.S_ISDIR(new.st_mode):
        return False
    if new.st_size != old.st_size or not _same_time(new.st_mtime_ns, old.st_mtime_ns):
        return True
    if stat.S_ISLNK(new.st_mode):
        dir_fd, name = new_at
        return os.readlink(name, dir_fd=dir_fd) != os.readlink(old_path)
    return False


def _child(parent: str, name: str) -> str:
    return parent + "/" + name if parent != "/" else "/" + name


def _open(path: str) -> int:
    return os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)


# The layer being read may belong to a running container, which can swap any directory for a
# symlink (to the host's /) while we list it: it is walked through descriptors (safepath.walk_tree),
# never by joined paths. The parent's tree is an image's, which nothing changes.


def _all_added(top: int, path: str, out: list[Change]) -> None:
    def enter(_fd: int, name: str, st: os.stat_result, parent: str) -> str | None:
        child = _child(parent, name)
        out.append(Change(child, ADDED))
        return child

    safepath.walk_tree(top, enter, path)


class _Dir:
    """A directory of the new tree being compared: `old` is its path in the parent's tree (None
    when everything below is new), `old_names` what it held there and is not seen yet, `mark` the
    count of changes before its subtree when it is to be marked changed if that subtree is."""

    __slots__ = ("path", "old", "old_names", "mark")

    def __init__(self, path: str, old: str | None, mark: int | None = None) -> None:
        self.path = path
        self.old = old
        self.old_names = set(os.listdir(old)) if old is not None else set()
        self.mark = mark


def _compare(new_top: int, old_top: str, out: list[Change]) -> None:
    """Append the changes between two directory trees that both exist."""

    def enter(fd: int, name: str, new_st: os.stat_result, parent: _Dir) -> _Dir | None:
        child = _child(parent.path, name)
        is_dir = stat.S_ISDIR(new_st.st_mode)
        if parent.old is None or name not in parent.old_names:
            out.append(Change(child, ADDED))
            return _Dir(child, None) if is_dir else None
        parent.old_names.discard(name)
        old_path = os.path.join(parent.old, name)
        old_st = os.lstat(old_path)
        changed = _differs(new_st, old_st, (fd, name), old_path)
        if changed:
            out.append(Change(child, CHANGED))
        if not is_dir:
            return None  # a non-directory replacing a directory removes it whole: no deletions below
        if not stat.S_ISDIR(old_st.st_mode):
            return _Dir(child, None)
        return _Dir(child, old_path, None if changed else len(out))

    def leave(d: _Dir) -> None:
        for name in d.old_names:
            out.append(Change(_child(d.path, name), DELETED))
        # Docker reports a directory as changed when anything below it is, so that applying the
        # layer restores the directory's metadata (mtime) too.
        if d.mark is not None and len(out) > d.mark:
            out.append(Change(d.path, CHANGED))

    root = _Dir("/", old_top)
    safepath.walk_tree(new_top, enter, root, leave)
    leave(root)


def _sorted(out: list[Change]) -> list[Change]:
    # Byte order, as Docker (Go strings) sorts, also for names that are not valid UTF-8.
    return sorted(out, key=lambda c: os.fsencode(c.path))


def changes(layer_dir: str, parent_dir: str | None) -> list[Change]:
    """Compare the full tree `layer_dir` with its parent's full tree (None: no parent)."""
    out: list[Change] = []
    top = _open(layer_dir)
    try:
        if parent_dir is None:
            _all_added(top, "/", out)
        else:
            _compare(top, parent_dir, out)
    finally:
        os.close(top)
    return _sorted(out)


def _is_whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def _is_opaque(path: str) -> bool:
    try:
        return os.getxattr(path, _OPAQUE_XATTR, follow_symlinks=False) == b"y"
    except OSError:
        return False


def _in_lowers(parts: list[str], lower_dirs: list[str]) -> bool:
    """Whether a path is visible through the lower layers (topmost first), as overlayfs sees them."""
    for lower in lower_dirs:
        path = lower
        stop = False
        for i, part in enumerate(parts):
            path = os.path.join(path, part)
            try:
                st = os.lstat(path)
            except FileNotFoundError:
                break
            if _is_whiteout(st):
                return False
            if i == len(parts) - 1:
                return True
            if not stat.S_ISDIR(st.st_mode):
                return False  # a file here hides whatever deeper layers have below this name
            if _is_opaque(path):
                stop = True  # this directory hides the deeper layers' version of it
        if stop:
            return False
    return False


def overlay_changes(upper_dir: str, lower_dirs: list[str]) -> list[Change]:
    """Read the changes recorded in an overlayfs upper dir; `lower_dirs` are listed topmost first."""
    out: list[Change] = []

    # State of a directory: (its path, whether everything below is new: it is new or opaque).
    def enter(fd: int, name: str, st: os.stat_result, parent: tuple[str, bool]) -> tuple[str, bool] | None:
        path, fresh = parent
        child = _child(path, name)
        if _is_whiteout(st):
            if not fresh:
                out.append(Change(child, DELETED))
            return None
        existed = not fresh and _in_lowers(child[1:].split("/"), lower_dirs)
        out.append(Change(child, CHANGED if existed else ADDED))
        if not stat.S_ISDIR(st.st_mode):
            return None
        return child, not existed or _is_opaque(f"/proc/self/fd/{fd}/{name}")

    top = _open(upper_dir)
    try:
        safepath.walk_tree(top, enter, ("/", False))
    finally:
        os.close(top)
    return _sorted(out)
