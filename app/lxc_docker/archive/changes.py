"""What a layer changed relative to its parent (`docker diff`, and the content of a committed layer).

Two ways to know: compare two full trees (vfs, or any driver without a better way), or read an
overlayfs upper directory, where changes are recorded as such (whiteouts, opaque directories).
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass

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


def _differs(new: os.stat_result, old: os.stat_result, new_path: str, old_path: str) -> bool:
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
        return os.readlink(new_path) != os.readlink(old_path)
    return False


def _child(parent: str, name: str) -> str:
    return parent + "/" + name if parent != "/" else "/" + name


def _all_added(top: str, path: str, out: list[Change]) -> None:
    stack = [(top, path)]
    while stack:
        top, path = stack.pop()
        for entry in os.scandir(top):
            child = _child(path, entry.name)
            out.append(Change(child, ADDED))
            if entry.is_dir(follow_symlinks=False):
                stack.append((entry.path, child))


def _compare(new_top: str, old_top: str, out: list[Change]) -> None:
    """Append the changes between two directory trees that both exist."""
    # Depth first with an explicit stack (trees can be deeper than Python's recursion limit). A
    # frame is a directory to compare (`mark`: whether to check it once its subtree is done), or
    # that check (new_dir None; `mark`: how many changes there were before the subtree).
    stack: list[tuple[str | None, str, str, int]] = [(new_top, old_top, "/", 0)]
    while stack:
        new_dir, old_dir, path, mark = stack.pop()
        if new_dir is None:
            # Docker reports a directory as changed when anything below it is, so that applying
            # the layer restores the directory's metadata (mtime) too.
            if len(out) > mark:
                out.append(Change(path, CHANGED))
            continue
        if mark:
            stack.append((None, "", path, len(out)))
        old_names = set(os.listdir(old_dir))
        for entry in os.scandir(new_dir):
            child = _child(path, entry.name)
            new_st = entry.stat(follow_symlinks=False)
            if entry.name not in old_names:
                out.append(Change(child, ADDED))
                if stat.S_ISDIR(new_st.st_mode):
                    _all_added(entry.path, child, out)
                continue
            old_names.discard(entry.name)
            old_path = os.path.join(old_dir, entry.name)
            old_st = os.lstat(old_path)
            changed = _differs(new_st, old_st, entry.path, old_path)
            if changed:
                out.append(Change(child, CHANGED))
            if not stat.S_ISDIR(new_st.st_mode):
                continue  # a non-directory replacing a directory removes it whole: no deletions below
            if not stat.S_ISDIR(old_st.st_mode):
                _all_added(entry.path, child, out)
            else:
                stack.append((entry.path, old_path, child, not changed))
        for name in old_names:
            out.append(Change(_child(path, name), DELETED))


def _sorted(out: list[Change]) -> list[Change]:
    # Byte order, as Docker (Go strings) sorts, also for names that are not valid UTF-8.
    return sorted(out, key=lambda c: os.fsencode(c.path))


def changes(layer_dir: str, parent_dir: str | None) -> list[Change]:
    """Compare the full tree `layer_dir` with its parent's full tree (None: no parent)."""
    out: list[Change] = []
    if parent_dir is None:
        _all_added(layer_dir, "/", out)
    else:
        _compare(layer_dir, parent_dir, out)
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
    # (directory, its path, whether everything below is new: it is new or opaque)
    stack = [(upper_dir, "/", False)]
    while stack:
        top, path, fresh = stack.pop()
        for entry in os.scandir(top):
            child = _child(path, entry.name)
            st = entry.stat(follow_symlinks=False)
            if _is_whiteout(st):
                if not fresh:
                    out.append(Change(child, DELETED))
                continue
            existed = not fresh and _in_lowers(child[1:].split("/"), lower_dirs)
            out.append(Change(child, CHANGED if existed else ADDED))
            if stat.S_ISDIR(st.st_mode):
                stack.append((entry.path, child, not existed or _is_opaque(entry.path)))
    return _sorted(out)
