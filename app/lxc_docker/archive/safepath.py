"""A path under a hostile root: the one place that walks into a tree someone else controls (an image,
a container's filesystem while it runs, a tar being extracted, a `docker cp` destination).

Everything below the root is reached through directory descriptors, one component at a time, each
opened with O_NOFOLLOW relative to its parent: a path is never joined and opened whole, so a symlink
swapped in between two calls cannot send us onto the host's files (CVE-2014-6407, CVE-2018-15664).
Symlinks met on the way are resolved the way a chroot would: absolute targets start again at the
root and `..` never climbs above it. Only the os module is used (the client imports this too).
"""

from __future__ import annotations

import errno
import os
import stat

# The container's init imports this module: typing costs start-up time on every `docker run`.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import TypeVar

    T = TypeVar("T")

MAX_SYMLINKS = 40  # what the kernel follows in one path walk (ELOOP beyond)
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC

Root = int | str | bytes  # an open directory descriptor, or the trusted path of one


def clean(name: bytes) -> bytes | None:
    """`name` as a relative path without `.`, `..` or empty components; b"" is the root itself.

    A leading "/" is dropped (tar members are relative to their destination, as Docker has them).
    None when `..` would climb above the root: such a name is refused, not clamped.
    """
    if not (name[:1] in b"/." or b"/." in name or b"//" in name or name.endswith(b"/")):
        return name  # already clean: the common case, kept cheap
    parts: list[bytes] = []
    for part in name.split(b"/"):
        if part == b"" or part == b".":
            continue
        if part == b"..":
            if not parts:
                return None
            parts.pop()
        else:
            parts.append(part)
    return b"/".join(parts)


def inode(fd: int) -> tuple[int, int]:
    st = os.fstat(fd)
    return st.st_dev, st.st_ino


def up(fd: int, expected: tuple[int, int]) -> int:
    """Open the parent of directory `fd`, checking that it is still the one we came down from."""
    parent = os.open(b"..", DIR_FLAGS, dir_fd=fd)
    if inode(parent) != expected:
        os.close(parent)
        raise OSError(errno.ESTALE, "a directory was moved while it was being walked")
    return parent


class Resolved:
    """Where a path leads: entry `name` of the open directory `dir_fd` (b"" for `dir_fd` itself).

    `names` is the resolved path from the root (symlinks followed). With `missing` > 0, the last
    `missing` names do not exist: `dir_fd` is the deepest directory that does, and `name` is b"".
    The caller closes `dir_fd`.
    """

    __slots__ = ("dir_fd", "name", "names", "missing")

    def __init__(self, dir_fd: int, name: bytes, names: list[bytes], missing: int = 0) -> None:
        self.dir_fd = dir_fd
        self.name = name
        self.names = names
        self.missing = missing


def _fsencode(path: str | bytes) -> bytes:
    return path if isinstance(path, bytes) else os.fsencode(path)


def _parts(path: bytes) -> list[bytes]:
    return [p for p in path.split(b"/") if p and p != b"."]


def _reopen(root_fd: int, names: list[bytes]) -> int:
    """Open directory `names` below the root again (after `..`), following nothing."""
    fd = os.dup(root_fd)
    try:
        for name in names:
            sub = os.open(name, DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = sub
    except BaseException:
        os.close(fd)
        raise
    return fd


def walk(
    root_fd: int,
    path: str | bytes,
    *,
    follow: bool = True,
    create: bool = False,
    mode: int = 0o755,
    allow_missing: bool = False,
    new_last: bool = False,
) -> Resolved:
    """Resolve `path` inside the directory `root_fd` as a process chrooted there would.

    `follow`: a symlink as the last component is resolved too (else it is the result). `create`:
    missing directories on the way are made with `mode` (not the last component, which is the
    caller's to make: with `create` or `new_last`, a missing last component is the result).
    `allow_missing`: the rest of a path that does not exist is kept by name
    (see Resolved.missing) instead of raising FileNotFoundError. NotADirectoryError when a
    non-directory is met before the end, OSError(ELOOP) past MAX_SYMLINKS.
    """
    pending = _parts(_fsencode(path))
    pending.reverse()  # popped from the end
    names: list[bytes] = []
    missing = 0
    links = 0
    fd = os.dup(root_fd)
    try:
        while pending:
            part = pending.pop()
            last = not pending
            if part == b"..":
                if not names:
                    continue  # the root is its own parent, as in a chroot
                names.pop()
                if missing:
                    missing -= 1
                else:
                    os.close(fd)
                    fd = -1
                    fd = _reopen(root_fd, names)
                continue
            if missing:
                names.append(part)
                missing += 1
                continue
            if last and not follow:
                return Resolved(fd, part, [*names, part])
            try:
                sub = os.open(part, DIR_FLAGS, dir_fd=fd)
            except FileNotFoundError:
                if last and (create or new_last):
                    return Resolved(fd, part, [*names, part])
                if create:
                    try:
                        os.mkdir(part, mode, dir_fd=fd)
                    except FileExistsError:
                        pass  # made meanwhile (or a dangling symlink: met below on the retry)
                    pending.append(part)
                    continue
                if not allow_missing:
                    raise FileNotFoundError(errno.ENOENT, "No such file or directory", _show(names, part))
                names.append(part)
                missing = 1
                continue
            except OSError as exc:
                if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
                    raise
                st = os.stat(part, dir_fd=fd, follow_symlinks=False)
                if stat.S_ISLNK(st.st_mode) or stat.S_ISDIR(st.st_mode):
                    # A retry after a swap counts too, so that flipping forever cannot hold us.
                    links += 1
                    if links > MAX_SYMLINKS:
                        raise OSError(errno.ELOOP, "Too many levels of symbolic links", _show(names, part))
                if stat.S_ISLNK(st.st_mode):
                    target = os.readlink(part, dir_fd=fd)
                    if target.startswith(b"/"):
                        names = []
                        os.close(fd)
                        fd = -1
                        fd = os.dup(root_fd)
                    pending.extend(reversed(_parts(target)))
                    continue
                if stat.S_ISDIR(st.st_mode):
                    pending.append(part)  # a symlink was swapped for a directory: look again
                    continue
                if last:
                    return Resolved(fd, part, [*names, part])
                if allow_missing:
                    names.append(part)
                    missing = 1
                    continue
                raise NotADirectoryError(errno.ENOTDIR, "Not a directory", _show(names, part)) from None
            os.close(fd)
            fd = sub
            names.append(part)
        return Resolved(fd, b"", names, missing)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        raise


def _show(names: list[bytes], part: bytes) -> str:
    return os.fsdecode(b"/" + b"/".join([*names, part]))


class _RootFd:
    """An open descriptor for `root`: borrowed when given one, else opened (and closed) here."""

    def __init__(self, root: Root) -> None:
        if isinstance(root, int):
            self.fd, self.owned = root, False
        else:
            # The root itself is the caller's trusted path: it may be reached through symlinks.
            self.fd, self.owned = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC), True

    def __enter__(self) -> int:
        return self.fd

    def __exit__(self, *exc: object) -> None:
        if self.owned:
            os.close(self.fd)


def open_dir(root: Root, path: str | bytes, *, create: bool = False, mode: int = 0o755) -> int:
    """A descriptor of directory `path` under `root` (made, with its parents, when `create`)."""
    with _RootFd(root) as root_fd:
        found = walk(root_fd, path, create=create, mode=mode)
        if not found.name:
            return found.dir_fd
        try:
            if not create:
                raise NotADirectoryError(
                    errno.ENOTDIR, "Not a directory", _show(found.names[:-1], found.name)
                )
            try:
                os.mkdir(found.name, mode, dir_fd=found.dir_fd)
            except FileExistsError:
                pass
            # A name that is not a directory (or a symlink planted meanwhile) fails here.
            return os.open(found.name, DIR_FLAGS, dir_fd=found.dir_fd)
        finally:
            os.close(found.dir_fd)


def make_dirs(
    root: Root, path: str | bytes, mode: int = 0o755, *, owner: tuple[int, int] | None = None
) -> tuple[int, bool]:
    """A descriptor of directory `path` under `root`, made with its missing parents when needed,
    and whether the directory itself was made.

    Symlinks on the way are followed inside the root (an image's `/etc -> /host/etc` leads to
    `<root>/host/etc`, made here if missing). Each directory made gets exactly `mode` (not masked
    by the umask) and `owner` when given. NotADirectoryError when a non-directory is in the way.
    """
    with _RootFd(root) as root_fd:
        found = walk(root_fd, path, allow_missing=True)
        fd = found.dir_fd
        try:
            if found.name:  # a non-directory at the end
                shown = _show(found.names[:-1], found.name)
                raise NotADirectoryError(errno.ENOTDIR, "Not a directory", shown)
            for name in found.names[len(found.names) - found.missing :]:
                try:
                    os.mkdir(name, 0o700, dir_fd=fd)
                    made = True
                except FileExistsError:
                    made = False  # made meanwhile: opened below like any directory (never followed)
                sub = os.open(name, DIR_FLAGS, dir_fd=fd)
                os.close(fd)
                fd = sub
                if made:
                    if owner is not None:
                        os.fchown(fd, *owner)
                    os.fchmod(fd, mode)
        except BaseException:
            os.close(fd)
            raise
        return fd, found.missing > 0


def make_file(root: Root, path: str | bytes, mode: int = 0o644) -> bool:
    """Make an empty file at `path` under `root` (parents made 0755) unless something is there
    already (whatever it is: a device or a fifo is never opened); True when it was made."""
    with _RootFd(root) as root_fd:
        # A symlink at the end is followed, in the root; a missing last component is the result.
        found = walk(root_fd, path, create=True)
        try:
            if not found.name:
                return False  # a directory
            try:
                os.close(
                    os.open(
                        found.name,
                        os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                        mode,
                        dir_fd=found.dir_fd,
                    )
                )
            except FileExistsError:
                return False
            return True
        finally:
            os.close(found.dir_fd)


def make_symlink(root: Root, path: str | bytes, target: str | bytes) -> bool:
    """Make symlink `path` -> `target` under `root` unless `path` exists (even as a dangling link);
    the directories on the way are followed inside the root and made when missing."""
    with _RootFd(root) as root_fd:
        parent, _, base = _fsencode(path).rstrip(b"/").rpartition(b"/")
        if not base:
            raise FileExistsError(errno.EEXIST, "File exists", "/")
        dfd, _ = make_dirs(root_fd, parent)
        try:
            os.symlink(target, base, dir_fd=dfd)
        except FileExistsError:
            return False
        finally:
            os.close(dfd)
        return True


def open_parent(root: Root, path: str | bytes, *, follow: bool = True, create: bool = False) -> Resolved:
    """The directory holding `path`'s last component, and its name there (b"" for the root).

    With `follow`, a symlink at the end is resolved first, inside the root. Missing parents are
    made when `create`. The caller closes `.dir_fd`.
    """
    with _RootFd(root) as root_fd:
        found = walk(root_fd, path, follow=follow, create=create)
        if found.name or not found.names:
            return found
        # The path is a directory: name it in its parent, so that callers can lstat and archive it.
        name = found.names[-1]
        os.close(found.dir_fd)
        return Resolved(_reopen(root_fd, found.names[:-1]), name, found.names)


def open_file(
    root: Root,
    path: str | bytes,
    flags: int = os.O_RDONLY,
    mode: int = 0o644,
    *,
    create_parents: bool = False,
) -> int:
    """os.open of `path` under `root`: a symlink at the end is resolved inside the root, and nothing
    on the way is followed outside it. O_NOFOLLOW is added: whatever is there is opened itself."""
    with _RootFd(root) as root_fd:
        found = walk(root_fd, path, create=create_parents, new_last=bool(flags & os.O_CREAT))
        try:
            if not found.name:
                return os.open(b".", flags | os.O_CLOEXEC, dir_fd=found.dir_fd)
            return os.open(found.name, flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=found.dir_fd)
        finally:
            os.close(found.dir_fd)


def lstat(root: Root, path: str | bytes, *, follow: bool = False) -> os.stat_result:
    """The lstat of `path` under `root`; with `follow`, of where its last symlink leads (in the root)."""
    with _RootFd(root) as root_fd:
        found = walk(root_fd, path, follow=follow)
        try:
            if not found.name:
                return os.fstat(found.dir_fd)
            return os.stat(found.name, dir_fd=found.dir_fd, follow_symlinks=False)
        finally:
            os.close(found.dir_fd)


def readlink(root: Root, path: str | bytes) -> bytes:
    """The target of symlink `path` under `root`, as it is written (never followed)."""
    with _RootFd(root) as root_fd:
        found = walk(root_fd, path, follow=False)
        try:
            if not found.name:
                raise OSError(errno.EINVAL, "Invalid argument", os.fsdecode(path))
            return os.readlink(found.name, dir_fd=found.dir_fd)
        finally:
            os.close(found.dir_fd)


def resolve_in_root(root: str, path: str) -> str:
    """The host path of `path` as a process chrooted in `root` sees it: symlinks are followed, with
    absolute targets taken relative to `root` and `..` stopping at it, so the result is inside.

    For callers that need a path string (mount targets before pivot_root): the result is only as
    safe as `root` is still, since another process may change the tree after we return. Components
    that don't exist are kept as they are, for the caller to create.
    """
    with _RootFd(root) as root_fd:
        found = walk(root_fd, path, allow_missing=True)
        os.close(found.dir_fd)
    return os.path.join(root, *(os.fsdecode(n) for n in found.names))


def walk_tree(
    top: int,
    enter: Callable[[int, str, os.stat_result, T], T | None],
    state: T,
    leave: Callable[[T], None] | None = None,
) -> None:
    """Depth first over the tree below directory descriptor `top` (a tree someone else may be
    changing): `enter(dir_fd, name, lstat, parent_state)` for each entry, where `dir_fd` is its
    directory (valid during the call only); a directory whose `enter` returns a state (not None)
    is walked with it, then `leave(state)` is called.

    One descriptor is held however deep the tree: each level is opened from its parent with
    O_NOFOLLOW and left through a checked "..", so a directory swapped for a symlink is never
    followed (it is not descended: the walk goes on beside it) and a directory moved elsewhere
    meanwhile raises OSError(ESTALE).
    """
    fd = os.dup(top)
    try:
        levels = [(inode(fd), _listing(fd), state)]
        while True:
            _, pending, level_state = levels[-1]
            if not pending:
                done = levels.pop()
                if not levels:
                    break
                if leave is not None:
                    leave(done[2])
                parent = up(fd, levels[-1][0])
                os.close(fd)
                fd = parent
                continue
            name, st = pending.pop()
            child = enter(fd, name, st, level_state)
            if child is None or not stat.S_ISDIR(st.st_mode):
                continue
            try:
                sub = os.open(name, DIR_FLAGS, dir_fd=fd)
            except OSError as exc:
                if exc.errno not in (errno.ENOENT, errno.ELOOP, errno.ENOTDIR):
                    raise
                if leave is not None:
                    leave(child)  # changed while we looked: what we saw of it is all there is
                continue
            os.close(fd)
            fd = sub
            levels.append((inode(fd), _listing(fd), child))
    finally:
        os.close(fd)


def _listing(fd: int) -> list[tuple[str, os.stat_result]]:
    """The entries of directory `fd` with their lstat, last name first (popped from the end)."""
    found = []
    for name in os.listdir(fd):
        try:
            found.append((name, os.stat(name, dir_fd=fd, follow_symlinks=False)))
        except FileNotFoundError:
            pass  # removed since it was listed
    found.sort(reverse=True)
    return found


def remove_tree(dfd: int, name: bytes | str) -> None:
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

    fd = os.open(name, DIR_FLAGS, dir_fd=dfd)
    try:
        # Per level: its name in its parent, its inode (to check ".." against), subdirs to visit.
        levels: list[tuple[bytes | str, tuple[int, int], list[str]]] = [(name, inode(fd), empty_files(fd))]
        while True:
            pending = levels[-1][2]
            if pending:
                child = pending.pop()
                sub = os.open(child, DIR_FLAGS, dir_fd=fd)
                os.close(fd)
                fd = sub
                levels.append((child, inode(fd), empty_files(fd)))
                continue
            done = levels.pop()[0]
            if not levels:
                break
            parent = up(fd, levels[-1][1])
            os.close(fd)
            fd = parent
            os.rmdir(done, dir_fd=fd)
    finally:
        os.close(fd)
    os.rmdir(name, dir_fd=dfd)
