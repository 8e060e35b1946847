"""The container's seccomp filter: Docker's default profile, or the one HostConfig.SecurityOpt gives,
compiled and loaded by libseccomp through its own Python bindings (Debian's python3-seccomp).

The default profile denies, with EPERM, what Docker's default profile denies: new namespaces
(unshare, setns, clone with a CLONE_NEW* flag: the way to user namespaces and their attack surface),
mounts, kexec, modules, open_by_handle_at, bpf, perf_event_open, swap, accounting, setting the clock,
reboot, io_uring, userfaultfd... and the kernel keyrings (keyctl, add_key, request_key): Docker's
documentation lists them as blocked since the keyrings are not namespaced (its latest profile allows
them again); issue 15 asks for them denied.
Docker writes its profile as an allowlist of ~350 system calls; this one is the same policy written
as a denylist of the calls outside it that matter, so that a program using a call Docker's list
happens to miss still runs. As in Docker, a call that a capability unlocks (mount with SYS_ADMIN,
syslog with SYSLOG, reboot with SYS_BOOT...) is allowed when the container keeps that capability
(`excludes.caps`), and ptrace is allowed (Docker allows it from kernel 4.8; the native driver needs
5.4).

The bindings are a compiled module in Debian's dist-packages, which the daemon's interpreter may not
have on sys.path (the zipapp runs with -I -S, the development venv has no system site-packages):
`bindings()` then imports that one module from there and takes the directory off sys.path again.
"""

from __future__ import annotations

import errno
import os
import sys

DIST_PACKAGES = "/usr/lib/python3/dist-packages"

_NEW_NAMESPACE_FLAGS = (
    0x00020000,  # CLONE_NEWNS
    0x02000000,  # CLONE_NEWCGROUP
    0x04000000,  # CLONE_NEWUTS
    0x08000000,  # CLONE_NEWIPC
    0x10000000,  # CLONE_NEWUSER
    0x20000000,  # CLONE_NEWPID
    0x40000000,  # CLONE_NEWNET
)
_AF_VSOCK = 40
_MASKED_EQ = "SCMP_CMP_MASKED_EQ"


def _deny(names: str, *unless: str, **extra: object) -> dict:
    rule: dict = {"names": names.split(), "action": "SCMP_ACT_ERRNO", "args": []}
    if unless:
        rule["excludes"] = {"caps": list(unless)}
    rule.update(extra)
    return rule


def _deny_clone_namespaces() -> list[dict]:
    # One rule per flag: libseccomp compares with "masked equal", and rules on one call are OR-ed.
    return [
        _deny("clone", "SYS_ADMIN", args=[{"index": 0, "value": flag, "valueTwo": flag, "op": _MASKED_EQ}])
        for flag in _NEW_NAMESPACE_FLAGS
    ]


DEFAULT_PROFILE: dict = {
    "defaultAction": "SCMP_ACT_ALLOW",
    "architectures": [],  # the machine's own and its compat ones, see _architectures()
    "syscalls": [
        _deny(
            "add_key keyctl request_key kexec_load kexec_file_load nfsservctl uselib userfaultfd "
            "_sysctl create_module get_kernel_syms query_module afs_syscall tuxcall security vserver "
            "putpmsg getpmsg vm86 vm86old ustat sysfs io_uring_setup io_uring_enter io_uring_register "
            "swapon swapoff"
        ),
        _deny("open_by_handle_at", "DAC_READ_SEARCH"),  # the "shocker" breakout (CVE-2014-3519)
        _deny(
            "mount umount umount2 pivot_root unshare setns fanotify_init quotactl "
            "quotactl_fd setdomainname sethostname lookup_dcookie open_tree move_mount fsopen fsconfig "
            "fsmount fspick mount_setattr",
            "SYS_ADMIN",
        ),
        *_deny_clone_namespaces(),
        # clone3 passes its flags in memory a filter cannot read: ENOSYS makes glibc fall back to clone.
        _deny("clone3", "SYS_ADMIN", errnoRet=errno.ENOSYS),
        _deny("bpf", "SYS_ADMIN", "BPF"),
        _deny("perf_event_open", "SYS_ADMIN", "PERFMON"),
        _deny("syslog", "SYS_ADMIN", "SYSLOG"),
        _deny("reboot", "SYS_BOOT"),
        _deny("init_module finit_module delete_module", "SYS_MODULE"),
        _deny("acct", "SYS_PACCT"),
        _deny("kcmp pidfd_getfd process_madvise", "SYS_PTRACE"),
        _deny("iopl ioperm", "SYS_RAWIO"),
        _deny("settimeofday stime clock_settime clock_settime64", "SYS_TIME"),
        _deny("vhangup", "SYS_TTY_CONFIG"),
        _deny("get_mempolicy mbind set_mempolicy set_mempolicy_home_node", "SYS_NICE"),
        _deny("socket", args=[{"index": 0, "value": _AF_VSOCK, "valueTwo": 0, "op": "SCMP_CMP_EQ"}]),
    ],
}

# Docker's Go names of architectures (profiles' includes.arches) for os.uname().machine.
_GO_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "i686": "386", "armv7l": "arm", "ppc64le": "ppc64le"}
# The compat architectures a process of this machine can also call the kernel with.
_COMPAT = {"x86_64": ("SCMP_ARCH_X86", "SCMP_ARCH_X32"), "aarch64": ("SCMP_ARCH_ARM",)}


class SeccompError(Exception):
    pass


def _system_dirs() -> list[str]:
    # Where the distributions put the bindings for the interpreter this process runs on: Debian's
    # python3-seccomp in dist-packages, Fedora's python3-libseccomp and openSUSE's in site-packages.
    version = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    prefix = sys.base_prefix
    return [DIST_PACKAGES, f"{prefix}/lib64/{version}/site-packages", f"{prefix}/lib/{version}/site-packages"]


def bindings():  # -> the seccomp module
    """libseccomp's Python bindings, from the system's packages when the interpreter's path lacks them
    (only that one module is imported from there)."""
    try:
        import seccomp
    except ImportError:
        pass
    else:
        return seccomp
    for directory in _system_dirs():
        if directory in sys.path or not os.path.isdir(directory):
            continue
        sys.path.append(directory)  # last: nothing of the standard library can be shadowed
        try:
            import seccomp
        except ImportError:
            continue
        finally:
            sys.path.remove(directory)
        return seccomp
    raise SeccompError(
        "libseccomp's Python bindings are not installed (Debian's python3-seccomp package); "
        "a container can only run with --security-opt seccomp=unconfined or --privileged"
    )


def applies(rule: dict, caps: set[str], machine: str | None = None) -> bool:
    """Whether `rule` is part of the filter of a container keeping `caps` (Docker's includes and
    excludes: skipped if any excluded capability is kept, or an included one is missing)."""
    machine = machine or os.uname().machine
    arch = _GO_ARCH.get(machine, machine)
    excludes, includes = rule.get("excludes") or {}, rule.get("includes") or {}
    if any(c in caps for c in excludes.get("caps", ())) or arch in excludes.get("arches", ()):
        return False
    if not all(c in caps for c in includes.get("caps", ())):
        return False
    return not includes.get("arches") or arch in includes["arches"]


def _action(sc, name: str, errno_ret: int | None):  # noqa: ANN001, ANN202 - the bindings' types
    if name == "SCMP_ACT_ERRNO":
        return sc.ERRNO(errno.EPERM if errno_ret is None else errno_ret)
    if name == "SCMP_ACT_TRACE":
        return sc.TRACE(errno.EPERM if errno_ret is None else errno_ret)
    return {
        "SCMP_ACT_ALLOW": sc.ALLOW,
        "SCMP_ACT_KILL": sc.KILL,
        "SCMP_ACT_KILL_THREAD": sc.KILL,
        "SCMP_ACT_KILL_PROCESS": sc.KILL_PROCESS,
        "SCMP_ACT_TRAP": sc.TRAP,
        "SCMP_ACT_LOG": sc.LOG,
    }[name]


_OPS = {
    "SCMP_CMP_NE": "NE",
    "SCMP_CMP_LT": "LT",
    "SCMP_CMP_LE": "LE",
    "SCMP_CMP_EQ": "EQ",
    "SCMP_CMP_GE": "GE",
    "SCMP_CMP_GT": "GT",
    "SCMP_CMP_MASKED_EQ": "MASKED_EQ",
}


def build(sc, profile: dict, caps: set[str], no_new_privs: bool):  # noqa: ANN001, ANN201
    """A SyscallFilter for `profile` (Docker's JSON format, as runconfig.security checks it)."""
    default_errno = profile.get("defaultErrnoRet")
    default = _action(sc, profile["defaultAction"], default_errno)
    flt = sc.SyscallFilter(defaction=default)
    # libseccomp sets no_new_privs itself at load unless told not to; without it, loading a filter
    # needs CAP_SYS_ADMIN, which the init still has when the container's own flag is off.
    flt.set_attr(sc.Attr.CTL_NNP, 1 if no_new_privs else 0)
    machine = os.uname().machine
    if profile is DEFAULT_PROFILE:
        arches = list(_COMPAT.get(machine, ()))
    else:
        arches = profile.get("architectures") or []
    for arch_name in arches:
        arch = getattr(sc.Arch, arch_name[len("SCMP_ARCH_") :], None)
        if arch is not None and not flt.exist_arch(arch):
            try:
                flt.add_arch(arch)
            except (OSError, RuntimeError, ValueError):
                pass  # an architecture this libseccomp or kernel cannot filter
    for rule in profile.get("syscalls") or ():
        if not applies(rule, caps, machine):
            continue
        action = _action(sc, rule["action"], rule.get("errnoRet", default_errno))
        if action == default:
            continue  # libseccomp refuses a rule that does what the default does
        args = [
            sc.Arg(a["index"], getattr(sc, _OPS[a["op"]]), a["value"], a["valueTwo"]) for a in rule["args"]
        ]
        for name in rule["names"]:
            if sc.resolve_syscall(sc.Arch.NATIVE, name) < 0:
                continue  # a call this architecture does not have: Docker skips it too
            try:
                flt.add_rule(action, name, *args)
            except (ValueError, RuntimeError, OSError) as e:
                raise SeccompError(f"adding the seccomp rule for {name}: {e}") from None
    return flt
