"""Tests of the cgroup layout detection and of the files written for a container's limits."""

from __future__ import annotations

import os

import pytest

from lxc_docker.execution.base import Resources
from lxc_docker.execution.native import cgroups, devices

HYBRID = """\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime master:3 - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
"""


def test_swap_limit_follows_docker_0_9():
    assert cgroups.swap_limit(Resources()) is None
    assert cgroups.swap_limit(Resources(memory=32 << 20)) == 64 << 20
    assert cgroups.swap_limit(Resources(memory=32 << 20, memory_swap=-1)) == -1
    assert cgroups.swap_limit(Resources(memory=32 << 20, memory_swap=48 << 20)) == 48 << 20
    assert cgroups.swap_limit(Resources(memory=32 << 20, memory_swap=1)) == 32 << 20


def test_cpu_weight_maps_shares_like_runc():
    assert cgroups.cpu_weight(2) == 1
    assert cgroups.cpu_weight(1024) == 39
    assert cgroups.cpu_weight(262144) == 10000
    assert cgroups.cpu_weight(1) == 1
    assert cgroups.cpu_weight(10**9) == 10000


def test_detect_hybrid_host_uses_v1_hierarchies(tmp_path):
    mountinfo = tmp_path / "mountinfo"
    mountinfo.write_text(HYBRID)
    found = cgroups.detect(str(tmp_path / "no-v2"), str(mountinfo))
    assert isinstance(found, cgroups.CgroupsV1)
    assert found.hierarchies == {
        "/sys/fs/cgroup/cpu,cpuacct": ("cpu", "cpuacct"),
        "/sys/fs/cgroup/memory": ("memory",),
        "/sys/fs/cgroup/devices": ("devices",),
    }
    assert found.path("docker", "abc", "cpuacct") == "/sys/fs/cgroup/cpu,cpuacct/docker/abc"
    assert found.path("docker", "abc", "pids") is None


def test_detect_pure_v2_host(tmp_path):
    (tmp_path / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
    found = cgroups.detect(str(tmp_path), "/nonexistent")
    assert isinstance(found, cgroups.CgroupsV2)
    assert found.available == {"cpuset", "cpu", "io", "memory", "pids"}


def test_detect_v2_only_in_a_subdirectory(tmp_path):
    mountinfo = tmp_path / "mountinfo"
    mountinfo.write_text("41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n")
    found = cgroups.detect(str(tmp_path / "none"), str(mountinfo))
    assert isinstance(found, cgroups.CgroupsV2)
    assert found.root == "/sys/fs/cgroup/unified"


def test_detect_without_cgroups(tmp_path):
    mountinfo = tmp_path / "mountinfo"
    mountinfo.write_text("")
    assert isinstance(cgroups.detect(str(tmp_path / "none"), str(mountinfo)), cgroups.NoCgroups)


def _read(path) -> str:
    with open(path) as f:
        return f.read()


def test_v1_create_writes_limits_and_whitelist(tmp_path):
    # Plain directories stand in for the hierarchies: each write creates (and replaces) a file.
    memory, cpu, devs = tmp_path / "memory", tmp_path / "cpu", tmp_path / "devices"
    for d in (memory, cpu, devs):
        d.mkdir()
    (memory / "parent" / "c1").mkdir(parents=True)
    (memory / "parent" / "c1" / "memory.memsw.limit_in_bytes").write_text("")
    layout = cgroups.CgroupsV1({str(memory): ("memory",), str(cpu): ("cpu",), str(devs): ("devices",)})
    layout.create("parent", "c1", Resources(memory=32 << 20, cpu_shares=512), privileged=False)
    assert _read(memory / "parent" / "c1" / "memory.limit_in_bytes") == str(32 << 20)
    assert _read(memory / "parent" / "c1" / "memory.memsw.limit_in_bytes") == str(64 << 20)
    assert _read(cpu / "parent" / "c1" / "cpu.shares") == "512"
    assert _read(devs / "parent" / "c1" / "devices.deny") == "a"
    # Each rule is its own write; the file keeps the last.
    assert _read(devs / "parent" / "c1" / "devices.allow") == devices.ALLOWED[-1]
    assert layout.paths("parent", "c1") == [str(d / "parent" / "c1") for d in (memory, cpu, devs)]


def test_v1_privileged_allows_every_device(tmp_path):
    layout = cgroups.CgroupsV1({str(tmp_path): ("devices",)})
    layout.create("p", "c", Resources(), privileged=True)
    assert _read(tmp_path / "p" / "c" / "devices.allow") == "a"
    assert not (tmp_path / "p" / "c" / "devices.deny").exists()


def test_v1_cpuset_levels_inherit_cpus_and_mems(tmp_path):
    (tmp_path / "cpuset.cpus").write_text("0-3\n")
    (tmp_path / "cpuset.mems").write_text("0\n")
    layout = cgroups.CgroupsV1({str(tmp_path): ("cpu", "cpuset")})
    layout.create("p", "c", Resources(), privileged=False)
    assert _read(tmp_path / "p" / "cpuset.cpus") == "0-3"
    assert _read(tmp_path / "p" / "c" / "cpuset.mems") == "0"


def test_v2_create_enables_controllers_and_writes_limits(tmp_path):
    (tmp_path / "cgroup.controllers").write_text("cpu memory pids\n")
    (tmp_path / "cgroup.subtree_control").write_text("")
    os.makedirs(tmp_path / "parent")
    (tmp_path / "parent" / "cgroup.subtree_control").write_text("")
    os.makedirs(tmp_path / "parent" / "c1")
    (tmp_path / "parent" / "c1" / "memory.swap.max").write_text("")
    layout = cgroups.CgroupsV2(str(tmp_path))
    layout.create("parent", "c1", Resources(memory=32 << 20, cpu_shares=512), privileged=False)
    # Plain files keep only the last write of "+controller".
    assert _read(tmp_path / "cgroup.subtree_control").startswith("+")
    assert _read(tmp_path / "parent" / "c1" / "memory.max") == str(32 << 20)
    assert _read(tmp_path / "parent" / "c1" / "memory.swap.max") == str(32 << 20)
    assert _read(tmp_path / "parent" / "c1" / "cpu.weight") == str(cgroups.cpu_weight(512))


def test_v2_without_memory_controller_ignores_the_limit(tmp_path, caplog):
    (tmp_path / "cgroup.controllers").write_text("")
    layout = cgroups.CgroupsV2(str(tmp_path))
    layout.create("p", "c", Resources(memory=1 << 20), privileged=False)
    assert not (tmp_path / "p" / "c" / "memory.max").exists()
    assert "memory limit" in caplog.text


def test_pid_in_container_checks_the_cgroup_name():
    assert not cgroups.pid_in_container(os.getpid(), "no-such-container-id")
    assert not cgroups.pid_in_container(2**22 + 12345, "x")


@pytest.mark.parametrize("line", ["", "garbage", "1 2 3 - cgroup"])
def test_mountinfo_garbage_is_skipped(tmp_path, line):
    mountinfo = tmp_path / "mountinfo"
    mountinfo.write_text(line + "\n")
    assert isinstance(cgroups.detect(str(tmp_path / "none"), str(mountinfo)), cgroups.NoCgroups)
