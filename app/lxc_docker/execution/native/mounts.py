"""The container's filesystem view, built by its PID 1 in its own mount namespace: the rootfs bound
onto itself, /proc, /sys (read-only), a tmpfs /dev with the standard nodes, devpts, shm, mqueue, the
Command's bind mounts, then pivot_root so that the host's tree is gone.

Every target is opened inside the rootfs through archive.safepath (directory descriptors, symlinks
resolved as in a chroot) and mounted onto through its descriptor: an image is untrusted data, and a
symlink such as `/proc -> /` or `/etc -> ../../../etc` in it would otherwise send our mounts and
mkdirs onto the host's own files (the CVE-2015-3627/3629 class of Docker bugs).
"""

from __future__ import annotations

import os
import stat

from lxc_docker.archive import safepath
from lxc_docker.execution.native import devices
from lxc_docker.sysutil import mountprop, syscalls
from lxc_docker.sysutil.syscalls import (
    MNT_DETACH,
    MS_BIND,
    MS_NODEV,
    MS_NOEXEC,
    MS_NOSUID,
    MS_PRIVATE,
    MS_RDONLY,
    MS_REC,
    MS_REMOUNT,
    MS_SLAVE,
    MS_STRICTATIME,
    mount,
)

# /proc entries an unprivileged container may read but not write. Docker 0.9 relied on its AppArmor
# profile for this; without AppArmor, root in the container could otherwise write
# /proc/sys/kernel/core_pattern (a program run as root on the host) or /proc/sysrq-trigger.
_PROC_READ_ONLY = ("sys", "sysrq-trigger", "irq", "bus")
# /proc entries hidden behind /dev/null: kernel memory, and other users' keys and timers.
_PROC_MASKED = ("kcore", "keys", "timer_list", "sched_debug")


class MountError(Exception):
    pass


def _ensure_dir(root: str, path: str) -> int:
    """A descriptor of directory `path` in the rootfs, made with its parents if missing."""
    return safepath.open_dir(root, path, create=True)


def _ensure_file(root: str, path: str) -> int:
    """A descriptor (O_PATH) of file `path` in the rootfs, made empty if missing, parents too."""
    try:
        # O_PATH: never open the image's file itself (a fifo would block, a device could act).
        return safepath.open_file(root, path, os.O_PATH, create_parents=True)
    except FileNotFoundError:
        os.close(safepath.open_file(root, path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
        return safepath.open_file(root, path, os.O_PATH)


def _at(fd: int) -> str:
    # mount(2) wants a path: this one names exactly the directory or file opened, whatever the
    # image's symlinks do meanwhile (the way runc mounts onto resolved targets).
    return f"/proc/self/fd/{fd}"


def _path_of(fd: int) -> str:
    return os.readlink(_at(fd))


def _mount(
    source: str | None, target: str, fstype: str | None, flags: int, data: str | None, what: str
) -> None:
    try:
        mount(source, target, fstype, flags, data)
    except OSError as e:
        raise MountError(f"mounting {what}: {e.strerror}")


def setup_rootfs(spec: dict, tty: bool) -> None:
    """Build the container's mount tree from `spec` (a Command as a dict) and pivot into it.

    Runs in the container's PID 1, after unshare(CLONE_NEWNS), with umask 0.
    """
    root = os.path.realpath(spec["rootfs"])
    privileged = bool(spec.get("privileged"))
    # Nothing we mount may propagate back to the host, nor host mounts arrive later, unless a bind
    # asks for it: then the tree stays a peer (rshared) or becomes a slave (rslave) of the host's,
    # as Docker sets rootfsPropagation, since a bind can only join its source's peer group from here.
    mounts = spec.get("mounts") or ()
    root_mode = mountprop.root_propagation([m.get("propagation", "") for m in mounts])
    _mount(None, "/", None, mountprop.FLAGS[root_mode], None, "/ " + root_mode)
    if root_mode != "rprivate":
        # The mount under the rootfs is made private: binding the rootfs onto itself must not show
        # on the host, and pivot_root refuses a new root whose parent mount is shared.
        parent = mountprop.mount_of(root)[0]
        _mount(None, parent, None, MS_PRIVATE, None, "the root filesystem's mount private")
    # pivot_root needs the new root to be a mount point.
    _mount(root, root, None, MS_BIND | MS_REC, None, "the root filesystem")

    basic = MS_NOSUID | MS_NODEV | MS_NOEXEC
    proc_fd = _ensure_dir(root, "/proc")
    sys_fd = _ensure_dir(root, "/sys")
    dev_fd = _ensure_dir(root, "/dev")
    try:
        _mount("proc", _at(proc_fd), "proc", basic, None, "/proc")
        _mount("sysfs", _at(sys_fd), "sysfs", basic | MS_RDONLY, None, "/sys")
        _mount("tmpfs", _at(dev_fd), "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k", "/dev")
        # The descriptors hold the directories under the new mounts: go on by path, which now
        # leads onto the mounts (tmpfs and proc are ours, with no symlink from the image).
        proc, dev = _path_of(proc_fd), _path_of(dev_fd)
    finally:
        for fd in (proc_fd, sys_fd, dev_fd):
            os.close(fd)
    if privileged:
        devices.copy_host_nodes("/dev", dev)
    devices.make_nodes(dev)
    os.mkdir(os.path.join(dev, "pts"), 0o755)
    _mount(
        "devpts",
        os.path.join(dev, "pts"),
        "devpts",
        MS_NOSUID | MS_NOEXEC,
        "newinstance,ptmxmode=0666,mode=0620,gid=5",
        "/dev/pts",
    )
    os.mkdir(os.path.join(dev, "shm"), 0o1777)
    _mount("shm", os.path.join(dev, "shm"), "tmpfs", basic, "mode=1777,size=65536k", "/dev/shm")
    os.mkdir(os.path.join(dev, "mqueue"), 0o755)
    _mount("mqueue", os.path.join(dev, "mqueue"), "mqueue", basic, None, "/dev/mqueue")
    if tty:
        _bind_console(os.path.join(dev, "console"))

    for m in mounts:
        propagation = m.get("propagation", "")
        bind(
            root, m["source"], m["destination"], m.get("writable", True), m.get("private", True), propagation
        )

    if not privileged:
        restrict_proc(proc, os.path.join(dev, "null"))
    pivot(root)


def _bind_console(console: str) -> None:
    # Docker 0.9 shows the container's terminal as /dev/console too. The terminal (our stdin) is bound
    # by its path, which this namespace's copy of the host's tree still has: binding through
    # /proc/self/fd/0 fails (EINVAL) because that descriptor's mount belongs to the daemon's namespace.
    # A terminal without such a path (from another namespace) only goes without /dev/console.
    try:
        source = os.readlink("/proc/self/fd/0")
        os.close(os.open(console, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600))
        mount(source, console, None, MS_BIND)
    except OSError:
        try:
            os.unlink(console)
        except OSError:
            pass


def bind(
    root: str,
    source: str,
    destination: str,
    writable: bool = True,
    private: bool = True,
    propagation: str = "",
) -> None:
    """Bind-mount the host path `source` at `destination` inside `root`, creating the target; a
    `propagation` (rshared...) is set on the new mount, else it is made private if `private`."""
    try:
        is_dir = stat.S_ISDIR(os.stat(source).st_mode)
    except OSError as e:
        # Messages go to the client: they name the container's path, never the daemon's host paths
        # (a volume's directory under the graph root, the container's hosts file).
        raise MountError(f"mounting {destination}: {e.strerror}")
    try:
        fd = _ensure_dir(root, destination) if is_dir else _ensure_file(root, destination)
    except OSError as e:
        raise MountError(f"creating mount point {destination}: {e.strerror}")
    what = destination
    try:
        _mount(source, _at(fd), None, MS_BIND | MS_REC, None, what)
        # From here on the path leads onto the new mount, whose content is the host's source.
        target = _path_of(fd)
    finally:
        os.close(fd)
    if not writable:
        _remount_read_only(target, what)
    if propagation:
        # A bind of a shared mount joins its peer group: `rshared` keeps it there (the container's
        # mounts reach the host), `rslave` receives only, `rprivate` cuts it off.
        _mount(None, target, None, mountprop.FLAGS[propagation], None, f"{what} {propagation}")
    elif private:
        _mount(None, target, None, MS_PRIVATE | MS_REC, None, what)


def _remount_read_only(target: str, what: str) -> None:
    # A bind remount sets the mount's flags to exactly those given: keep the nosuid, nodev and
    # noexec it inherited from its source, or read-only would quietly loosen them.
    kept = os.statvfs(target).f_flag & (MS_NOSUID | MS_NODEV | MS_NOEXEC)
    _mount(None, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY | kept, None, what + " read-only")


def restrict_proc(proc: str, null: str) -> None:
    """Make the dangerous parts of a fresh /proc read-only or hidden (unprivileged containers)."""
    for name in _PROC_READ_ONLY:
        path = os.path.join(proc, name)
        if os.path.exists(path):
            _mount(path, path, None, MS_BIND | MS_REC, None, "/proc/" + name)
            _remount_read_only(path, "/proc/" + name)
    for name in _PROC_MASKED:
        path = os.path.join(proc, name)
        if os.path.exists(path):
            _mount(null, path, None, MS_BIND, None, "/proc/" + name)


def pivot(root: str) -> None:
    """Make `root` the root of this mount namespace and detach the host's tree entirely."""
    old = os.open("/", os.O_DIRECTORY | os.O_RDONLY | os.O_CLOEXEC)
    new = os.open(root, os.O_DIRECTORY | os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fchdir(new)
        # new_root == put_old stacks the old root on top of the new one, so no directory for it has
        # to exist in the image; it is then detached from its own (old root) directory.
        syscalls.pivot_root(".", ".")
        os.fchdir(old)
        # With a shared bind the old tree is still a peer of the host's: made a slave first, so that
        # detaching it here unmounts nothing on the host.
        mount(None, ".", None, MS_SLAVE | MS_REC, None)
        syscalls.umount(".", MNT_DETACH)
    except OSError as e:
        raise MountError(f"pivot_root into the container's root filesystem: {e.strerror}")
    finally:
        os.close(old)
        os.close(new)
    os.chdir("/")
