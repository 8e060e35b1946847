"""What a default container can and cannot do: today's Docker's capability set, its default seccomp
profile, --cap-add/--cap-drop, --privileged and --security-opt (real daemon, real kernel)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from lib.require import require, require_module, require_tools
from lib.unixhttp import api

HERE = os.path.dirname(os.path.abspath(__file__))
# Docker's default set (CHOWN DAC_OVERRIDE FSETID FOWNER MKNOD NET_RAW SETGID SETUID SETFCAP SETPCAP
# NET_BIND_SERVICE SYS_CHROOT KILL AUDIT_WRITE): the CapBnd that `docker run busybox` shows.
DOCKER_DEFAULT_CAPS = 0xA80425FB
CAP_SYSLOG, CAP_SYS_ADMIN, CAP_CHOWN = 1 << 34, 1 << 21, 1 << 0


def run(daemon, *args: str) -> subprocess.CompletedProcess:
    return daemon.cli("run", "--rm", *args)


def status_field(daemon, field: str, *args: str) -> str:
    out = daemon.out("run", "--rm", *args, "busybox", "grep", f"^{field}:", "/proc/self/status")
    return out.split(":", 1)[1].strip()


@pytest.fixture(scope="module")
def probe_dir(tmp_path_factory) -> str:
    """A static program calling the system calls busybox has no applet for, mounted read-only."""
    require_tools("gcc", hint="the probe program is compiled at test time")
    out = tmp_path_factory.mktemp("probe")
    result = subprocess.run(
        ["gcc", "-static", "-O1", "-o", str(out / "sysprobe"), os.path.join(HERE, "data", "sysprobe.c")],
        capture_output=True,
        text=True,
    )
    require(result.returncode == 0, f"cannot build a static program: {result.stderr.strip()}")
    return str(out)


def probe(daemon, probe_dir: str, *args: str, calls: tuple[str, ...]) -> dict[str, str]:
    result = run(daemon, "-v", f"{probe_dir}:/probe:ro", *args, "busybox", "/probe/sysprobe", *calls)
    assert result.returncode == 0, result.stderr
    return dict(line.split(" ", 1) for line in result.stdout.decode().splitlines())


# -- capabilities -----------------------------------------------------------------------------------


def test_default_capabilities_are_dockers(daemon):
    assert int(status_field(daemon, "CapBnd"), 16) == DOCKER_DEFAULT_CAPS
    assert int(status_field(daemon, "CapEff"), 16) == DOCKER_DEFAULT_CAPS
    # Another user gets none in effect, and no setuid program can go beyond the bounding set.
    assert int(status_field(daemon, "CapEff", "-u", "1000"), 16) == 0
    assert int(status_field(daemon, "CapBnd", "-u", "1000"), 16) == DOCKER_DEFAULT_CAPS


def test_dmesg_is_refused_and_cap_add_syslog_allows_it(daemon):
    with open("/proc/sys/kernel/dmesg_restrict") as f:
        require(f.read().strip() == "1", "the host does not set kernel.dmesg_restrict")
    denied = run(daemon, "busybox", "dmesg")
    assert denied.returncode != 0
    assert b"Operation not permitted" in denied.stderr
    allowed = run(daemon, "--cap-add", "SYSLOG", "busybox", "dmesg")
    assert allowed.returncode == 0, allowed.stderr
    assert allowed.stdout  # the kernel log is never empty on a running host
    assert int(status_field(daemon, "CapBnd", "--cap-add", "syslog"), 16) == DOCKER_DEFAULT_CAPS | CAP_SYSLOG


def test_cap_drop(daemon):
    assert run(daemon, "busybox", "chown", "1", "/tmp").returncode == 0
    dropped = run(daemon, "--cap-drop", "CHOWN", "busybox", "chown", "1", "/tmp")
    assert dropped.returncode != 0
    assert b"Operation not permitted" in dropped.stderr
    only = status_field(daemon, "CapBnd", "--cap-drop", "ALL", "--cap-add", "CAP_CHOWN")
    assert int(only, 16) == CAP_CHOWN
    assert int(status_field(daemon, "CapBnd", "--cap-drop", "all"), 16) == 0


def test_unknown_capability_is_a_400(daemon):
    result = run(daemon, "--cap-add", "FOO", "busybox", "true")
    assert result.returncode != 0
    assert b'invalid CapAdd: unknown capability: "CAP_FOO"' in result.stderr
    create = "/v1.24/containers/create"
    status, body = api(daemon, "POST", create, {"Image": "busybox", "HostConfig": {"CapDrop": ["BAR"]}})
    assert status == 400
    assert json.loads(body)["message"] == 'invalid CapDrop: unknown capability: "CAP_BAR"'
    status, body = api(daemon, "POST", create, {"Image": "busybox", "HostConfig": {"SecurityOpt": ["foo"]}})
    assert status == 400, body


def test_cap_add_is_shown_by_inspect(daemon):
    cid = daemon.out("create", "--cap-add", "NET_ADMIN", "--cap-drop", "MKNOD", "busybox", "true").strip()
    try:
        host = json.loads(daemon.out("inspect", cid))[0]["HostConfig"]
        assert host["CapAdd"] == ["NET_ADMIN"]
        assert host["CapDrop"] == ["MKNOD"]
    finally:
        daemon.cli("rm", cid)


# -- seccomp ------------------------------------------------------------------------------------------


def test_default_profile_denies_user_namespaces_and_mounts(daemon):
    unshare = run(daemon, "busybox", "unshare", "-U", "true")
    assert unshare.returncode != 0
    assert b"Operation not permitted" in unshare.stderr
    mount = run(daemon, "busybox", "sh", "-c", "mkdir -p /mnt && mount -t tmpfs none /mnt")
    assert mount.returncode != 0
    assert run(daemon, "busybox", "hostname", "other").returncode != 0


def test_default_profile_denies_keyrings_and_handles(daemon, probe_dir):
    calls = ("getpid", "keyctl", "add_key", "request_key", "open_by_handle_at", "kexec_load")
    default = probe(daemon, probe_dir, calls=calls)
    assert default == dict.fromkeys(calls, "EPERM") | {"getpid": "ok"}
    # Without the filter the same calls reach the kernel: keyrings answer, the rest fails otherwise
    # or for want of a capability.
    unconfined = probe(daemon, probe_dir, "--security-opt", "seccomp=unconfined", calls=calls)
    assert unconfined["keyctl"] == "ok"
    assert unconfined["add_key"] == "ok"
    assert unconfined["request_key"] != "EPERM"


def test_unconfined_lifts_only_the_filter(daemon):
    lifted = run(daemon, "--security-opt", "seccomp=unconfined", "busybox", "unshare", "-U", "true")
    assert lifted.returncode == 0, lifted.stderr
    # The capabilities stay: the kernel log still needs SYSLOG.
    assert run(daemon, "--security-opt", "seccomp=unconfined", "busybox", "dmesg").returncode != 0


def test_privileged_gets_everything(daemon):
    assert int(status_field(daemon, "CapEff", "--privileged"), 16) & (CAP_SYS_ADMIN | CAP_SYSLOG)
    assert status_field(daemon, "Seccomp", "--privileged") == "0"
    assert status_field(daemon, "Seccomp") == "2"  # a filter
    script = "unshare -U true && dmesg >/dev/null && mkdir -p /mnt && mount -t tmpfs none /mnt && echo ok"
    assert daemon.out("run", "--rm", "--privileged", "busybox", "sh", "-c", script) == "ok\n"


def test_custom_profile(daemon, tmp_path):
    profile = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "args": []}],
    }
    path = tmp_path / "no-mkdir.json"
    path.write_text(json.dumps(profile))
    denied = run(daemon, "--security-opt", f"seccomp={path}", "busybox", "mkdir", "/made")
    assert denied.returncode != 0
    assert b"Operation not permitted" in denied.stderr
    # Only what the profile says: the default profile's denials are not in it.
    script = "touch /file && unshare -U true && echo ok"
    out = daemon.out("run", "--rm", "--security-opt", f"seccomp={path}", "busybox", "sh", "-c", script)
    assert out == "ok\n"


def test_bad_profiles_are_refused(daemon, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"defaultAction": "SCMP_ACT_NOPE"}')
    result = run(daemon, "--security-opt", f"seccomp={bad}", "busybox", "true")
    assert result.returncode != 0
    assert b"Decoding seccomp profile failed" in result.stderr
    missing = run(daemon, "--security-opt", f"seccomp={tmp_path}/missing.json", "busybox", "true")
    assert missing.returncode != 0
    assert b"missing.json" in missing.stderr


def test_no_new_privileges(daemon):
    # Off by default, as in Docker: setuid programs in the container work.
    assert status_field(daemon, "NoNewPrivs") == "0"
    assert status_field(daemon, "NoNewPrivs", "--security-opt", "no-new-privileges") == "1"
    assert status_field(daemon, "NoNewPrivs", "--security-opt", "no-new-privileges:true") == "1"
    assert status_field(daemon, "NoNewPrivs", "--security-opt", "no-new-privileges=false") == "0"
    assert status_field(daemon, "NoNewPrivs", "--privileged", "--security-opt", "no-new-privileges") == "1"
    # With no_new_privs the filter is loaded last, after the switch to another user.
    assert status_field(daemon, "Seccomp", "-u", "1000", "--security-opt", "no-new-privileges") == "2"


# -- what errors tell the client -------------------------------------------------------------------------


def test_start_errors_name_container_paths_not_the_daemons(daemon):
    cid = daemon.out("create", "-v", "/data", "busybox", "true").strip()
    try:
        volume = json.loads(daemon.out("inspect", cid))[0]["Volumes"]["/data"]
        shutil.rmtree(volume)  # the volume's directory under the graph root is gone at start
        result = daemon.cli("start", "-a", cid)
        assert result.returncode != 0
        assert b"mounting /data: No such file or directory" in result.stderr
        assert daemon.root.encode() not in result.stderr
    finally:
        daemon.cli("rm", "-v", cid)


# -- clients we did not write -----------------------------------------------------------------------------

DOCKER_CLI = "/usr/local/bin/docker"


def real_cli(daemon, *args: str) -> subprocess.CompletedProcess:
    require(shutil.which(DOCKER_CLI), "the docker CLI 28 is not installed at /usr/local/bin/docker")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    env.update({"DOCKER_HOST": daemon.host, "DOCKER_CONFIG": "/tmp/lxc-docker-test-cli-config"})
    return subprocess.run([DOCKER_CLI, *args], capture_output=True, env=env, timeout=120)


def test_docker_cli_28_options(daemon, tmp_path):
    status = "grep -E '^(CapBnd|NoNewPrivs|Seccomp):' /proc/self/status"
    script = f"dmesg >/dev/null && {status}"
    result = real_cli(daemon, "run", "--rm", "--cap-add", "SYSLOG", "busybox", "sh", "-c", script)
    assert result.returncode == 0, result.stderr
    fields = dict(line.split(":\t") for line in result.stdout.decode().splitlines())
    assert int(fields["CapBnd"], 16) == DOCKER_DEFAULT_CAPS | CAP_SYSLOG
    assert (fields["NoNewPrivs"], fields["Seccomp"]) == ("0", "2")
    grep = ("busybox", "grep", "-E", "^(CapBnd|NoNewPrivs):", "/proc/self/status")
    dropped = real_cli(daemon, "run", "--rm", "--cap-drop", "ALL", *grep)
    assert dropped.stdout.decode().split() == ["CapBnd:", "0000000000000000", "NoNewPrivs:", "0"]
    nnp = real_cli(daemon, "run", "--rm", "--security-opt", "no-new-privileges", *grep)
    assert nnp.stdout.decode().split()[-2:] == ["NoNewPrivs:", "1"]
    profile = tmp_path / "no-mkdir.json"
    rule = {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}
    profile.write_text(json.dumps({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [rule]}))
    opt = f"seccomp={profile}"
    denied = real_cli(daemon, "run", "--rm", "--security-opt", opt, "busybox", "mkdir", "/made")
    assert denied.returncode == 1
    assert b"Operation not permitted" in denied.stderr
    unknown = real_cli(daemon, "run", "--rm", "--cap-add", "FOO", "busybox", "true")
    assert unknown.returncode == 125
    assert b'invalid CapAdd: unknown capability: "CAP_FOO"' in unknown.stderr


def test_docker_sdk_options(daemon):
    docker = require_module("docker", "pip install docker; scripts/setup-dev.sh installs it")
    client = docker.DockerClient(base_url=daemon.host, version="1.24")
    out = client.containers.run(
        "busybox",
        ["sh", "-c", "dmesg >/dev/null && grep -E '^(CapBnd|NoNewPrivs):' /proc/self/status"],
        cap_add=["SYSLOG"],
        cap_drop=["CHOWN"],
        security_opt=["no-new-privileges"],
        remove=True,
    )
    fields = dict(line.split(":\t") for line in out.decode().splitlines())
    assert int(fields["CapBnd"], 16) == (DOCKER_DEFAULT_CAPS | CAP_SYSLOG) & ~CAP_CHOWN
    assert fields["NoNewPrivs"] == "1"
