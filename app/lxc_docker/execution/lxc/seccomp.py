"""The container's seccomp profile in LXC's own text format (version 2), from the same Docker-format
profile the native driver compiles with libseccomp (execution/native/seccomp.py: the default
profile, or a checked custom one), with Docker's capability includes and excludes resolved first.

LXC loads the filter itself, in the container's init, right before the exec. Its `[all]` section
adds each rule for the machine's architecture and its compat ones (x86 and x32 on x86_64), as the
native driver does for the default profile. A system call this architecture lacks is skipped by LXC
with a warning, as Docker skips it.
"""

from __future__ import annotations

import errno

from lxc_docker.execution.base import Command
from lxc_docker.execution.native.seccomp import DEFAULT_PROFILE, applies
from lxc_docker.runconfig.security import capability_set


class ProfileError(Exception):
    pass


_OPS = {
    "SCMP_CMP_NE",
    "SCMP_CMP_LT",
    "SCMP_CMP_LE",
    "SCMP_CMP_EQ",
    "SCMP_CMP_GE",
    "SCMP_CMP_GT",
    "SCMP_CMP_MASKED_EQ",
}


def _action(name: str, errno_ret: int | None) -> str:
    if name == "SCMP_ACT_ERRNO":
        return f"errno {errno.EPERM if errno_ret is None else errno_ret}"
    simple = {
        "SCMP_ACT_ALLOW": "allow",
        "SCMP_ACT_KILL": "kill",
        "SCMP_ACT_KILL_THREAD": "kill",
        "SCMP_ACT_KILL_PROCESS": "kill",
        "SCMP_ACT_TRAP": "trap",
        "SCMP_ACT_LOG": "log",
    }
    if name not in simple:
        raise ProfileError(f"the lxc driver cannot give LXC the seccomp action {name}")
    return simple[name]


def _arg(a: dict) -> str:
    if a.get("op") not in _OPS:
        raise ProfileError(f"the lxc driver cannot give LXC the seccomp operator {a.get('op')}")
    return f"[{int(a['index'])},{int(a['value']):#x},{a['op']},{int(a.get('valueTwo') or 0):#x}]"


def profile_text(command: Command, machine: str | None = None) -> str | None:
    """LXC's profile for `command`, or None when the container runs without a filter (privileged,
    or `--security-opt seccomp=unconfined`)."""
    if command.privileged or command.seccomp == "unconfined":
        return None
    profile = command.seccomp_profile if command.seccomp == "custom" else DEFAULT_PROFILE
    if not profile:
        raise ProfileError("no seccomp profile given")
    caps = capability_set(command.cap_add, command.cap_drop, command.privileged)
    default_errno = profile.get("defaultErrnoRet")
    default = _action(profile["defaultAction"], default_errno)
    # A denylist allows what no rule names; an allowlist applies its default action to it.
    lines = ["2", "denylist" if default == "allow" else f"allowlist {default}", "[all]"]
    for rule in profile.get("syscalls") or ():
        if not applies(rule, caps, machine):
            continue
        action = _action(rule["action"], rule.get("errnoRet", default_errno))
        if action == default:
            continue
        args = "".join(" " + _arg(a) for a in rule.get("args") or ())
        for name in rule["names"]:
            lines.append(f"{name} {action}{args}")
    return "\n".join(lines) + "\n"
