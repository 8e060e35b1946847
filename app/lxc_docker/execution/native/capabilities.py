"""The capabilities an unprivileged container keeps, and dropping the rest before the exec.

Docker 0.9 (native driver, default template) masked out: SETPCAP, SYS_MODULE, SYS_RAWIO, SYS_PACCT,
SYS_ADMIN, SYS_NICE, SYS_RESOURCE, SYS_TIME, SYS_TTY_CONFIG, MKNOD, AUDIT_WRITE, AUDIT_CONTROL,
MAC_OVERRIDE, MAC_ADMIN, NET_ADMIN. So a container cannot mount, load modules, set the clock,
configure interfaces or make device nodes. We keep the remainder as a whitelist (`KEPT`) rather than
a mask, so capabilities added to the kernel since (AUDIT_READ, PERFMON, BPF, CHECKPOINT_RESTORE, ...)
are never granted by accident, and we also drop DAC_READ_SEARCH: with it, open_by_handle_at(2)
reaches any file of the host filesystem from inside the container (the "shocker" breakout,
CVE-2014-3519, which is why Docker 1.0 dropped it).
"""

from __future__ import annotations

from lxc_docker.sysutil import syscalls

NAMES = {
    "CHOWN": 0,
    "DAC_OVERRIDE": 1,
    "DAC_READ_SEARCH": 2,
    "FOWNER": 3,
    "FSETID": 4,
    "KILL": 5,
    "SETGID": 6,
    "SETUID": 7,
    "SETPCAP": 8,
    "LINUX_IMMUTABLE": 9,
    "NET_BIND_SERVICE": 10,
    "NET_BROADCAST": 11,
    "NET_ADMIN": 12,
    "NET_RAW": 13,
    "IPC_LOCK": 14,
    "IPC_OWNER": 15,
    "SYS_MODULE": 16,
    "SYS_RAWIO": 17,
    "SYS_CHROOT": 18,
    "SYS_PTRACE": 19,
    "SYS_PACCT": 20,
    "SYS_ADMIN": 21,
    "SYS_BOOT": 22,
    "SYS_NICE": 23,
    "SYS_RESOURCE": 24,
    "SYS_TIME": 25,
    "SYS_TTY_CONFIG": 26,
    "MKNOD": 27,
    "LEASE": 28,
    "AUDIT_WRITE": 29,
    "AUDIT_CONTROL": 30,
    "SETFCAP": 31,
    "MAC_OVERRIDE": 32,
    "MAC_ADMIN": 33,
    "SYSLOG": 34,
    "WAKE_ALARM": 35,
    "BLOCK_SUSPEND": 36,
    "AUDIT_READ": 37,
    "PERFMON": 38,
    "BPF": 39,
    "CHECKPOINT_RESTORE": 40,
}

KEPT = (
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_BOOT",  # in a child pid namespace reboot(2) only ends the container
    "LEASE",
    "SETFCAP",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
)

KEPT_MASK = sum(1 << NAMES[name] for name in KEPT)


def last_cap() -> int:
    """The highest capability number the running kernel knows."""
    try:
        with open("/proc/sys/kernel/cap_last_cap", "rb") as f:
            return int(f.read())
    except (OSError, ValueError):
        return max(NAMES.values())


def drop_bounding_set(keep: int = KEPT_MASK, last: int | None = None) -> None:
    """Remove every capability outside `keep` from the bounding set, so that no later exec (not even
    of a setuid-root or file-capability binary) can get it back. Needs CAP_SETPCAP: call it before
    the capset and the switch to the container's user."""
    for cap in range((last_cap() if last is None else last) + 1):
        if not keep >> cap & 1:
            syscalls.prctl(syscalls.PR_CAPBSET_DROP, cap)
    # Ambient capabilities would survive the exec of an unprivileged program; the container gets none.
    try:
        syscalls.prctl(syscalls.PR_CAP_AMBIENT, syscalls.PR_CAP_AMBIENT_CLEAR_ALL)
    except OSError:  # kernels before 4.3 have no ambient set
        pass


def limit_process_sets(keep: int = KEPT_MASK) -> None:
    """Reduce the effective, permitted and inheritable sets to `keep` (for a container running as
    root; switching to another uid has already emptied them)."""
    _, permitted, _ = syscalls.capget()
    allowed = permitted & keep
    syscalls.capset(allowed, allowed, 0)
