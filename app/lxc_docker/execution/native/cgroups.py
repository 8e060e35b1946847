"""Container cgroups, daemon side: one directory `<parent>/<id>` per hierarchy (cgroup v1, one
hierarchy per controller or co-mounted group) or in the unified tree (cgroup v2), with the memory
limit (`-m`), CPU shares (`-c`) and, on v1, the devices whitelist.

`detect()` picks the layout: a pure v2 host has /sys/fs/cgroup/cgroup.controllers; otherwise the v1
hierarchies are found in /proc/self/mountinfo (a hybrid host, with systemd's empty v2 tree at
/sys/fs/cgroup/unified, counts as v1); a host with neither has no cgroups we can use.
On v2 the devices controller is a BPF program attached to the cgroup, which this driver does not
load yet: there, an unprivileged container's device access rests on its capabilities (no
CAP_MKNOD) and on its /dev holding only the harmless nodes.
"""

from __future__ import annotations

import errno
import logging
import os
import signal
import time

from lxc_docker.execution.base import Resources
from lxc_docker.execution.native import devices

log = logging.getLogger(__name__)

# v1 controllers a container joins: limits (memory, cpu, devices), accounting (cpuacct), and the
# ones `docker top` and a future pause need (pids, freezer).
V1_CONTROLLERS = ("memory", "cpu", "cpuacct", "devices", "freezer", "pids", "blkio")
V2_CONTROLLERS = ("memory", "cpu", "pids", "io")

_REMOVE_TIMEOUT = 10.0


def _write(path: str, value: str | int) -> None:
    with open(path, "w") as f:
        f.write(str(value))


def _read_pids(path: str) -> list[int]:
    try:
        with open(path) as f:
            return [int(line) for line in f if line.strip()]
    except FileNotFoundError:
        return []


def _rmdir_when_empty(path: str, procs: str, deadline: float) -> None:
    """rmdir a cgroup, killing what is left in it; exiting tasks keep it busy for a moment."""
    delay = 0.0005
    while True:
        try:
            os.rmdir(path)
            return
        except FileNotFoundError:
            return
        except OSError as e:
            if e.errno != errno.EBUSY or time.monotonic() > deadline:
                raise
        for pid in _read_pids(procs):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(delay)
        delay = min(delay * 2, 0.05)


def swap_limit(resources: Resources) -> int | None:
    """Memory + swap in bytes for a memory limit (Docker 0.9: twice the memory), -1 = unlimited,
    None when there is no memory limit."""
    if not resources.memory:
        return None
    if resources.memory_swap == -1:
        return -1
    if resources.memory_swap > 0:
        return max(resources.memory_swap, resources.memory)
    return resources.memory * 2


def cpu_weight(shares: int) -> int:
    """cgroup v2 cpu.weight (1..10000) for v1 cpu.shares (2..262144), as runc and crun map them."""
    shares = min(max(shares, 2), 262144)
    return 1 + ((shares - 2) * 9999) // 262142


class CgroupsV1:
    version = 1

    def __init__(self, hierarchies: dict[str, tuple[str, ...]]) -> None:
        # mount point -> the controllers mounted there (only those with one we use)
        self.hierarchies = hierarchies
        self.controllers = {c: mnt for mnt, ctrls in hierarchies.items() for c in ctrls}

    def path(self, parent: str, id: str, controller: str) -> str | None:
        mnt = self.controllers.get(controller)
        return os.path.join(mnt, parent, id) if mnt else None

    def paths(self, parent: str, id: str) -> list[str]:
        return [os.path.join(mnt, parent, id) for mnt in self.hierarchies]

    def create(self, parent: str, id: str, resources: Resources, privileged: bool) -> None:
        for mnt, ctrls in self.hierarchies.items():
            self._mkdirs(mnt, os.path.join(parent, id), "cpuset" in ctrls)
        memory = self.path(parent, id, "memory")
        if resources.memory:
            if memory is None:
                log.warning("no memory cgroup: the memory limit of %s is ignored", id[:12])
            else:
                _write(os.path.join(memory, "memory.limit_in_bytes"), resources.memory)
                memsw = os.path.join(memory, "memory.memsw.limit_in_bytes")
                if os.path.exists(memsw):  # only with swap accounting (swapaccount=1)
                    _write(memsw, swap_limit(resources))
        cpu = self.path(parent, id, "cpu")
        if resources.cpu_shares:
            if cpu is None:
                log.warning("no cpu cgroup: the CPU shares of %s are ignored", id[:12])
            else:
                _write(os.path.join(cpu, "cpu.shares"), resources.cpu_shares)
        dev = self.path(parent, id, "devices")
        if dev is not None:
            if privileged:
                _write(os.path.join(dev, "devices.allow"), "a")
            else:
                _write(os.path.join(dev, "devices.deny"), "a")
                for rule in devices.ALLOWED:
                    _write(os.path.join(dev, "devices.allow"), rule)

    @staticmethod
    def _mkdirs(mnt: str, relative: str, cpuset: bool) -> None:
        path = mnt
        for part in relative.split("/"):
            if not part:
                continue
            parent, path = path, os.path.join(path, part)
            try:
                os.mkdir(path, 0o755)
            except FileExistsError:
                continue
            if cpuset:
                # A new v1 cpuset cgroup starts with no CPUs and no memory nodes: no task could join.
                for name in ("cpuset.cpus", "cpuset.mems"):
                    with open(os.path.join(parent, name)) as f:
                        _write(os.path.join(path, name), f.read().strip())

    def add(self, parent: str, id: str, pid: int, memory: bool = True) -> None:
        """Move `pid` into the container's cgroup of every hierarchy it is not in yet (with
        `memory=False`, leave the memory hierarchy out: see NativeDriver.start)."""
        joined = _joined_controllers(pid, f"/{parent.strip('/')}/{id}")
        for mnt, ctrls in self.hierarchies.items():
            if joined & set(ctrls) or (not memory and "memory" in ctrls):
                continue
            _write(os.path.join(mnt, parent, id, "cgroup.procs"), pid)

    def procs(self, parent: str, id: str) -> list[int]:
        for controller in ("pids", "freezer", "memory", "devices", "cpu"):
            path = self.path(parent, id, controller)
            if path:
                return _read_pids(os.path.join(path, "cgroup.procs"))
        return []

    def exists(self, parent: str, id: str) -> bool:
        return any(os.path.isdir(p) for p in self.paths(parent, id))

    def remove(self, parent: str, id: str, timeout: float = _REMOVE_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        for path in self.paths(parent, id):
            _rmdir_when_empty(path, os.path.join(path, "cgroup.procs"), deadline)


class CgroupsV2:
    version = 2

    def __init__(self, root: str) -> None:
        self.root = root
        try:
            with open(os.path.join(root, "cgroup.controllers")) as f:
                self.available = set(f.read().split())
        except OSError:
            self.available = set()

    def path(self, parent: str, id: str, controller: str = "") -> str:
        return os.path.join(self.root, parent, id)

    def paths(self, parent: str, id: str) -> list[str]:
        return [self.path(parent, id)]

    def _enable_controllers(self, directory: str) -> None:
        control = os.path.join(directory, "cgroup.subtree_control")
        try:
            with open(control) as f:
                enabled = set(f.read().split())
        except OSError:
            return
        for controller in V2_CONTROLLERS:
            if controller in self.available and controller not in enabled:
                try:
                    _write(control, "+" + controller)
                except OSError as e:  # e.g. a threaded subtree; the container just goes without
                    log.warning("cannot enable the %s controller in %s: %s", controller, directory, e)

    def create(self, parent: str, id: str, resources: Resources, privileged: bool) -> None:
        directory = self.root
        self._enable_controllers(directory)
        for part in [p for p in parent.split("/") if p]:
            directory = os.path.join(directory, part)
            os.makedirs(directory, 0o755, exist_ok=True)
            self._enable_controllers(directory)
        path = self.path(parent, id)
        os.makedirs(path, 0o755, exist_ok=True)
        if resources.memory:
            if "memory" not in self.available:
                log.warning("no memory controller: the memory limit of %s is ignored", id[:12])
            else:
                _write(os.path.join(path, "memory.max"), resources.memory)
                total = swap_limit(resources)
                swap = "max" if total == -1 else max(total - resources.memory, 0)
                if os.path.exists(os.path.join(path, "memory.swap.max")):
                    _write(os.path.join(path, "memory.swap.max"), swap)
        if resources.cpu_shares:
            if "cpu" not in self.available:
                log.warning("no cpu controller: the CPU shares of %s are ignored", id[:12])
            else:
                _write(os.path.join(path, "cpu.weight"), cpu_weight(resources.cpu_shares))

    def add(self, parent: str, id: str, pid: int, memory: bool = True) -> None:
        # One tree holds every controller: there is no joining "all but memory" on v2.
        if memory:
            _write(os.path.join(self.path(parent, id), "cgroup.procs"), pid)

    def procs(self, parent: str, id: str) -> list[int]:
        return _read_pids(os.path.join(self.path(parent, id), "cgroup.procs"))

    def exists(self, parent: str, id: str) -> bool:
        return os.path.isdir(self.path(parent, id))

    def remove(self, parent: str, id: str, timeout: float = _REMOVE_TIMEOUT) -> None:
        path = self.path(parent, id)
        procs = os.path.join(path, "cgroup.procs")
        if _read_pids(procs):
            try:
                _write(os.path.join(path, "cgroup.kill"), 1)  # kills the whole subtree at once (5.14+)
            except OSError:
                pass
        _rmdir_when_empty(path, procs, time.monotonic() + timeout)


class NoCgroups:
    """A host without usable cgroups: containers run without limits or accounting."""

    version = 0

    def create(self, parent: str, id: str, resources: Resources, privileged: bool) -> None:
        if resources.memory or resources.cpu_shares:
            log.warning("no cgroups on this host: the limits of %s are ignored", id[:12])

    def add(self, parent: str, id: str, pid: int, memory: bool = True) -> None:
        pass

    def procs(self, parent: str, id: str) -> list[int]:
        return []

    def exists(self, parent: str, id: str) -> bool:
        return False

    def paths(self, parent: str, id: str) -> list[str]:
        return []

    def remove(self, parent: str, id: str, timeout: float = _REMOVE_TIMEOUT) -> None:
        pass


Cgroups = CgroupsV1 | CgroupsV2 | NoCgroups


def _cgroup_mounts(mountinfo: str) -> list[tuple[str, str, set[str]]]:
    """(fstype, mount point, super options) of every cgroup and cgroup2 mount."""
    found = []
    try:
        with open(mountinfo) as f:
            lines = f.read().splitlines()
    except OSError:
        return found
    for line in lines:
        fields = line.split()
        try:
            sep = fields.index("-")
        except ValueError:
            continue
        fstype = fields[sep + 1]
        if fstype in ("cgroup", "cgroup2"):
            # Octal escapes (\040 for a space) in mount points, as the kernel writes them.
            point = fields[4].encode().decode("unicode_escape")
            options = set(fields[sep + 3].split(",")) if len(fields) > sep + 3 else set()
            found.append((fstype, point, options))
    return found


def detect(root: str = "/sys/fs/cgroup", mountinfo: str = "/proc/self/mountinfo") -> Cgroups:
    """The cgroup layout of this host (see the module's docstring)."""
    if os.path.exists(os.path.join(root, "cgroup.controllers")):
        return CgroupsV2(root)
    mounts = _cgroup_mounts(mountinfo)
    hierarchies: dict[str, tuple[str, ...]] = {}
    for fstype, point, options in mounts:
        if fstype != "cgroup" or point in hierarchies:
            continue
        if any(c in options for c in V1_CONTROLLERS):
            controllers = tuple(c for c in (*V1_CONTROLLERS, "cpuset") if c in options)
            if point not in hierarchies and not any(set(controllers) & set(v) for v in hierarchies.values()):
                hierarchies[point] = controllers
    if hierarchies:
        return CgroupsV1(hierarchies)
    for fstype, point, _ in mounts:
        if fstype == "cgroup2":
            return CgroupsV2(point)
    return NoCgroups()


def _joined_controllers(pid: int, path: str) -> set[str]:
    """The v1 controllers whose hierarchy has `pid` in the cgroup `path` already."""
    joined: set[str] = set()
    try:
        with open(f"/proc/{pid}/cgroup") as f:
            for line in f:
                _, controllers, cgroup = line.rstrip("\n").split(":", 2)
                if cgroup == path:
                    joined.update(controllers.split(","))
    except (OSError, ValueError):
        pass
    return joined


def pid_in_container(pid: int, id: str) -> bool:
    """Whether the live process `pid` belongs to a cgroup named `id` (a container's)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            state = f.read().rsplit(b")", 1)[1].split()[0]
        if state in (b"Z", b"X"):
            return False
        with open(f"/proc/{pid}/cgroup") as f:
            return any(line.rstrip("\n").rsplit("/", 1)[-1] == id for line in f)
    except (OSError, IndexError):
        return False
