"""Capability sets from CapAdd/CapDrop, SecurityOpt and seccomp profiles (runconfig.security), and
the filter the native init builds from them (execution.native.seccomp)."""

from __future__ import annotations

import errno
import json
import os
import platform
import subprocess
import sys

import pytest

from lib.require import require
from lxc_docker.errors import InvalidParameter
from lxc_docker.execution.native import capabilities, seccomp
from lxc_docker.runconfig import normalize_host_config
from lxc_docker.runconfig.flags import parse_run
from lxc_docker.runconfig.security import (
    CAPABILITIES,
    DEFAULT_CAPABILITIES,
    capability_set,
    normalize_capability,
    parse_seccomp_profile,
    parse_security_opts,
)

DEFAULT = set(DEFAULT_CAPABILITIES)


# -- capability sets ----------------------------------------------------------------------------------


def test_capability_names_follow_the_kernel():
    assert CAPABILITIES["CHOWN"] == 0
    assert CAPABILITIES["SYS_ADMIN"] == 21
    assert CAPABILITIES["SYSLOG"] == 34
    assert CAPABILITIES["CHECKPOINT_RESTORE"] == 40


@pytest.mark.parametrize("given", ["syslog", "SYSLOG", "CAP_SYSLOG", "cap_syslog"])
def test_capability_names_are_normalised(given):
    assert normalize_capability(given, "CapAdd") == "SYSLOG"


def test_unknown_capability_names_are_dockers_400():
    with pytest.raises(InvalidParameter, match='^invalid CapAdd: unknown capability: "CAP_FOO"$'):
        normalize_capability("foo", "CapAdd")
    with pytest.raises(InvalidParameter, match='invalid CapDrop: unknown capability: "CAP_BAR"'):
        capability_set([], ["CAP_BAR"])


@pytest.mark.parametrize(
    ("add", "drop", "expected"),
    [
        ([], [], DEFAULT),
        (["SYSLOG"], [], DEFAULT | {"SYSLOG"}),
        ([], ["chown", "CAP_KILL"], DEFAULT - {"CHOWN", "KILL"}),
        (["NET_ADMIN"], ["NET_ADMIN"], DEFAULT | {"NET_ADMIN"}),  # Docker adds after dropping
        (["CHOWN"], ["ALL"], {"CHOWN"}),
        ([], ["ALL"], set()),
        (["ALL"], ["SYS_ADMIN"], set(CAPABILITIES) - {"SYS_ADMIN"}),
        (["all"], [], set(CAPABILITIES)),
    ],
)
def test_capability_set(add, drop, expected):
    assert capability_set(add, drop) == expected


def test_privileged_keeps_every_capability():
    assert capability_set([], ["ALL"], privileged=True) == set(CAPABILITIES)


def test_container_mask_leaves_out_what_the_kernel_lacks():
    spec = {"cap_add": ["CHECKPOINT_RESTORE", "SYSLOG"], "cap_drop": [], "privileged": False}
    caps = capabilities.container_set(spec)
    assert capabilities.mask_of(caps, last=40) >> 40 & 1
    assert not capabilities.mask_of(caps, last=39) >> 40
    assert capabilities.mask_of(caps, last=39) >> 34 & 1


# -- SecurityOpt ----------------------------------------------------------------------------------------


def test_security_opts():
    opts = parse_security_opts(None)
    assert (opts.seccomp, opts.seccomp_profile, opts.no_new_privileges) == ("default", None, False)
    opts = parse_security_opts(["seccomp=unconfined", "no-new-privileges"])
    assert (opts.seccomp, opts.no_new_privileges) == ("unconfined", True)
    assert parse_security_opts(["no-new-privileges:true"]).no_new_privileges
    assert not parse_security_opts(["no-new-privileges=false"]).no_new_privileges
    assert parse_security_opts(["seccomp:unconfined"]).seccomp == "unconfined"  # before Docker 1.11
    assert parse_security_opts(["label=disable", "apparmor=unconfined"]).seccomp == "default"
    custom = parse_security_opts(['seccomp={"defaultAction": "SCMP_ACT_ALLOW"}'])
    assert custom.seccomp == "custom"
    assert custom.seccomp_profile == {"defaultAction": "SCMP_ACT_ALLOW", "architectures": [], "syscalls": []}


@pytest.mark.parametrize("opt", ["foo", "foo=bar", "no-new-privileges=maybe"])
def test_unknown_security_opts_are_refused(opt):
    with pytest.raises(InvalidParameter, match="invalid --security-opt"):
        parse_security_opts([opt])


def test_host_config_checks_the_security_keys():
    host = normalize_host_config(
        {"CapAdd": ["SYSLOG"], "CapDrop": None, "SecurityOpt": ["no-new-privileges"]}
    )
    assert host["CapAdd"] == ["SYSLOG"]
    assert host["SecurityOpt"] == ["no-new-privileges"]
    # Read whatever the request's version: today's CLI sends them at /v1.9 too.
    assert normalize_host_config({"CapDrop": ["ALL"]}, (1, 9))["CapDrop"] == ["ALL"]
    with pytest.raises(InvalidParameter, match='invalid CapAdd: unknown capability: "CAP_NOPE"'):
        normalize_host_config({"CapAdd": ["NOPE"]})
    with pytest.raises(InvalidParameter, match="HostConfig.CapAdd"):
        normalize_host_config({"CapAdd": "SYSLOG"})
    with pytest.raises(InvalidParameter, match="Decoding seccomp profile failed"):
        normalize_host_config({"SecurityOpt": ["seccomp={"]})


# -- profiles -------------------------------------------------------------------------------------------


def test_profile_in_dockers_format():
    text = json.dumps(
        {
            "defaultAction": "SCMP_ACT_ERRNO",
            "defaultErrnoRet": 38,
            "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"]}],
            "syscalls": [
                {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
                {
                    "names": ["personality"],
                    "action": "SCMP_ACT_ALLOW",
                    "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}],
                },
                {"names": ["mount"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
            ],
        }
    )
    profile = parse_seccomp_profile(text)
    assert profile["defaultErrnoRet"] == 38
    assert profile["architectures"] == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"]
    assert profile["syscalls"][0] == {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW", "args": []}
    assert profile["syscalls"][1]["args"] == [{"index": 0, "value": 8, "valueTwo": 0, "op": "SCMP_CMP_EQ"}]
    assert profile["syscalls"][2]["includes"] == {"caps": ["SYS_ADMIN"]}


_ARG_NINE = {"index": 9, "op": "SCMP_CMP_EQ"}  # system calls have six arguments, 0 to 5


def _errno_rule(**extra: object) -> dict:
    return {"names": ["x"], "action": "SCMP_ACT_ERRNO", **extra}


@pytest.mark.parametrize(
    "doc",
    [
        "not json",
        "[]",
        {},
        {"defaultAction": "SCMP_ACT_MAYBE"},
        {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"action": "SCMP_ACT_ERRNO"}]},
        {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["x"], "action": "NOPE"}]},
        {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [_errno_rule(args=[{"op": "LIKE"}])]},
        {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [_errno_rule(args=[_ARG_NINE])]},
        {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["x86"]},
    ],
)  # fmt: skip
def test_bad_profiles(doc):
    with pytest.raises(InvalidParameter, match="^Decoding seccomp profile failed: "):
        parse_seccomp_profile(doc if isinstance(doc, str) else json.dumps(doc))


def test_rules_apply_by_capability():
    rules = {tuple(r["names"][:1]): r for r in seccomp.DEFAULT_PROFILE["syscalls"]}
    syslog, mount, keys = rules[("syslog",)], rules[("mount",)], rules[("add_key",)]
    assert seccomp.applies(syslog, DEFAULT, "x86_64")
    assert not seccomp.applies(syslog, DEFAULT | {"SYSLOG"}, "x86_64")
    assert not seccomp.applies(mount, DEFAULT | {"SYS_ADMIN"}, "x86_64")
    assert seccomp.applies(keys, set(CAPABILITIES), "x86_64")  # keyrings stay denied with every cap
    assert seccomp.applies({"includes": {"arches": ["amd64"]}}, set(), "x86_64")
    assert not seccomp.applies({"includes": {"arches": ["arm64"]}}, set(), "x86_64")
    assert not seccomp.applies({"includes": {"caps": ["SYS_ADMIN"]}}, DEFAULT, "x86_64")


def test_default_profile_denies_what_docker_denies():
    denied = {name for rule in seccomp.DEFAULT_PROFILE["syscalls"] for name in rule["names"]}
    wanted = (
        "keyctl add_key request_key unshare setns clone kexec_load kexec_file_load open_by_handle_at bpf "
        "perf_event_open mount umount2 pivot_root reboot swapon swapoff init_module finit_module "
        "delete_module acct settimeofday clock_settime syslog"
    )
    assert set(wanted.split()) <= denied
    assert "ptrace" not in denied  # Docker allows it from kernel 4.8


# -- CLI ------------------------------------------------------------------------------------------------


def test_run_flags(tmp_path):
    profile = tmp_path / "p.json"
    profile.write_text('{"defaultAction": "SCMP_ACT_ALLOW"}')
    args = ["--cap-add", "SYSLOG", "--cap-drop", "ALL", "--security-opt", f"seccomp={profile}"]
    _, host, _ = parse_run([*args, "--security-opt", "no-new-privileges", "busybox"])
    assert host["CapAdd"] == ["SYSLOG"]
    assert host["CapDrop"] == ["ALL"]
    # The profile is a file on the client's side: its content goes to the daemon, as Docker's CLI does.
    assert host["SecurityOpt"] == ['seccomp={"defaultAction": "SCMP_ACT_ALLOW"}', "no-new-privileges"]
    _, host, _ = parse_run(["busybox"])
    assert "CapAdd" not in host and "SecurityOpt" not in host
    with pytest.raises(ValueError, match="opening seccomp profile"):
        parse_run(["--security-opt", f"seccomp={tmp_path}/missing.json", "busybox"])


# -- the bindings ---------------------------------------------------------------------------------------


def test_bindings_come_from_the_system_without_its_path():
    # As the zipapp runs the init: -I -S, so dist-packages is not on sys.path.
    require(os.path.exists("/usr/bin/python3"), "no /usr/bin/python3")
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); before = list(sys.path)\n"
        "from lxc_docker.execution.native import seccomp\n"
        "module = seccomp.bindings()\n"
        "print(module.__name__, sys.path == before, 'seccomp' in sys.modules)\n"
    )
    app = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "app")
    result = subprocess.run(["/usr/bin/python3", "-I", "-S", "-c", code, app], capture_output=True, text=True)
    require("python3-seccomp" not in result.stderr, "python3-seccomp is not installed")
    assert result.stdout.split() == ["seccomp", "True", "True"], result.stderr


def test_missing_bindings_say_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "seccomp", None)  # an import of it raises ImportError
    monkeypatch.setattr(seccomp, "_system_dirs", lambda: [])
    with pytest.raises(seccomp.SeccompError, match="python3-seccomp"):
        seccomp.bindings()


def test_filter_denies_with_eperm_in_a_child():
    require(platform.machine() == "x86_64", "the system call number below is x86_64's")
    # The compiled filter itself: a child loads the default profile and tries a denied call.
    sc = seccomp.bindings()
    flt = seccomp.build(sc, seccomp.DEFAULT_PROFILE, DEFAULT, no_new_privs=True)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(read)
        try:
            flt.load()
            try:
                import ctypes

                libc = ctypes.CDLL(None, use_errno=True)
                keyring = libc.syscall(250, 0, -3, 0)  # keyctl(KEYCTL_GET_KEYRING_ID, session)
                os.write(write, b"%d %d" % (keyring, ctypes.get_errno()))
            finally:
                os._exit(0)
        except BaseException:
            os._exit(1)
    os.close(write)
    answer = os.read(read, 100).decode()
    os.close(read)
    os.waitpid(pid, 0)
    assert answer == f"-1 {errno.EPERM}"
