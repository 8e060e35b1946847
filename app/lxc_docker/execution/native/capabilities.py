"""The capabilities a container keeps, and dropping the rest before the exec.

The default set is today's Docker's (`runconfig.security.DEFAULT_CAPABILITIES`), adjusted by
HostConfig.CapAdd and CapDrop; --privileged keeps every capability. The set is a whitelist applied to
the bounding set too, so capabilities added to the kernel later are never granted by accident and no
setuid or file-capability binary can get a dropped one back. Docker 0.9 kept much more (SYSLOG,
SYS_PTRACE, SYS_BOOT, LINUX_IMMUTABLE...): with SYSLOG a container read the host's kernel log even
where the host sets dmesg_restrict.
"""

from __future__ import annotations

from lxc_docker.runconfig.security import CAPABILITIES as NAMES
from lxc_docker.runconfig.security import DEFAULT_CAPABILITIES as KEPT
from lxc_docker.runconfig.security import capability_mask, capability_set
from lxc_docker.sysutil import syscalls

KEPT_MASK = capability_mask(set(KEPT))


def container_set(spec: dict) -> set[str]:
    """The names of the capabilities the container described by `spec` (Command.to_dict()) keeps."""
    return capability_set(spec.get("cap_add") or [], spec.get("cap_drop") or [], bool(spec.get("privileged")))


def mask_of(caps: set[str], last: int | None = None) -> int:
    """The bit mask of `caps`, without the ones the running kernel does not know."""
    top = last_cap() if last is None else last
    return capability_mask({c for c in caps if NAMES[c] <= top})


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
