"""The OCI bundle's `config.json` (runtime-spec 1.0) for a `Command`: the same container the native
driver builds by hand, described for runc or crun.

What Docker puts in its spec for a default container (moby's oci/defaults.go and daemon/oci_linux.go)
is what goes here: the namespaces, the /proc, /sys and /dev mounts, the capability whitelist, the
devices cgroup whitelist, the masked and read-only paths, the seccomp profile; `--privileged` as Docker
does it with runc: every capability, every host device, no masks, no seccomp, /sys writable.
The inputs that depend on this host (the container's account files, the kernel's last capability, the
host's devices) are read by the caller and passed in, so that `build()` is a pure function.
"""

from __future__ import annotations

import os
import stat
from typing import Any

from lxc_docker.execution.base import Command
from lxc_docker.execution.native import cgroups as native_cgroups
from lxc_docker.execution.native import devices as native_devices
from lxc_docker.execution.native import seccomp as native_seccomp
from lxc_docker.runconfig.security import CAPABILITIES, capability_set
from lxc_docker.sysutil import mountprop

OCI_VERSION = "1.0.2"

# moby oci/defaults.go: hidden behind /dev/null (files) or an empty read-only tmpfs (directories).
MASKED_PATHS = (
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
)
# Bound read-only: root in the container must not write /proc/sys/kernel/core_pattern (a program the
# host runs as root) or /proc/sysrq-trigger.
READONLY_PATHS = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")

# The machine's own seccomp architecture and the compat ones its processes can call the kernel with.
_ARCHES = {
    "x86_64": ("SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"),
    "aarch64": ("SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"),
}

# Host /dev entries a privileged container does not get as devices (the runtime makes its own).
_NOT_COPIED = {"pts", "ptmx", "shm", "mqueue", "hugepages", "console", "tty", "fd", "core"}


def base_mounts(privileged: bool) -> list[dict[str, Any]]:
    """/proc, /sys, /dev and its filesystems, as Docker mounts them (and as native's mounts.py does)."""
    return [
        {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
        {
            "destination": "/dev",
            "type": "tmpfs",
            "source": "tmpfs",
            "options": ["nosuid", "strictatime", "mode=755", "size=65536k"],
        },
        {
            "destination": "/dev/pts",
            "type": "devpts",
            "source": "devpts",
            "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"],
        },
        {
            "destination": "/sys",
            "type": "sysfs",
            "source": "sysfs",
            "options": ["nosuid", "noexec", "nodev", "rw" if privileged else "ro"],
        },
        {
            "destination": "/dev/mqueue",
            "type": "mqueue",
            "source": "mqueue",
            "options": ["nosuid", "noexec", "nodev"],
        },
        {
            "destination": "/dev/shm",
            "type": "tmpfs",
            "source": "shm",
            "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
        },
    ]


def bind_mounts(command: Command) -> list[dict[str, Any]]:
    """The Command's volumes and name files; the runtime resolves each destination inside the rootfs
    (runc with securejoin, crun with openat2), so an image's symlinks cannot send them to the host."""
    out = []
    for m in command.mounts:
        options = ["rbind", "rw" if m.writable else "ro"]
        if m.propagation:
            options.append(m.propagation)  # runc and crun set it on the mount after binding
        elif m.private:
            options.append("rprivate")
        out.append({"destination": m.destination, "type": "bind", "source": m.source, "options": options})
    return out


def device_rules(privileged: bool) -> list[dict[str, Any]]:
    """linux.resources.devices from native's cgroup v1 whitelist ("c 1:3 rwm"; `*` = any)."""
    if privileged:
        return [{"allow": True, "access": "rwm"}]
    rules: list[dict[str, Any]] = [{"allow": False, "access": "rwm"}]
    for text in native_devices.ALLOWED:
        kind, numbers, access = text.split()
        major, _, minor = numbers.partition(":")
        rule: dict[str, Any] = {"allow": True, "type": kind, "access": access}
        if major != "*":
            rule["major"] = int(major)
        if minor != "*":
            rule["minor"] = int(minor)
        rules.append(rule)
    return rules


def host_devices(dev: str = "/dev") -> list[dict[str, Any]]:
    """Every device node under the host's `dev`, as linux.devices entries (for --privileged)."""
    found: list[dict[str, Any]] = []

    def scan(directory: str) -> None:
        try:
            entries = list(os.scandir(directory))
        except OSError:
            return
        for entry in entries:
            if directory == dev and entry.name in _NOT_COPIED:
                continue
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue  # vanished meanwhile
            if stat.S_ISDIR(st.st_mode):
                scan(entry.path)
            elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
                found.append(
                    {
                        "path": entry.path,
                        "type": "c" if stat.S_ISCHR(st.st_mode) else "b",
                        "major": os.major(st.st_rdev),
                        "minor": os.minor(st.st_rdev),
                        "fileMode": stat.S_IMODE(st.st_mode),
                        "uid": st.st_uid,
                        "gid": st.st_gid,
                    }
                )

    scan(dev)
    return sorted(found, key=lambda d: d["path"])


def capabilities(command: Command, bounding: int) -> dict[str, list[str]]:
    """The process's capability sets: Docker's default set adjusted by CapAdd/CapDrop, or all of them
    for --privileged, as far as the daemon's own bounding set has them (`bounding`, a mask: as
    Docker's privileged set, since no runtime can grant more and runc refuses to try). No ambient
    capabilities, as in the native driver."""
    caps = capability_set(command.cap_add, command.cap_drop, command.privileged)
    names = sorted(f"CAP_{c}" for c in caps if bounding >> CAPABILITIES[c] & 1)
    return {"bounding": names, "effective": names, "permitted": names, "inheritable": []}


def seccomp_profile(command: Command, machine: str) -> dict[str, Any] | None:
    """linux.seccomp from the native driver's profile (or the container's own), None when unconfined.

    Docker's JSON format and the OCI one differ only in the capability and architecture conditions
    (`includes`/`excludes`), which Docker evaluates before handing the profile to runc: done here with
    native's own `applies()`, so both drivers filter the same calls. The native driver lets libseccomp
    add the compat architectures of the default profile; OCI wants them named."""
    if command.privileged or command.seccomp == "unconfined":
        return None
    profile = command.seccomp_profile if command.seccomp == "custom" else native_seccomp.DEFAULT_PROFILE
    if not profile:
        raise ValueError("no seccomp profile given")
    caps = capability_set(command.cap_add, command.cap_drop, command.privileged)
    if profile is native_seccomp.DEFAULT_PROFILE:
        arches = list(_ARCHES.get(machine, ()))
    else:
        arches = list(profile.get("architectures") or [])
    out: dict[str, Any] = {"defaultAction": profile["defaultAction"], "architectures": arches, "syscalls": []}
    if profile.get("defaultErrnoRet") is not None:
        out["defaultErrnoRet"] = profile["defaultErrnoRet"]
    for rule in profile.get("syscalls") or ():
        if not native_seccomp.applies(rule, caps, machine):
            continue
        entry: dict[str, Any] = {"names": list(rule["names"]), "action": rule["action"]}
        if rule.get("args"):
            entry["args"] = [
                {"index": a["index"], "value": a["value"], "valueTwo": a.get("valueTwo", 0), "op": a["op"]}
                for a in rule["args"]
            ]
        if rule.get("errnoRet") is not None:
            entry["errnoRet"] = rule["errnoRet"]
        out["syscalls"].append(entry)
    return out


def resources(command: Command, swap_accounting: bool) -> dict[str, Any]:
    """linux.resources: `-m` (with Docker 0.9's swap rule), `-c`, and the devices whitelist."""
    out: dict[str, Any] = {"devices": device_rules(command.privileged)}
    limits = command.resources
    if limits.memory:
        memory: dict[str, Any] = {"limit": limits.memory}
        swap = native_cgroups.swap_limit(limits)
        if swap_accounting and swap is not None:
            memory["swap"] = swap  # OCI's swap is memory + swap, as cgroup v1's memsw
        out["memory"] = memory
    if limits.cpu_shares:
        out["cpu"] = {"shares": limits.cpu_shares}
    return out


def build(
    command: Command,
    *,
    uid: int,
    gid: int,
    groups: list[int],
    bounding: int,
    machine: str,
    nofile: tuple[int, int],
    swap_accounting: bool,
    devices: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The config.json document for `command`, whose user the caller resolved in the image's /etc
    files. `bounding` is the daemon's capability bounding set, `devices` the host's (only for
    --privileged), `nofile` the daemon's RLIMIT_NOFILE (a native container inherits it; here it is
    explicit)."""
    process: dict[str, Any] = {
        "terminal": command.tty,
        "user": {"uid": uid, "gid": gid, "additionalGids": groups} if groups else {"uid": uid, "gid": gid},
        "args": [command.entrypoint, *command.args],
        "env": list(command.env),
        "cwd": command.workdir or "/",
        "capabilities": capabilities(command, bounding),
        "noNewPrivileges": command.no_new_privileges,
        "rlimits": [{"type": "RLIMIT_NOFILE", "soft": nofile[0], "hard": nofile[1]}],
    }
    linux: dict[str, Any] = {
        "namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount")],
        "cgroupsPath": f"/{command.cgroup_parent.strip('/')}/{command.id}",
        "resources": resources(command, swap_accounting),
        # rshared or rslave when a bind asks for it (a bind joins its source's peer group only
        # if the tree it is bound from still is a peer), as Docker sets it.
        "rootfsPropagation": mountprop.root_propagation([m.propagation for m in command.mounts]),
    }
    if command.privileged:
        linux["devices"] = list(devices or [])
    else:
        linux["maskedPaths"] = list(MASKED_PATHS)
        linux["readonlyPaths"] = list(READONLY_PATHS)
    profile = seccomp_profile(command, machine)
    if profile is not None:
        linux["seccomp"] = profile
    return {
        "ociVersion": OCI_VERSION,
        "process": process,
        "root": {"path": command.rootfs, "readonly": False},
        "hostname": command.hostname,
        "mounts": base_mounts(command.privileged) + bind_mounts(command),
        "linux": linux,
    }
