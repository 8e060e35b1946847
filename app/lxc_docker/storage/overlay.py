"""The overlay storage driver (the default): a layer is an overlayfs upper directory holding only
its own changes, stacked at get() time on its ancestors' directories, as Docker's overlay2 does.

On-disk layout under <graph root>/overlay (mode 0700):

    l/<short>        -> ../<id>/diff   26-character names, so the mount options of a deep image
                                       still fit in the one page the kernel accepts
    <id>/diff/       the layer's own changes in overlayfs upper format: a deleted file is a 0:0
                     character device, an opaque directory has xattr trusted.overlay.opaque=y
    <id>/link        <short>: this layer's entry in l/
    <id>/lower       "l/<short of parent>:l/<short of grandparent>:..." (only if it has a parent)
    <id>/work/       overlayfs work directory                         (only if it has a parent)
    <id>/merged/     where get() mounts the union                     (only if it has a parent)
    .tmp-*           a create(), remove() or probe that a crash interrupted; swept at start

A layer without parent is never mounted: get() returns its diff directory. A layer appears under
its id only once complete (it is built under a .tmp- name and renamed), so list_ids() never sees a
half-made layer; one whose content a crash cut short is the graph's to remove.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import logging
import os
import stat
import subprocess
import tempfile
import threading
from typing import IO, BinaryIO

from lxc_docker.errors import Conflict, DriverNotSupported, InvalidParameter, NotFound, SystemError_
from lxc_docker.storage.base import (
    TMP_PREFIX,
    IdLocks,
    StorageDriver,
    backing_filesystem,
    dir_size,
    docker_fs_name,
    mounts_under,
    read_mountinfo,
    register,
    remove_tree,
    validate_id,
)
from lxc_docker.sysutil import syscalls

log = logging.getLogger(__name__)

# Filesystems overlayfs can't use as upper layer (Docker's overlay2 refuses the same ones).
_UNSUPPORTED_UPPER = frozenset({"overlay", "aufs", "zfs", "ecryptfs"})

_SHORT_LEN = 26  # base32 of 16 random bytes, as Docker's overlay2 names its links


def _supported_filesystems() -> set[str]:
    """The filesystem types the running kernel knows, from /proc/filesystems."""
    with open("/proc/filesystems", encoding="ascii") as f:
        return {line.split()[-1] for line in f if line.strip()}


def _modprobe(module: str) -> None:
    # Best effort: the module may be built in, or modprobe missing in a minimal install.
    with contextlib.suppress(OSError):
        subprocess.run(
            ["modprobe", module],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )


def _kernel_mount_options() -> str:
    # Turn off the overlayfs features that make an upper directory depend on its lowers
    # (redirect_dir records a renamed directory as a pointer into them, metacopy copies up metadata
    # without the data, index stores lower file handles and refuses mounts once lowers change): a
    # layer's diff/ must be a complete Docker diff. Kernels know an option iff they have its parameter.
    params = "/sys/module/overlay/parameters"
    return "".join(
        f",{name}=off"
        for name in ("index", "redirect_dir", "metacopy")
        if os.path.exists(os.path.join(params, name))
    )


class OverlayDriver(StorageDriver):
    """Layers as overlayfs upper directories; see the module docstring for the on-disk layout."""

    name = "overlay"

    def __init__(self, home: str) -> None:
        super().__init__(home)
        self._locks = IdLocks()
        self._refs: dict[str, int] = {}
        self._bound_home = False

        if "overlay" not in _supported_filesystems():
            _modprobe("overlay")
            if "overlay" not in _supported_filesystems():
                raise DriverNotSupported(
                    "overlay: the kernel has no overlay filesystem (modprobe overlay failed)"
                )
        fstype = backing_filesystem(home)
        if fstype in _UNSUPPORTED_UPPER:
            raise DriverNotSupported(f"overlay: layers can't be stored on {fstype} ({home})")
        self._fstype = fstype
        self._options = _kernel_mount_options()
        self._page_size = os.sysconf("SC_PAGE_SIZE")

        created = not os.path.exists(home)
        os.makedirs(os.path.join(home, "l"), exist_ok=True)
        # Layers hold setuid binaries and device nodes; 0700 keeps unprivileged users from
        # reaching them (the CVE-2021-41091 class of bug).
        os.chmod(home, 0o700)
        self.home = os.path.realpath(home)
        try:
            # The layers a crashed daemon left mounted stay until the daemon has restored its
            # containers: those still running keep their mount (get() takes it back) and
            # release_unused() unmounts the rest. Anything else (an interrupted probe) goes now.
            self._release_mounts(keep=None)
            self._sweep()
            try:
                self._make_private()
                self._probe()
            except OSError as e:
                # Not root, a seccomp profile refusing mount/unshare, no xattr support...
                raise DriverNotSupported(f"overlay: cannot mount layers under {self.home}: {e}") from e
        except BaseException:
            self.cleanup()
            if created:
                with contextlib.suppress(OSError):
                    os.rmdir(os.path.join(self.home, "l"))
                    os.rmdir(self.home)
            raise

    # -- the StorageDriver interface -------------------------------------------------------

    def create(self, id: str, parent: str | None) -> None:
        validate_id(id)
        with self._locks.hold(id):
            dest = self._dir(id)
            if os.path.lexists(dest):
                raise Conflict(f"layer {id} already exists")
            lower = ""
            if parent is not None:
                lower = self._lower_for_child_of(parent)
                data = self._mount_data(id, lower)
                if len(data) >= self._page_size:
                    depth = lower.count(":") + 1
                    raise InvalidParameter(
                        f"max depth exceeded: layer {id} would stack on {depth} layers, "
                        f"more than one overlay mount can hold"
                    )
            tmp = tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{id}-", dir=self.home)
            try:
                os.mkdir(os.path.join(tmp, "diff"))
                os.chmod(os.path.join(tmp, "diff"), 0o755)
                if lower:
                    os.mkdir(os.path.join(tmp, "work"))
                    os.mkdir(os.path.join(tmp, "merged"))
                    _write_synced(os.path.join(tmp, "lower"), lower)
                # The link dangles until the rename below; a crash in between leaves a dangling
                # link and a .tmp- directory, both swept at the next start.
                short = self._new_short_link(id)
                try:
                    _write_synced(os.path.join(tmp, "link"), short)
                    os.rename(tmp, dest)
                except BaseException:
                    os.unlink(os.path.join(self.home, "l", short))
                    raise
            except BaseException:
                remove_tree(tmp)
                raise
            _fsync_dir(self.home)

    def remove(self, id: str) -> None:
        validate_id(id)
        with self._locks.hold(id):
            path = self._dir(id)
            if not os.path.lexists(path):
                return
            self._refs.pop(id, None)
            self._unmount(id)
            short = self._read_meta(id, "link")
            if _valid_short(short):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(self.home, "l", short))
            # Rename first so the id disappears at once; a crash during the delete leaves a .tmp-
            # directory that the next start sweeps.
            trash = os.path.join(self.home, f"{TMP_PREFIX}rm-{id}-{os.urandom(4).hex()}")
            os.rename(path, trash)
            remove_tree(trash)

    def get(self, id: str) -> str:
        validate_id(id)
        with self._locks.hold(id):
            lower = self._read_meta(id, "lower")
            refs = self._refs.get(id, 0)
            if not lower:
                self._refs[id] = refs + 1
                return self._diff(id)
            merged = os.path.join(self._dir(id), "merged")
            # After a daemon crash the mount may still be there; reuse it rather than stack another.
            if refs == 0 and not os.path.ismount(merged):
                data = self._mount_data(id, lower)
                if len(data) >= self._page_size:
                    raise SystemError_(f"layer {id}: mount options longer than a page ({len(data)})")
                try:
                    self._mount_overlay(data, merged)
                except OSError as e:
                    raise SystemError_(f"mounting layer {id} failed: {e} (options {data})") from e
            self._refs[id] = refs + 1
            return merged

    def put(self, id: str) -> None:
        validate_id(id)
        with self._locks.hold(id):
            refs = self._refs.pop(id, 0)
            if refs > 1:
                self._refs[id] = refs - 1
                return
            if os.path.isdir(self._dir(id)):
                self._unmount(id)

    def exists(self, id: str) -> bool:
        validate_id(id)
        return os.path.isdir(self._dir(id))

    def status(self) -> list[tuple[str, str]]:
        return [
            ("Backing Filesystem", docker_fs_name(self._fstype)),
            # Verified by the probe mount at start, whose whiteout would show otherwise.
            ("Supports d_type", "true"),
            ("Layers", str(len(self.list_ids()))),
        ]

    def cleanup(self) -> None:
        self._unmount_all()
        if self._bound_home:
            _umount_quietly(self.home)
            self._bound_home = False

    def list_ids(self) -> list[str]:
        return sorted(
            entry
            for entry in os.listdir(self.home)
            if entry != "l" and not entry.startswith(".") and os.path.isdir(os.path.join(self.home, entry))
        )

    def apply_diff(self, id: str, stream: BinaryIO) -> int:
        from lxc_docker.archive.extract import extract

        validate_id(id)
        with self._locks.hold(id):
            if not os.path.isdir(self._dir(id)):
                raise NotFound(f"layer {id} not found")
            # Straight into the upper directory: the tar's .wh. entries become overlay whiteouts.
            return extract(stream, self._diff(id), whiteouts="overlay")

    def diff(self, id: str, parent: str | None, out: IO[bytes]) -> None:
        from lxc_docker.archive.create import create

        if parent != self._parent(id):
            super().diff(id, parent, out)
            return
        create(self._diff(id), out, whiteouts="overlay")

    def changes(self, id: str, parent: str | None) -> list:
        from lxc_docker.archive import changes

        if parent != self._parent(id):
            return super().changes(id, parent)
        return changes.overlay_changes(self._diff(id), self._lower_dirs(id))

    def diff_size(self, id: str, parent: str | None) -> int:
        if parent != self._parent(id):
            return super().diff_size(id, parent)
        return dir_size(self._diff(id))

    # -- layout helpers --------------------------------------------------------------------

    def _dir(self, id: str) -> str:
        return os.path.join(self.home, id)

    def _diff(self, id: str) -> str:
        return os.path.join(self.home, id, "diff")

    def _read_meta(self, id: str, name: str) -> str:
        """Contents of `<id>/<name>`, "" when that file is missing; NotFound when the layer is."""
        try:
            with open(os.path.join(self._dir(id), name), encoding="ascii") as f:
                return f.read().strip()
        except FileNotFoundError:
            if not os.path.isdir(self._dir(id)):
                raise NotFound(f"layer {id} not found") from None
            return ""

    def _lower_for_child_of(self, parent: str) -> str:
        validate_id(parent)
        short = self._read_meta(parent, "link")
        if not _valid_short(short):
            raise NotFound(f"parent layer {parent} is incomplete")
        parent_lower = self._read_meta(parent, "lower")
        return f"l/{short}:{parent_lower}" if parent_lower else f"l/{short}"

    def _lower_dirs(self, id: str) -> list[str]:
        """Absolute diff directories of the layer's ancestors, nearest first."""
        lower = self._read_meta(id, "lower")
        dirs = []
        for entry in lower.split(":") if lower else ():
            target = os.readlink(os.path.join(self.home, entry))
            dirs.append(os.path.normpath(os.path.join(self.home, "l", target)))
        return dirs

    def _parent(self, id: str) -> str | None:
        validate_id(id)
        lower = self._read_meta(id, "lower")
        if not lower:
            return None
        # l/<short> -> ../<parent id>/diff
        target = os.readlink(os.path.join(self.home, lower.split(":")[0]))
        return target.split("/")[1]

    def _new_short_link(self, id: str) -> str:
        while True:
            short = base64.b32encode(os.urandom(16)).decode("ascii").rstrip("=")
            try:
                os.symlink(f"../{id}/diff", os.path.join(self.home, "l", short))
                return short
            except FileExistsError:
                continue

    def _mount_data(self, id: str, lower: str) -> str:
        # Paths are relative to home (see _mount_overlay) to keep the string short.
        return f"lowerdir={lower},upperdir={id}/diff,workdir={id}/work{self._options}"

    # -- mounting --------------------------------------------------------------------------

    def _mount_overlay(self, data: str, target: str) -> None:
        """Mount overlay at `target` with option string `data`, whose paths are relative to home.

        The kernel resolves relative option paths against the caller's working directory, which
        threads share; so the mount runs in a throwaway thread that first takes its own working
        directory with unshare(CLONE_FS), leaving the daemon's other threads undisturbed.
        """
        failure: list[BaseException] = []

        def mount_from_home() -> None:
            try:
                syscalls.unshare(syscalls.CLONE_FS)
                os.chdir(self.home)
                syscalls.mount("overlay", target, "overlay", 0, data)
            except BaseException as e:
                failure.append(e)

        thread = threading.Thread(target=mount_from_home, name="overlay-mount")
        thread.start()
        thread.join()
        if failure:
            raise failure[0]

    def _unmount(self, id: str) -> None:
        for mountpoint in mounts_under(os.path.join(self._dir(id), "merged")):
            # MNT_DETACH: a process still inside the tree must not make remove() or put() fail.
            syscalls.umount(mountpoint, syscalls.MNT_DETACH)

    def _unmount_all(self) -> None:
        """Unmount every layer under home (not home itself) and forget all references."""
        for mountpoint in mounts_under(self.home):
            if mountpoint != self.home:
                _umount_quietly(mountpoint)
        self._refs.clear()

    def _make_private(self) -> None:
        # Mounts made under a private home can't propagate to other mount namespaces that share
        # the host's mounts (systemd makes / shared), so layers never leak mounts into them.
        if self.home not in mounts_under(self.home):
            syscalls.mount(self.home, self.home, None, syscalls.MS_BIND)
            self._bound_home = True
        elif self._home_is_own_bind():
            self._bound_home = True  # left by a daemon that was killed: ours to remove at cleanup
        syscalls.mount(None, self.home, None, syscalls.MS_PRIVATE)

    def _home_is_own_bind(self) -> bool:
        """Whether the mount on home is the bind of home onto itself that _make_private makes (its
        source is the same directory of the same filesystem), not a disk an operator mounted there."""
        table = read_mountinfo()
        own = [m for m in table if m.mountpoint == self.home]
        below = [m for m in table if self.home.startswith(m.mountpoint.rstrip("/") + "/")]
        if not own or not below:
            return False
        parent = max(below, key=lambda m: len(m.mountpoint))
        inside = os.path.relpath(self.home, parent.mountpoint)
        expected = os.path.normpath(os.path.join(parent.root, inside))
        return own[0].device == parent.device and own[0].root == expected

    def release_unused(self, keep: set[str]) -> None:
        self._release_mounts(keep)

    def _release_mounts(self, keep: set[str] | None) -> None:
        """Unmount what is mounted under home but the layers in `keep` (None: every layer)."""
        for mountpoint in mounts_under(self.home):
            if mountpoint == self.home:
                continue
            rel = os.path.relpath(mountpoint, self.home).split(os.sep)
            layer = len(rel) == 2 and rel[1] == "merged" and not rel[0].startswith(TMP_PREFIX)
            if layer and (keep is None or rel[0] in keep):
                continue
            _umount_quietly(mountpoint)

    def _sweep(self) -> None:
        """Remove what an interrupted create(), remove() or probe left behind."""
        for entry in os.listdir(self.home):
            if entry.startswith(TMP_PREFIX):
                try:
                    remove_tree(os.path.join(self.home, entry))
                except OSError as e:
                    # Something still mounted there, out of reach; a later start retries.
                    log.warning("overlay: cannot remove leftover %s: %s", entry, e)
        links = os.path.join(self.home, "l")
        for short in os.listdir(links):
            if not os.path.exists(os.path.join(links, short)):
                os.unlink(os.path.join(links, short))

    def _probe(self) -> None:
        """Mount a two-layer overlay once, so a kernel or filesystem that refuses is found now."""
        probe = tempfile.mkdtemp(prefix=f"{TMP_PREFIX}probe-", dir=self.home)
        name = os.path.basename(probe)
        lower1, lower2 = os.path.join(probe, "lower1"), os.path.join(probe, "lower2")
        merged = os.path.join(probe, "merged")
        try:
            for d in ("lower1/d", "lower2/d", "upper", "work", "merged"):
                os.makedirs(os.path.join(probe, d))
            with open(os.path.join(lower1, "f"), "w"), open(os.path.join(lower1, "d", "x"), "w"):
                pass
            # A whiteout and an opaque directory: on a filesystem without d_type the whiteout
            # would show up in the merged listing.
            os.mknod(os.path.join(lower2, "f"), stat.S_IFCHR, os.makedev(0, 0))
            os.setxattr(os.path.join(lower2, "d"), "trusted.overlay.opaque", b"y")
            data = (
                f"lowerdir={name}/lower2:{name}/lower1,upperdir={name}/upper,"
                f"workdir={name}/work{self._options}"
            )
            try:
                self._mount_overlay(data, merged)
            except OSError as e:
                raise DriverNotSupported(f"overlay: test mount on {self._fstype} failed: {e}") from e
            try:
                seen = sorted(os.listdir(merged)), os.listdir(os.path.join(merged, "d"))
                with open(os.path.join(merged, "d", "y"), "w"):
                    pass  # copy-up works
            finally:
                syscalls.umount(merged, syscalls.MNT_DETACH)
            if seen != (["d"], []):
                raise DriverNotSupported(
                    f"overlay: whiteouts don't work on {self._fstype} (no d_type support?)"
                )
        finally:
            remove_tree(probe)


def _valid_short(short: str) -> bool:
    return len(short) == _SHORT_LEN and short.isalnum()


def _write_synced(path: str, text: str) -> None:
    with open(path, "w", encoding="ascii") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _umount_quietly(mountpoint: str) -> None:
    try:
        syscalls.umount(mountpoint, syscalls.MNT_DETACH)
    except OSError as e:
        # Already gone (unmounted by someone else, or its parent was detached first).
        if e.errno not in (errno.EINVAL, errno.ENOENT):
            raise


register(OverlayDriver.name, OverlayDriver)
