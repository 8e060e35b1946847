"""The lxc driver's configuration, seccomp profile and LXC messages, without LXC (pure functions)."""

from __future__ import annotations

import pytest

from lxc_docker.execution.base import Command, Network, Resources
from lxc_docker.execution.lxc import config as lxcconf
from lxc_docker.execution.lxc.containerdir import lxc_error
from lxc_docker.execution.lxc.containerdir import start_failure as _start_failure
from lxc_docker.execution.lxc.procevents import exit_code
from lxc_docker.execution.lxc.seccomp import ProfileError, profile_text

ID = "a" * 64


def command(**kw) -> Command:
    base = dict(
        id=ID, rootfs="/graph/mnt/" + ID, entrypoint="sh", args=["-c", "true"], env=["PATH=/bin", "A=b c"]
    )
    base.update(kw)
    return Command(**base)


def generate(
    cmd: Command | None = None, host: lxcconf.HostFacts | None = None, **init
) -> list[tuple[str, str]]:
    return lxcconf.generate(cmd or command(), host or lxcconf.HostFacts(), lxcconf.Init(**init), "/hook")


def values(entries: list[tuple[str, str]], key: str) -> list[str]:
    return [v for k, v in entries if k == key]


def one(entries: list[tuple[str, str]], key: str) -> str:
    found = values(entries, key)
    assert len(found) == 1, (key, found)
    return found[0]


def test_basics_in_todays_key_syntax():
    entries = generate(command(hostname="web"), uid=65534, gid=65534, groups=[5, 6], cwd="/srv")
    assert one(entries, "lxc.uts.name") == "web"
    assert one(entries, "lxc.rootfs.path") == "dir:/graph/mnt/" + ID
    assert one(entries, "lxc.net.0.type") == "empty"
    assert one(entries, "lxc.console.path") == "none"
    assert one(entries, "lxc.tty.max") == "0"
    assert one(entries, "lxc.autodev") == "1"
    assert one(entries, "lxc.apparmor.profile") == "unconfined"
    assert one(entries, "lxc.init.uid") == "65534" and one(entries, "lxc.init.groups") == "5,6"
    assert one(entries, "lxc.init.cwd") == "/srv"
    assert values(entries, "lxc.environment") == ["PATH=/bin", "A=b c"]
    assert one(entries, "lxc.hook.start-host") == "/hook"
    assert one(entries, "lxc.cgroup.dir.container") == "docker/" + ID
    assert one(entries, "lxc.cgroup.dir.monitor") == "docker-lxc/" + ID
    # No key appears in the legacy syntax LXC 3+ refuses.
    assert not [k for k, _ in entries if k.startswith(("lxc.network", "lxc.utsname", "lxc.aa_"))]


def test_hostname_defaults_to_the_short_id_and_apparmor_is_generated_when_enabled():
    entries = generate(host=lxcconf.HostFacts(apparmor=True))
    assert one(entries, "lxc.uts.name") == ID[:12]
    assert one(entries, "lxc.apparmor.profile") == "generated"
    privileged = generate(command(privileged=True), host=lxcconf.HostFacts(apparmor=True))
    assert one(privileged, "lxc.apparmor.profile") == "unconfined"


def test_limits_on_cgroup_v1_and_v2():
    cmd = command(resources=Resources(memory=32 << 20, cpu_shares=512))
    v1 = generate(cmd, lxcconf.HostFacts(cgroup_version=1, memsw=True))
    assert one(v1, "lxc.cgroup.memory.limit_in_bytes") == str(32 << 20)
    assert one(v1, "lxc.cgroup.memory.memsw.limit_in_bytes") == str(64 << 20)
    assert one(v1, "lxc.cgroup.cpu.shares") == "512"
    assert values(v1, "lxc.cgroup.devices.deny") == ["a"] and "c 1:3 rwm" in values(
        v1, "lxc.cgroup.devices.allow"
    )
    assert not [k for k, _ in v1 if k.startswith("lxc.cgroup2.")]
    no_swap_accounting = generate(cmd, lxcconf.HostFacts(cgroup_version=1, memsw=False))
    assert not values(no_swap_accounting, "lxc.cgroup.memory.memsw.limit_in_bytes")
    v2 = generate(cmd, lxcconf.HostFacts(cgroup_version=2, swap_v2=True))
    assert one(v2, "lxc.cgroup2.memory.max") == str(32 << 20)
    assert one(v2, "lxc.cgroup2.memory.swap.max") == str(32 << 20)
    assert one(v2, "lxc.cgroup2.cpu.weight") == str(lxcconf.cpu_weight(512))
    assert values(v2, "lxc.cgroup2.devices.deny") == ["a"]
    assert not [k for k, _ in v2 if k.startswith("lxc.cgroup.") and not k.startswith("lxc.cgroup.dir")]


def test_unlimited_swap_and_no_limits():
    unlimited = generate(
        command(resources=Resources(memory=1 << 20, memory_swap=-1)), lxcconf.HostFacts(memsw=True)
    )
    assert one(unlimited, "lxc.cgroup.memory.memsw.limit_in_bytes") == "-1"
    none = generate()
    assert not [k for k, _ in none if "memory" in k or "cpu." in k]


def test_capabilities_are_the_native_default_set_adjusted():
    entries = generate(command(cap_add=["NET_ADMIN"], cap_drop=["MKNOD"]))
    kept = one(entries, "lxc.cap.keep").split()
    assert "net_admin" in kept and "mknod" not in kept and "chown" in kept
    assert "sys_admin" not in kept and "syslog" not in kept
    everything_dropped = generate(command(cap_drop=["ALL"]))
    assert one(everything_dropped, "lxc.cap.keep") == "none"
    beyond_the_kernel = generate(command(cap_add=["ALL"]), lxcconf.HostFacts(last_cap=35))
    assert "checkpoint_restore" not in one(beyond_the_kernel, "lxc.cap.keep").split()


def test_privileged_keeps_everything_and_sees_all_devices():
    hooked = lxcconf.generate(
        command(privileged=True), lxcconf.HostFacts(), lxcconf.Init(), "/hook", "", "/dev-hook"
    )
    assert one(hooked, "lxc.hook.autodev") == "/dev-hook"
    unprivileged = lxcconf.generate(command(), lxcconf.HostFacts(), lxcconf.Init(), "/hook", "", "/dev-hook")
    assert not values(unprivileged, "lxc.hook.autodev")
    entries = generate(command(privileged=True))
    assert not values(entries, "lxc.cap.keep") and not values(entries, "lxc.cap.drop")
    assert values(entries, "lxc.cgroup.devices.allow") == ["a"]
    assert one(entries, "lxc.mount.auto") == "proc:rw sys:rw"
    assert not [v for v in values(entries, "lxc.mount.entry") if v.startswith("/dev/null proc/")]


def test_proc_masking_and_mounts():
    entries = generate(
        mounts=[("/vol/a b", "data/x", False, True), ("/c/hosts", "etc/hosts", True, False)],
        console="/dev/pts/7",
    )
    mounts = values(entries, "lxc.mount.entry")
    assert "/vol/a\\040b data/x none rbind,ro,create=dir 0 0" in mounts
    assert "/c/hosts etc/hosts none bind,create=file 0 0" in mounts
    assert "/dev/pts/7 dev/console none bind,create=file 0 0" in mounts
    assert "/dev/null proc/kcore none bind,optional 0 0" in mounts
    assert "/proc/irq proc/irq none bind,ro,optional 0 0" in mounts
    assert one(entries, "lxc.mount.auto") == "proc:mixed sys:ro"


def test_a_line_break_in_a_value_is_refused():
    with pytest.raises(lxcconf.ConfigError):
        generate(command(env=["A=1\nlxc.mount.entry = / x none bind 0 0"]))
    with pytest.raises(lxcconf.ConfigError):
        lxcconf.apply_overrides([], [{"Key": "lxc.uts.name", "Value": "a\nlxc.rootfs.path = /"}])


def test_overrides_replace_scalars_and_add_to_lists():
    entries = generate(command(resources=Resources(memory=1 << 20)))
    merged = lxcconf.apply_overrides(
        entries,
        [
            {"Key": "lxc.cgroup.cpuset.cpus", "Value": "0,1"},
            {"Key": "lxc.cgroup.memory.limit_in_bytes", "Value": "4194304"},
            {"Key": "lxc.mount.entry", "Value": "/opt opt none bind,create=dir 0 0"},
            {"Key": "lxc.utsname", "Value": "legacy"},
        ],
    )
    assert one(merged, "lxc.cgroup.cpuset.cpus") == "0,1"
    assert one(merged, "lxc.cgroup.memory.limit_in_bytes") == "4194304"
    assert one(merged, "lxc.uts.name") == "legacy"
    mounts = values(merged, "lxc.mount.entry")
    assert "/opt opt none bind,create=dir 0 0" in mounts and len(mounts) > 1
    text = lxcconf.render(merged)
    assert "lxc.cgroup.cpuset.cpus = 0,1\n" in text and "lxc.utsname" not in text


def test_legacy_key_names():
    assert lxcconf.modern_key("lxc.network.type") == "lxc.net.0.type"
    assert lxcconf.modern_key("lxc.network.1.link") == "lxc.net.1.link"
    assert lxcconf.modern_key("lxc.network.ipv4") == "lxc.net.0.ipv4.address"
    assert lxcconf.modern_key("lxc.aa_profile") == "lxc.apparmor.profile"
    assert lxcconf.modern_key("lxc.rootfs") == "lxc.rootfs.path"
    assert lxcconf.modern_key("lxc.pivotdir") == ""
    assert lxcconf.modern_key("lxc.cgroup.cpuset.cpus") == "lxc.cgroup.cpuset.cpus"
    # Unknown keys pass through: LXC refuses them with its own message.
    assert lxcconf.modern_key("lxc.bogus") == "lxc.bogus"


def test_default_seccomp_profile_in_lxc_format():
    text = profile_text(command(), machine="x86_64")
    lines = text.splitlines()
    assert lines[:3] == ["2", "denylist", "[all]"]
    assert "kexec_load errno 1" in lines and "mount errno 1" in lines
    assert "clone errno 1 [0,0x10000000,SCMP_CMP_MASKED_EQ,0x10000000]" in lines
    assert "clone3 errno 38" in lines
    # A kept capability lifts the rules it excludes, as in Docker's profile.
    with_admin = profile_text(command(cap_add=["SYS_ADMIN"]), machine="x86_64").splitlines()
    assert "mount errno 1" not in with_admin and "kexec_load errno 1" in with_admin


def test_no_filter_when_privileged_or_unconfined():
    assert profile_text(command(privileged=True)) is None
    assert profile_text(command(seccomp="unconfined")) is None


def test_custom_allowlist_profile_and_unsupported_actions():
    custom = {
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [{"names": ["read", "write"], "action": "SCMP_ACT_ALLOW", "args": []}],
    }
    text = profile_text(command(seccomp="custom", seccomp_profile=custom), machine="x86_64")
    assert text.splitlines() == ["2", "allowlist errno 1", "[all]", "read allow", "write allow"]
    bad = {"defaultAction": "SCMP_ACT_NOTIFY", "syscalls": []}
    with pytest.raises(ProfileError):
        profile_text(command(seccomp="custom", seccomp_profile=bad))


def test_lxc_messages(tmp_path):
    log = tmp_path / "lxc.log"
    log.write_text(
        "lxc-start x 20261204 ERROR    confile - ../src/lxc/confile.c:set_config_unsupported_key:164 - "
        'Invalid argument - Unsupported config key "lxc.bogus"\n'
        "lxc-start x 20261204 ERROR    parse - ../src/lxc/parse.c:f:129 - Failed to parse config file\n"
    )
    assert lxc_error(str(log)) == 'Invalid argument - Unsupported config key "lxc.bogus"'
    assert lxc_error(str(tmp_path / "missing")) == ""
    failed = _start_failure('No such file or directory - Failed to exec "/x"', "/x")
    assert failed.exit_code == 127 and str(failed) == 'exec: "/x": no such file or directory'
    denied = _start_failure('Permission denied - Failed to exec "/x"', "/x")
    assert denied.exit_code == 126
    other = _start_failure("Failed creating cgroups", "sh")
    assert other.exit_code == 1 and str(other) == "lxc-start: Failed creating cgroups"


def test_wait_status_to_exit_code():
    assert exit_code(3 << 8) == 3
    assert exit_code(9) == 137
    assert exit_code(15 | 0x80) == 143  # core dumped


def test_a_given_interface_becomes_eth0():
    net = Network(
        interface="ldc1", address="10.1.2.3/24", gateway="10.1.2.1", mtu=1400, mac="02:42:0a:01:02:03"
    )
    entries = generate(command(network=net))
    assert one(entries, "lxc.net.0.type") == "phys" and one(entries, "lxc.net.0.link") == "ldc1"
    assert one(entries, "lxc.net.0.name") == "eth0" and one(entries, "lxc.net.0.flags") == "up"
    assert one(entries, "lxc.net.0.ipv4.address") == "10.1.2.3/24"
    assert one(entries, "lxc.net.0.ipv4.gateway") == "10.1.2.1"
    assert one(entries, "lxc.net.0.mtu") == "1400" and one(entries, "lxc.net.0.hwaddr") == "02:42:0a:01:02:03"
    assert one(generate(), "lxc.net.0.type") == "empty"
