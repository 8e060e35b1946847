"""A container's cgroups as every exec driver lays them out: `<hierarchy>/<cgroup_parent>/<id>`.

The native driver makes them itself, LXC from `lxc.cgroup.dir.container`, runc and crun from the
spec's `cgroupsPath`; all three use the same relative path, so pause, update and stats work here on
the files alone, whichever driver started the container. This module finds the hierarchies on its
own (v1 controllers from /proc/self/mountinfo, or the unified v2 tree) because the daemon may not
reach into a concrete driver.
"""

from __future__ import annotations

import os
import time
from functools import lru_cache

FREEZE_TIMEOUT = 10.0


class CgroupError(Exception):
    pass


@lru_cache(maxsize=1)
def layout() -> tuple[int, dict[str, str]]:
    """(version, controller -> mount point); v2 maps "" to the unified root, 0 means no cgroups."""
    if os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
        return 2, {"": "/sys/fs/cgroup"}
    mounts: dict[str, str] = {}
    unified = ""
    try:
        with open("/proc/self/mountinfo") as f:
            lines = f.read().splitlines()
    except OSError:
        lines = []
    for line in lines:
        fields = line.split()
        if "-" not in fields:
            continue
        sep = fields.index("-")
        fstype, point = fields[sep + 1], fields[4].encode().decode("unicode_escape")
        if fstype == "cgroup2" and not unified:
            unified = point
        if fstype != "cgroup" or len(fields) <= sep + 3:
            continue
        for option in fields[sep + 3].split(","):
            mounts.setdefault(option, point)
    if mounts:
        return 1, mounts
    if unified:
        return 2, {"": unified}
    return 0, {}


def read_text(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def read_int(path: str) -> int | None:
    text = read_text(path)
    if text is None:
        return None
    text = text.strip()
    if text == "max":
        return -1
    try:
        return int(text)
    except ValueError:
        return None


def read_keyed(path: str) -> dict[str, int]:
    """`key value` lines (memory.stat, cpu.stat, cpuacct.stat) as a dict of ints."""
    out: dict[str, int] = {}
    for line in (read_text(path) or "").splitlines():
        key, _, value = line.partition(" ")
        try:
            out[key] = int(value)
        except ValueError:
            continue
    return out


def write(path: str, value: str | int) -> None:
    with open(path, "w") as f:
        f.write(str(value))


class ContainerCgroup:
    """The cgroup directories of one container."""

    def __init__(self, parent: str, container_id: str) -> None:
        self.version, self._mounts = layout()
        self.relative = os.path.join(parent.strip("/"), container_id)

    def dir(self, controller: str) -> str | None:
        """The directory for `controller` (v2: the one directory), or None if the container has none."""
        mount = self._mounts.get("" if self.version == 2 else controller)
        if mount is None:
            return None
        path = os.path.join(mount, self.relative)
        return path if os.path.isdir(path) else None

    def file(self, controller: str, name: str) -> str | None:
        directory = self.dir(controller)
        return os.path.join(directory, name) if directory else None

    # -- freezer -------------------------------------------------------------------------------------

    def frozen(self) -> bool:
        if self.version == 2:
            events = read_keyed(self.file("", "cgroup.events") or "")
            return events.get("frozen") == 1
        state = read_text(self.file("freezer", "freezer.state") or "")
        return (state or "").strip() == "FROZEN"

    def set_frozen(self, frozen: bool) -> None:
        """Freeze or thaw every task; a freeze returns once the kernel reports them all stopped."""
        if self.version == 2:
            path = self.file("", "cgroup.freeze")
            value: str = "1" if frozen else "0"
        else:
            path = self.file("freezer", "freezer.state")
            value = "FROZEN" if frozen else "THAWED"
        if path is None:
            raise CgroupError("the container has no freezer cgroup")
        deadline = time.monotonic() + FREEZE_TIMEOUT
        delay = 0.001
        while True:
            # v1 may sit in FREEZING while a task is in an uninterruptible sleep: write again.
            write(path, value)
            if self.frozen() == frozen:
                return
            if time.monotonic() > deadline:
                if frozen:
                    self.set_frozen(False)
                raise CgroupError("the container's tasks did not stop in time")
            time.sleep(delay)
            delay = min(delay * 2, 0.05)
