"""HostConfig.CapAdd, CapDrop and SecurityOpt: the capability names the kernel has, Docker's default
set, and what `--security-opt` may say. Pure functions, read by the daemon at create (a wrong name is
a 400 there, not a failed start) and by the native driver when it computes a container's set.
"""

from __future__ import annotations

from ..errors import InvalidParameter

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# Capability numbers, from linux/capability.h.
_KERNEL_ORDER = (
    "CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL SETGID SETUID SETPCAP LINUX_IMMUTABLE "
    "NET_BIND_SERVICE NET_BROADCAST NET_ADMIN NET_RAW IPC_LOCK IPC_OWNER SYS_MODULE SYS_RAWIO "
    "SYS_CHROOT SYS_PTRACE SYS_PACCT SYS_ADMIN SYS_BOOT SYS_NICE SYS_RESOURCE SYS_TIME "
    "SYS_TTY_CONFIG MKNOD LEASE AUDIT_WRITE AUDIT_CONTROL SETFCAP MAC_OVERRIDE MAC_ADMIN SYSLOG "
    "WAKE_ALARM BLOCK_SUSPEND AUDIT_READ PERFMON BPF CHECKPOINT_RESTORE"
)
CAPABILITIES: dict[str, int] = {name: number for number, name in enumerate(_KERNEL_ORDER.split())}

# Today's Docker's default set (oci/caps/defaults.go). Kept as a whitelist: capabilities added to the
# kernel later are never granted by accident. Left out on purpose, among others: SYSLOG (the host's
# kernel log, even where the host sets dmesg_restrict), SYS_PTRACE, LINUX_IMMUTABLE, SYS_BOOT,
# DAC_READ_SEARCH (open_by_handle_at reaches any host file: CVE-2014-3519), SYS_ADMIN, NET_ADMIN.
DEFAULT_CAPABILITIES: tuple[str, ...] = (
    "CHOWN",
    "DAC_OVERRIDE",
    "FSETID",
    "FOWNER",
    "MKNOD",
    "NET_RAW",
    "SETGID",
    "SETUID",
    "SETFCAP",
    "SETPCAP",
    "NET_BIND_SERVICE",
    "SYS_CHROOT",
    "KILL",
    "AUDIT_WRITE",
)


def normalize_capability(name: str, key: str) -> str:
    """`sys_admin`, `CAP_SYS_ADMIN` -> "SYS_ADMIN"; "ALL" stays. Unknown names: Docker's 400."""
    upper = name.upper()
    bare = upper[4:] if upper.startswith("CAP_") else upper
    if bare == "ALL" or bare in CAPABILITIES:
        return bare
    raise InvalidParameter(f'invalid {key}: unknown capability: "CAP_{bare}"')


def capability_set(cap_add: list[str], cap_drop: list[str], privileged: bool = False) -> set[str]:
    """The capabilities a container keeps, by today's Docker's rules (oci/caps TweakCapabilities):
    --privileged gets all; `--cap-add ALL` all but the dropped ones; `--cap-drop ALL` only the added
    ones; otherwise the defaults less the dropped ones, plus the added ones."""
    everything = set(CAPABILITIES)
    if privileged:
        return everything
    add = {normalize_capability(c, "CapAdd") for c in cap_add}
    drop = {normalize_capability(c, "CapDrop") for c in cap_drop}
    if "ALL" in add:
        return everything - drop
    if "ALL" in drop:
        return add
    return (set(DEFAULT_CAPABILITIES) - drop) | add


def capability_mask(caps: set[str]) -> int:
    return sum(1 << CAPABILITIES[name] for name in caps)


class SecurityOptions:
    """What HostConfig.SecurityOpt asks for."""

    __slots__ = ("seccomp", "seccomp_profile", "no_new_privileges")

    def __init__(self) -> None:
        self.seccomp = "default"  # "default", "unconfined" or "custom"
        self.seccomp_profile: dict[str, Any] | None = None  # the custom profile, Docker's JSON format
        self.no_new_privileges = False


_TRUE = ("", "true", "1")
_FALSE = ("false", "0")


def parse_security_opts(opts: list[str] | None) -> SecurityOptions:
    """HostConfig.SecurityOpt entries (`seccomp=unconfined`, `seccomp=<profile JSON>`,
    `no-new-privileges[=true|false]`; `label` and `apparmor` are accepted and have no effect here, as
    on a Docker host without SELinux or AppArmor). Anything else is Docker's 400."""
    result = SecurityOptions()
    for opt in opts or ():
        if opt == "no-new-privileges":
            result.no_new_privileges = True
            continue
        # Docker accepts "key:value" too, the syntax before 1.11.
        sep = "=" if "=" in opt else ":"
        key, found, value = opt.partition(sep)
        if not found:
            raise InvalidParameter(f'invalid --security-opt 1: "{opt}"')
        if key == "no-new-privileges" and value.lower() in _TRUE + _FALSE:
            result.no_new_privileges = value.lower() in _TRUE
        elif key == "seccomp" and value == "unconfined":
            result.seccomp, result.seccomp_profile = "unconfined", None
        elif key == "seccomp":
            result.seccomp, result.seccomp_profile = "custom", parse_seccomp_profile(value)
        elif key in ("label", "apparmor"):
            pass
        else:
            raise InvalidParameter(f'invalid --security-opt 2: "{opt}"')
    return result


_ACTIONS = (
    "SCMP_ACT_KILL",
    "SCMP_ACT_KILL_PROCESS",
    "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_TRAP",
    "SCMP_ACT_ERRNO",
    "SCMP_ACT_TRACE",
    "SCMP_ACT_ALLOW",
    "SCMP_ACT_LOG",
)
_OPS = tuple(f"SCMP_CMP_{op}" for op in ("NE", "LT", "LE", "EQ", "GE", "GT", "MASKED_EQ"))


def _profile_error(detail: str) -> InvalidParameter:
    return InvalidParameter(f"Decoding seccomp profile failed: {detail}")


def _uint(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _profile_error(f"{what} must be a non-negative integer")
    return value


def parse_seccomp_profile(text: str) -> dict[str, Any]:
    """A seccomp profile in Docker's JSON format, checked and reduced to what the driver applies:
    {"defaultAction", "defaultErrnoRet", "architectures", "syscalls": [{"names", "action",
    "errnoRet", "args", "includes", "excludes"}]}."""
    import json  # here: the container init imports this module and must not pay for json

    try:
        doc = json.loads(text)
    except ValueError as e:
        raise _profile_error(str(e)) from None
    if not isinstance(doc, dict):
        raise _profile_error("the profile must be a JSON object")
    default = doc.get("defaultAction")
    if default not in _ACTIONS:
        raise _profile_error(f"unknown defaultAction {default!r}")
    profile: dict[str, Any] = {"defaultAction": default, "architectures": [], "syscalls": []}
    if doc.get("defaultErrnoRet") is not None:
        profile["defaultErrnoRet"] = _uint(doc["defaultErrnoRet"], "defaultErrnoRet")
    arches = list(doc.get("architectures") or ())
    for entry in doc.get("archMap") or ():  # Docker's map: an architecture with its sub-architectures
        if isinstance(entry, dict):
            arches += [entry.get("architecture"), *(entry.get("subArchitectures") or ())]
    for arch in arches:
        if not isinstance(arch, str) or not arch.startswith("SCMP_ARCH_"):
            raise _profile_error(f"unknown architecture {arch!r}")
        profile["architectures"].append(arch)
    syscalls = doc.get("syscalls") or []
    if not isinstance(syscalls, list):
        raise _profile_error("syscalls must be an array")
    for call in syscalls:
        profile["syscalls"].append(_syscall_rule(call))
    return profile


def _syscall_rule(call: Any) -> dict[str, Any]:
    if not isinstance(call, dict):
        raise _profile_error("each syscalls entry must be an object")
    names = call.get("names") or ([call["name"]] if call.get("name") else [])
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise _profile_error("each syscalls entry needs names, an array of syscall names")
    if call.get("action") not in _ACTIONS:
        raise _profile_error(f"unknown action {call.get('action')!r} for {', '.join(names)}")
    rule: dict[str, Any] = {"names": list(names), "action": call["action"], "args": []}
    if call.get("errnoRet") is not None:
        rule["errnoRet"] = _uint(call["errnoRet"], "errnoRet")
    for arg in call.get("args") or ():
        if not isinstance(arg, dict) or arg.get("op") not in _OPS:
            raise _profile_error(f"unknown op in the args of {', '.join(names)}")
        index = _uint(arg.get("index", 0), "index")
        if index > 5:
            raise _profile_error("index must be between 0 and 5")
        rule["args"].append(
            {
                "index": index,
                "value": _uint(arg.get("value", 0), "value"),
                "valueTwo": _uint(arg.get("valueTwo", 0), "valueTwo"),
                "op": arg["op"],
            }
        )
    for key in ("includes", "excludes"):
        caps = (call.get(key) or {}).get("caps") or []
        if not isinstance(caps, list) or not all(isinstance(c, str) for c in caps):
            raise _profile_error(f"{key}.caps must be an array of capability names")
        if caps:
            rule[key] = {"caps": [normalize_capability(c, f"{key}.caps") for c in caps]}
    return rule
