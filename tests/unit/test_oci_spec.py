"""The OCI driver's pure parts: the config.json built from a Command, the mapping of runtime errors
to Docker's exit codes, the runtime's version and the crun hybrid-cgroup check."""

from __future__ import annotations

import json

import pytest

from lxc_docker.errors import DriverNotSupported
from lxc_docker.execution.base import Command, Mount, Resources
from lxc_docker.execution.native import seccomp as native_seccomp
from lxc_docker.execution.oci import runtime, spec
from lxc_docker.execution.oci.driver import start_error
from lxc_docker.runconfig.security import CAPABILITIES

ALL = (1 << (max(CAPABILITIES.values()) + 1)) - 1


def command(**fields) -> Command:
    return Command(
        id="c" * 64,
        rootfs="/var/lib/docker/overlay/c/merged",
        entrypoint="sh",
        args=["-c", "echo hi"],
        env=["PATH=/bin", "HOME=/"],
        hostname="box",
        **fields,
    )


def build(cmd: Command, **over) -> dict:
    args = dict(uid=0, gid=0, groups=[], bounding=ALL, machine="x86_64", nofile=(1024, 4096))
    args.update(over)
    return spec.build(cmd, swap_accounting=True, **args)


def test_default_container():
    doc = build(command(workdir="/srv", tty=True))
    json.dumps(doc)  # plain JSON
    assert doc["root"] == {"path": "/var/lib/docker/overlay/c/merged", "readonly": False}
    assert doc["hostname"] == "box"
    process = doc["process"]
    assert process["args"] == ["sh", "-c", "echo hi"] and process["cwd"] == "/srv" and process["terminal"]
    assert process["user"] == {"uid": 0, "gid": 0}
    caps = process["capabilities"]
    assert caps["bounding"] == caps["effective"] == caps["permitted"]
    assert "CAP_SYS_ADMIN" not in caps["bounding"] and "CAP_NET_RAW" in caps["bounding"]
    assert len(caps["bounding"]) == 14 and caps["inheritable"] == []
    linux = doc["linux"]
    assert sorted(n["type"] for n in linux["namespaces"]) == ["ipc", "mount", "network", "pid", "uts"]
    assert linux["cgroupsPath"] == "/docker/" + "c" * 64
    assert "/proc/kcore" in linux["maskedPaths"] and "/proc/sys" in linux["readonlyPaths"]
    mounts = {m["destination"]: m for m in doc["mounts"]}
    assert "ro" in mounts["/sys"]["options"] and mounts["/proc"]["type"] == "proc"
    assert {"/dev", "/dev/pts", "/dev/shm", "/dev/mqueue"} <= set(mounts)
    assert "devices" not in linux  # the runtime's own default nodes only


def test_user_limits_and_binds():
    cmd = command(
        resources=Resources(memory=32 << 20, cpu_shares=512),
        mounts=[Mount("/host/vol", "/data", writable=False), Mount("/host/hosts", "/etc/hosts")],
    )
    doc = build(cmd, uid=1, gid=2, groups=[3])
    assert doc["process"]["user"] == {"uid": 1, "gid": 2, "additionalGids": [3]}
    resources = doc["linux"]["resources"]
    assert resources["memory"] == {"limit": 32 << 20, "swap": 64 << 20}  # Docker 0.9: twice the memory
    assert resources["cpu"] == {"shares": 512}
    assert resources["devices"][0] == {"allow": False, "access": "rwm"}
    assert {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"} in resources["devices"]
    assert {"allow": True, "type": "c", "major": 136, "access": "rwm"} in resources["devices"]
    binds = {m["destination"]: m for m in doc["mounts"] if m["type"] == "bind"}
    assert binds["/data"]["source"] == "/host/vol" and "ro" in binds["/data"]["options"]
    assert "rw" in binds["/etc/hosts"]["options"]
    without_swap = spec.build(cmd, uid=0, gid=0, groups=[], bounding=ALL, machine="x86_64",
                              nofile=(1, 1), swap_accounting=False)  # fmt: skip
    assert without_swap["linux"]["resources"]["memory"] == {"limit": 32 << 20}


def test_privileged_as_docker_does_it_with_runc():
    devices = [
        {"path": "/dev/sda", "type": "b", "major": 8, "minor": 0, "fileMode": 0o660, "uid": 0, "gid": 6}
    ]
    bounding = ALL & ~(1 << CAPABILITIES["SYS_RESOURCE"])
    doc = build(command(privileged=True), bounding=bounding, devices=devices)
    caps = doc["process"]["capabilities"]["bounding"]
    assert "CAP_SYS_ADMIN" in caps and "CAP_SYS_RESOURCE" not in caps  # only what the daemon has
    linux = doc["linux"]
    assert linux["devices"] == devices
    assert linux["resources"]["devices"] == [{"allow": True, "access": "rwm"}]
    assert "maskedPaths" not in linux and "readonlyPaths" not in linux and "seccomp" not in linux
    assert "rw" in {m["destination"]: m for m in doc["mounts"]}["/sys"]["options"]


def test_cap_add_and_drop():
    caps = build(command(cap_add=["SYS_ADMIN"], cap_drop=["NET_RAW"]))["process"]["capabilities"]
    assert "CAP_SYS_ADMIN" in caps["bounding"] and "CAP_NET_RAW" not in caps["bounding"]


def test_seccomp_is_the_native_profile():
    profile = build(command())["linux"]["seccomp"]
    assert profile["defaultAction"] == "SCMP_ACT_ALLOW"
    assert profile["architectures"] == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
    denied = {name for rule in profile["syscalls"] for name in rule["names"]}
    assert {"mount", "unshare", "keyctl", "bpf", "reboot"} <= denied
    clone3 = next(r for r in profile["syscalls"] if r["names"] == ["clone3"])
    assert clone3["errnoRet"] == 38  # ENOSYS: glibc falls back to clone, which the filter can read
    assert all("excludes" not in r and "includes" not in r for r in profile["syscalls"])
    # The rules a kept capability lifts are left out, as native's applies() decides.
    admin = build(command(cap_add=["SYS_ADMIN"]))["linux"]["seccomp"]
    assert "mount" not in {name for rule in admin["syscalls"] for name in rule["names"]}
    assert "seccomp" not in build(command(seccomp="unconfined"))["linux"]
    custom = {"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"],
              "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": []}]}  # fmt: skip
    doc = build(command(seccomp="custom", seccomp_profile=custom))["linux"]["seccomp"]
    assert doc == {"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"],
                   "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}  # fmt: skip
    assert native_seccomp.DEFAULT_PROFILE["architectures"] == []  # untouched


@pytest.mark.parametrize(
    "message, code",
    [
        ('runc create failed: unable to start container process: exec: "x": executable file not found '
         "in $PATH", 127),
        ("executable file `x` not found in $PATH: No such file or directory", 127),
        ('runc create failed: unable to start container process: exec: "/etc/passwd": permission denied',
         126),
        ("open executable: Permission denied", 126),
        ("runc create failed: unable to start container process: error during container init", 1),
    ],
)  # fmt: skip
def test_start_errors_map_to_dockers_exit_codes(message, code):
    error = start_error(message)
    assert error.exit_code == code
    assert not str(error).startswith("runc create failed")


def test_missing_runtime_names_the_package():
    with pytest.raises(DriverNotSupported, match="apt-get install crun"):
        runtime.find("/nonexistent/crun")
    with pytest.raises(DriverNotSupported, match="--oci-runtime"):
        runtime.find("/nonexistent/my-runtime")


def test_hybrid_layout_check(tmp_path):
    (tmp_path / "unified").mkdir()
    assert not runtime.hybrid_with_controllers(str(tmp_path))
    (tmp_path / "unified" / "cgroup.controllers").write_text("\n")
    assert not runtime.hybrid_with_controllers(str(tmp_path))  # systemd's empty v2 tree
    (tmp_path / "unified" / "cgroup.controllers").write_text("hugetlb\n")
    assert runtime.hybrid_with_controllers(str(tmp_path))
    (tmp_path / "cgroup.controllers").write_text("cpu memory\n")
    assert not runtime.hybrid_with_controllers(str(tmp_path))  # pure v2


def test_error_text_prefers_the_json_log(tmp_path):
    log = tmp_path / "log.json"
    log.write_text('{"level":"warning","msg":"w"}\nnot json\n{"level":"error","msg":"the error"}\n')
    assert runtime.error_text("stderr text\n", str(log)) == "the error"
    assert runtime.error_text("first\nlast\n", str(tmp_path / "missing")) == "last"


def test_exec_process_keeps_the_containers_limits_with_its_own_program():
    from lxc_docker.execution.base import ExecProcess
    from lxc_docker.execution.oci.execproc import process_doc

    base = spec.build(
        command(), uid=0, gid=0, groups=[], bounding=ALL, machine="x86_64", nofile=(1024, 4096),
        swap_accounting=True,
    )["process"]  # fmt: skip
    every = spec.capabilities(command(privileged=True), ALL)
    process = ExecProcess(args=["ls", "-l"], env=["A=1"], user="nobody", workdir="/tmp", tty=True)
    doc = process_doc(base, process, (65534, 65534, [7]), every)
    assert doc["args"] == ["ls", "-l"] and doc["env"] == ["A=1"] and doc["cwd"] == "/tmp"
    assert doc["terminal"] is True
    assert doc["user"] == {"uid": 65534, "gid": 65534, "additionalGids": [7]}
    assert doc["capabilities"] == base["capabilities"] and doc["rlimits"] == base["rlimits"]
    assert doc["noNewPrivileges"] == base["noNewPrivileges"]
    assert base["args"] == ["sh", "-c", "echo hi"]  # the container's own is left as it was
    privileged = process_doc(base, ExecProcess(args=["true"], env=[], privileged=True), (0, 0, []), every)
    assert privileged["capabilities"] == every and "CAP_SYS_ADMIN" in every["bounding"]
    assert privileged["user"] == {"uid": 0, "gid": 0} and privileged["cwd"] == "/"
