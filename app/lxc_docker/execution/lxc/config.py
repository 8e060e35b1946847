"""A container's LXC configuration, in LXC 3+ key syntax, from the `Command` the native driver gets.

Pure: the host facts it depends on (cgroup version, swap accounting, AppArmor, the kernel's last
capability) and what `prepare` resolved on the host (uid, gid, groups, mount targets) come in as
arguments, so the unit tests can check every line without LXC.

The network namespace is LXC's `empty` type (only lo): the daemon gives it eth0 from the host side
in its on_created hook (network/manager.py), exactly as with the native driver, so the bridge, the
address allocator and the iptables rules need not know which driver runs the container. A Command
whose `network` names an interface (the driver contract's other way) gets it as a `phys` eth0.

`HostConfig.LxcConf` entries (`--lxc-conf`) come last and override: a scalar key the user sets
replaces the generated one; list keys (mount entries, hooks, cgroup device rules, capabilities,
environment) add to the generated ones. Docker 0.9's documented key names (lxc.utsname,
lxc.network.*, lxc.aa_profile...) are translated to today's, as `lxc-update-config` would.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lxc_docker.execution.base import Command
from lxc_docker.execution.native import devices
from lxc_docker.runconfig.security import CAPABILITIES, capability_set
from lxc_docker.sysutil import mountprop

# /proc entries hidden behind /dev/null and made read-only for an unprivileged container, as the
# native driver does (execution/native/mounts.py); `proc:mixed` already makes /proc/sys and
# /proc/sysrq-trigger read-only.
PROC_MASKED = ("kcore", "keys", "timer_list", "sched_debug")
PROC_READ_ONLY = ("irq", "bus")

# Keys LXC accepts many times, each adding to the list: --lxc-conf adds to ours.
LIST_KEYS = (
    "lxc.mount.entry",
    "lxc.cap.drop",
    "lxc.cap.keep",
    "lxc.environment",
    "lxc.hook.",
    "lxc.cgroup.devices.allow",
    "lxc.cgroup.devices.deny",
    "lxc.cgroup2.devices.allow",
    "lxc.cgroup2.devices.deny",
    "lxc.idmap",
    "lxc.include",
    "lxc.prlimit.",
    "lxc.sysctl.",
)

# Docker 0.9's (LXC 1.x/2.x) key names and today's; a `lxc.network.N.` prefix becomes `lxc.net.N.`.
LEGACY_KEYS = {
    "lxc.utsname": "lxc.uts.name",
    "lxc.rootfs": "lxc.rootfs.path",
    "lxc.rootfs.backend": "",  # gone in LXC 3: dropped
    "lxc.pivotdir": "",
    "lxc.aa_profile": "lxc.apparmor.profile",
    "lxc.aa_allow_incomplete": "lxc.apparmor.allow_incomplete",
    "lxc.se_context": "lxc.selinux.context",
    "lxc.console": "lxc.console.path",
    "lxc.console.logfile": "lxc.console.logfile",
    "lxc.tty": "lxc.tty.max",
    "lxc.devttydir": "lxc.tty.dir",
    "lxc.pts": "lxc.pty.max",
    "lxc.id_map": "lxc.idmap",
    "lxc.init_cmd": "lxc.init.cmd",
    "lxc.init_uid": "lxc.init.uid",
    "lxc.init_gid": "lxc.init.gid",
    "lxc.loglevel": "lxc.log.level",
    "lxc.logfile": "lxc.log.file",
    "lxc.mount": "lxc.mount.fstab",
    "lxc.haltsignal": "lxc.signal.halt",
    "lxc.rebootsignal": "lxc.signal.reboot",
    "lxc.stopsignal": "lxc.signal.stop",
    "lxc.syslog": "lxc.log.syslog",
    "lxc.seccomp": "lxc.seccomp.profile",
    "lxc.limit": "lxc.prlimit",
    "lxc.kmsg": "",
    "lxc.network.ipv4": "lxc.net.0.ipv4.address",
    "lxc.network.ipv6": "lxc.net.0.ipv6.address",
}
_LEGACY_NET_SUFFIX = {"ipv4": "ipv4.address", "ipv6": "ipv6.address"}


@dataclass
class HostFacts:
    cgroup_version: int = 1  # 2 on a host with only the unified hierarchy
    memsw: bool = False  # cgroup v1 swap accounting (memory.memsw.limit_in_bytes exists)
    swap_v2: bool = False  # cgroup v2 memory.swap.max exists
    apparmor: bool = False  # AppArmor is enabled: LXC generates a profile per container
    last_cap: int = 40  # /proc/sys/kernel/cap_last_cap


@dataclass
class Init:
    """What `prepare` resolved in the container's files for its first process."""

    uid: int = 0
    gid: int = 0
    groups: list[int] = field(default_factory=list)
    cwd: str = "/"
    # (host source, target relative to the rootfs with its symlinks resolved, writable, is a dir)
    mounts: list[tuple[str, str, bool, bool]] = field(default_factory=list)
    propagation: dict[str, str] = field(default_factory=dict)  # target → a bind's rshared, rslave...
    console: str = ""  # with a tty: the host path of the pty slave, bound on /dev/console (as Docker 0.9)


class ConfigError(Exception):
    pass


def _root_propagation(init: Init) -> list[tuple[str, str]]:
    # LXC turns the container's tree into a slave of the host's; a shared bind needs it to stay a
    # peer, which LXC does for a propagation named in the rootfs's options.
    mode = mountprop.root_propagation(list(init.propagation.values()))
    return [("lxc.rootfs.options", mode)] if mode == "rshared" else []


def fstab_escape(path: str) -> str:
    """A path as an fstab field (LXC reads mount entries with getmntent): octal for the separators."""
    out = []
    for ch in path:
        out.append(f"\\{ord(ch):03o}" if ch in " \t\n\\" else ch)
    return "".join(out)


def _check_value(key: str, value: str) -> str:
    # One key per line: a newline in a value would let a user's string write its own keys.
    if "\n" in value or "\r" in value or "\0" in value:
        raise ConfigError(f"{key}: a value with a line break cannot be given to LXC")
    return value


def swap_limit(memory: int, memory_swap: int) -> int | None:
    """Memory + swap for a memory limit (Docker 0.9: twice the memory), -1 = unlimited."""
    if not memory:
        return None
    if memory_swap == -1:
        return -1
    if memory_swap > 0:
        return max(memory_swap, memory)
    return memory * 2


def cpu_weight(shares: int) -> int:
    """cgroup v2 cpu.weight for v1 cpu.shares, as runc and crun map them (and the native driver)."""
    shares = min(max(shares, 2), 262144)
    return 1 + ((shares - 2) * 9999) // 262142


def monitor_cgroup(parent: str, id: str) -> str:
    """Where LXC puts its monitor (lxc-start): beside the containers' tree, never in the container's
    cgroup, so that `docker top` and the cgroup's pids are the container's processes only."""
    return f"{parent.strip('/')}-lxc/{id}"


def _cgroups(command: Command, host: HostFacts) -> list[tuple[str, str]]:
    parent = (command.cgroup_parent or "docker").strip("/")
    out = [
        ("lxc.cgroup.dir.container", f"{parent}/{command.id}"),
        ("lxc.cgroup.dir.monitor", monitor_cgroup(parent, command.id)),
    ]
    res = command.resources
    total = swap_limit(res.memory, res.memory_swap)
    if host.cgroup_version == 2:
        if res.memory:
            out.append(("lxc.cgroup2.memory.max", str(res.memory)))
            if host.swap_v2 and total is not None:
                out.append(("lxc.cgroup2.memory.swap.max", "max" if total == -1 else str(total - res.memory)))
        if res.cpu_shares:
            out.append(("lxc.cgroup2.cpu.weight", str(cpu_weight(res.cpu_shares))))
        prefix = "lxc.cgroup2.devices"
    else:
        if res.memory:
            out.append(("lxc.cgroup.memory.limit_in_bytes", str(res.memory)))
            if host.memsw and total is not None:
                out.append(("lxc.cgroup.memory.memsw.limit_in_bytes", str(total)))
        if res.cpu_shares:
            out.append(("lxc.cgroup.cpu.shares", str(res.cpu_shares)))
        prefix = "lxc.cgroup.devices"
    if command.privileged:
        out.append((f"{prefix}.allow", "a"))
    else:
        out.append((f"{prefix}.deny", "a"))
        out.extend((f"{prefix}.allow", rule) for rule in devices.ALLOWED)
    return out


def _network(command: Command) -> list[tuple[str, str]]:
    net = command.network
    if command.host_network:  # --net host: LXC's `none` type keeps the host's network namespace
        return [("lxc.net.0.type", "none")]
    if command.net_from_pid:  # --net container:NAME
        return [("lxc.namespace.share.net", f"/proc/{command.net_from_pid}/ns/net")]
    if net is None or not net.interface:
        # Only lo (up, as Docker has it): the daemon adds eth0 from the host side (see above).
        return [("lxc.net.0.type", "empty"), ("lxc.net.0.flags", "up")]
    # A Command that names an interface the caller made (the native driver's Network contract):
    # LXC moves it in as eth0 and configures it, as the native init does.
    out = [
        ("lxc.net.0.type", "phys"),
        ("lxc.net.0.link", net.interface),
        ("lxc.net.0.name", "eth0"),
        ("lxc.net.0.flags", "up"),
    ]
    if net.mtu:
        out.append(("lxc.net.0.mtu", str(net.mtu)))
    if net.mac:
        out.append(("lxc.net.0.hwaddr", net.mac))
    if net.address:
        out.append(("lxc.net.0.ipv4.address", net.address))
    if net.gateway:
        out.append(("lxc.net.0.ipv4.gateway", net.gateway))
    return out


def capabilities(command: Command, last_cap: int) -> list[str]:
    """LXC's names (lowercase, no CAP_) of the capabilities the container keeps, those the running
    kernel knows only (LXC refuses a name beyond cap_last_cap)."""
    kept = capability_set(command.cap_add, command.cap_drop, command.privileged)
    return sorted(name.lower() for name in kept if CAPABILITIES[name] <= last_cap)


def generate(
    command: Command,
    host: HostFacts,
    init: Init,
    hook: str,
    seccomp_path: str = "",
    devices_hook: str = "",
) -> list[tuple[str, str]]:
    """The (key, value) lines of the container's configuration, before --lxc-conf. `devices_hook`
    copies the host's device nodes into a privileged container's /dev (LXC's autodev makes only the
    standard ones), as the native driver does."""
    privileged = command.privileged
    out: list[tuple[str, str]] = [
        ("lxc.uts.name", command.hostname or command.id[:12]),
        ("lxc.rootfs.path", f"dir:{command.rootfs}"),
        *_root_propagation(init),
        *_network(command),
        ("lxc.apparmor.profile", "generated" if host.apparmor and not privileged else "unconfined"),
        ("lxc.console.path", "none"),
        ("lxc.tty.max", "0"),
        ("lxc.pty.max", "1024"),
        ("lxc.autodev", "1"),
        ("lxc.ephemeral", "0"),
        ("lxc.mount.auto", "proc:rw sys:rw" if privileged else "proc:mixed sys:ro"),
        ("lxc.mount.entry", "shm dev/shm tmpfs rw,nosuid,nodev,noexec,mode=1777,size=65536k,create=dir 0 0"),
        ("lxc.mount.entry", "mqueue dev/mqueue mqueue rw,nosuid,nodev,noexec,create=dir 0 0"),
    ]
    if init.console:
        out.append(("lxc.mount.entry", f"{fstab_escape(init.console)} dev/console none bind,create=file 0 0"))
    for source, target, writable, is_dir in init.mounts:
        options = "bind" if not is_dir else "rbind"
        if not writable:
            options += ",ro"
        if init.propagation.get(target):
            options += "," + init.propagation[target]  # LXC sets it on the mount after binding
        options += ",create=dir" if is_dir else ",create=file"
        out.append(("lxc.mount.entry", f"{fstab_escape(source)} {fstab_escape(target)} none {options} 0 0"))
    if not privileged:
        for name in PROC_READ_ONLY:
            out.append(("lxc.mount.entry", f"/proc/{name} proc/{name} none bind,ro,optional 0 0"))
        for name in PROC_MASKED:
            out.append(("lxc.mount.entry", f"/dev/null proc/{name} none bind,optional 0 0"))
    out += [
        ("lxc.init.uid", str(init.uid)),
        ("lxc.init.gid", str(init.gid)),
        ("lxc.init.cwd", init.cwd or "/"),
    ]
    if init.groups:
        out.append(("lxc.init.groups", ",".join(str(g) for g in init.groups)))
    out.extend(("lxc.environment", item) for item in command.env if "=" in item)
    if not privileged:
        caps = capabilities(command, host.last_cap)
        out.append(("lxc.cap.keep", " ".join(caps) if caps else "none"))
    if seccomp_path:
        out.append(("lxc.seccomp.profile", seccomp_path))
    if command.no_new_privileges:
        out.append(("lxc.no_new_privs", "1"))
    out.extend(_cgroups(command, host))
    if privileged and devices_hook:
        out.append(("lxc.hook.autodev", devices_hook))
    out.append(("lxc.hook.start-host", hook))
    return [(key, _check_value(key, value)) for key, value in out]


def modern_key(key: str) -> str:
    """Today's name of a key given in Docker 0.9's (LXC 1.x) syntax; "" for a key LXC 3 dropped."""
    key = key.strip()
    if key in LEGACY_KEYS:
        return LEGACY_KEYS[key]
    if key.startswith("lxc.network."):
        rest = key[len("lxc.network.") :]
        index, dot, tail = rest.partition(".")
        if not index.isdigit():  # lxc.network.type: the single unnumbered network of LXC 1.x
            index, tail, dot = "0", rest, "."
        return f"lxc.net.{index}{dot}{_LEGACY_NET_SUFFIX.get(tail, tail)}"
    return key


def _is_list_key(key: str) -> bool:
    return any(key == k or (k.endswith(".") and key.startswith(k)) for k in LIST_KEYS)


def apply_overrides(entries: list[tuple[str, str]], lxc_conf: list[dict[str, str]]) -> list[tuple[str, str]]:
    """`entries` with HostConfig.LxcConf's {"Key", "Value"} entries applied (see the module's doc).
    Keys are not checked here: LXC refuses an unknown one, and its message is the one to show."""
    user: list[tuple[str, str]] = []
    for kv in lxc_conf:
        key = modern_key(kv.get("Key", ""))
        if not key:
            continue
        user.append((key, _check_value(key, str(kv.get("Value", "")).strip())))
    replaced = {key for key, _ in user if not _is_list_key(key)}
    return [(k, v) for k, v in entries if k not in replaced] + user


def render(entries: list[tuple[str, str]]) -> str:
    """The configuration file's text."""
    return "".join(f"{key} = {value}\n" for key, value in entries)
