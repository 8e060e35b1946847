"""pause/unpause, rename, update and stats through our CLI, the docker CLI 28, the docker SDK for
Python 7 and raw HTTP: what a user sees (a frozen counter, a new name, a changed cgroup file, plausible
usage numbers)."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import time

import pytest

from lib.clients import cli28
from lib.poll import poll
from lib.require import require_tools
from lib.unixhttp import api

DOCKER_CLI = "/usr/local/bin/docker"
COUNTER = "i=0; while true; do i=$((i+1)); echo $i; sleep 0.05; done"


def cgroup_file(controller: str, cid: str, name: str) -> str:
    if os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
        return f"/sys/fs/cgroup/docker/{cid}/{name}"
    return f"/sys/fs/cgroup/{controller}/docker/{cid}/{name}"


def read(path: str) -> str:
    with open(path) as f:
        return f.read().strip()


def log_lines(daemon, cid: str) -> int:
    return len(daemon.out("logs", cid).split())


def inspect(daemon, cid: str) -> dict:
    status, body = api(daemon, "GET", f"/v1.24/containers/{cid}/json")
    assert status == 200, body
    return json.loads(body)


def steady_for(fn, seconds: float) -> bool:
    """Whether `fn()` keeps its value for `seconds` (a frozen container's output must not move)."""
    first = fn()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if fn() != first:
            return False
    return True


@pytest.fixture
def counter(daemon):
    cid = daemon.out("run", "-d", "busybox", "sh", "-c", COUNTER).strip()
    poll(lambda: log_lines(daemon, cid) > 0, what="the counter's first line")
    yield cid
    daemon.cli("unpause", cid)
    daemon.cli("rm", "-f", cid)


@pytest.fixture
def real_cli(daemon):
    """The docker CLI 28 (tests/lib/clients.py), its exit status left to the test."""
    return functools.partial(cli28(daemon.host), check=False)


# -- pause -------------------------------------------------------------------------------------------


def test_pause_freezes_the_counter_and_unpause_resumes_it(daemon, counter):
    assert daemon.out("pause", counter).strip() == counter
    if os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
        assert read(cgroup_file("", counter, "cgroup.freeze")) == "1"
    else:
        assert read(cgroup_file("freezer", counter, "freezer.state")) == "FROZEN"
    assert inspect(daemon, counter)["State"]["Paused"] is True
    ps = daemon.out("ps")
    assert "(Paused)" in ps
    assert counter[:12] in daemon.out("ps", "-q", "--filter", "status=paused")
    assert steady_for(lambda: log_lines(daemon, counter), 0.5)
    refused = daemon.cli("exec", counter, "true")
    assert refused.returncode != 0 and b"is paused" in refused.stderr
    again = daemon.cli("pause", counter)
    assert again.returncode != 0 and b"already paused" in again.stderr
    before = log_lines(daemon, counter)
    assert daemon.out("unpause", counter).strip() == counter
    poll(lambda: log_lines(daemon, counter) > before, what="the counter to advance again")
    assert inspect(daemon, counter)["State"]["Paused"] is False
    events = daemon.out("events", "--since", "0", "--until", str(int(time.time()) + 1))
    mine = [line for line in events.splitlines() if counter[:12] in line]
    assert any(line.endswith(" pause") for line in mine) and any(line.endswith(" unpause") for line in mine)


def test_stop_and_kill_of_a_paused_container(daemon):
    for verb in ("stop", "kill"):
        cid = daemon.out("run", "-d", "busybox", "sleep", "1000").strip()
        daemon.out("pause", cid)
        args = [verb, "-t", "1", cid] if verb == "stop" else [verb, cid]
        assert daemon.out(*args).strip() == cid
        state = inspect(daemon, cid)["State"]
        assert not state["Running"] and not state["Paused"]
        daemon.out("rm", cid)


def test_pause_of_a_stopped_container_is_a_conflict(daemon):
    cid = daemon.out("create", "busybox", "true").strip()
    status, body = api(daemon, "POST", f"/v1.24/containers/{cid}/pause")
    assert status == 409 and f"Container {cid} is not running" in body.decode()
    daemon.out("rm", cid)


def test_pause_through_the_docker_cli_and_the_sdk(daemon, counter, real_cli, sdk):
    result = real_cli("pause", counter)
    assert result.returncode == 0, result.stderr
    assert "Paused" in real_cli("ps").stdout.decode()
    assert real_cli("unpause", counter).returncode == 0
    container = sdk.containers.get(counter)
    container.pause()
    container.reload()
    assert container.status == "paused"
    container.unpause()
    container.reload()
    assert container.status == "running"


# -- rename ------------------------------------------------------------------------------------------


def test_rename_moves_the_name_and_the_links_follow(daemon):
    child = daemon.out("run", "-d", "--name", "rn-child", "busybox", "sleep", "1000").strip()
    parent = daemon.out("create", "--link", "rn-child:db", "--name", "rn-parent", "busybox", "true").strip()
    try:
        assert daemon.cli("rename", "rn-child", "rn-kid").returncode == 0
        assert inspect(daemon, child)["Name"] == "/rn-kid"
        assert daemon.cli("inspect", "rn-child").returncode != 0
        assert inspect(daemon, parent)["HostConfig"]["Links"] == ["/rn-kid:db"]
        # The parent still starts: its link finds the child under the new name.
        assert daemon.cli("start", parent).returncode == 0
        conflict = daemon.cli("rename", "rn-kid", "rn-parent")
        assert conflict.returncode != 0 and b"already in use" in conflict.stderr
        assert inspect(daemon, child)["Name"] == "/rn-kid"
        events = daemon.out("events", "--since", "0", "--until", str(int(time.time()) + 1))
        assert "rename" in events
    finally:
        daemon.cli("rm", "-f", parent)
        daemon.cli("rm", "-f", child)


def test_rename_through_the_docker_cli_and_the_sdk(daemon, real_cli, sdk):
    cid = daemon.out("create", "--name", "rn-a", "busybox", "true").strip()
    try:
        result = real_cli("rename", "rn-a", "rn-b")
        assert result.returncode == 0, result.stderr
        container = sdk.containers.get("rn-b")
        container.rename("rn-c")
        container.reload()
        assert container.name == "rn-c"
        status, body = api(daemon, "POST", f"/v1.24/containers/{cid}/rename?name=bad%20name")
        assert status == 400, body
    finally:
        daemon.cli("rm", "-f", cid)


# -- update ------------------------------------------------------------------------------------------


def test_update_writes_the_running_containers_cgroups(daemon):
    cid = daemon.out("run", "-d", "-m", "64m", "busybox", "sleep", "1000").strip()
    try:
        assert (
            daemon.out("update", "-m", "96m", "--cpu-shares", "512", "--restart", "always", cid).strip()
            == cid
        )
        v2 = os.path.exists("/sys/fs/cgroup/cgroup.controllers")
        limit = read(cgroup_file("memory", cid, "memory.max" if v2 else "memory.limit_in_bytes"))
        assert int(limit) == 96 * 1024 * 1024
        if not v2:
            assert read(cgroup_file("cpu", cid, "cpu.shares")) == "512"
        host = inspect(daemon, cid)["HostConfig"]
        assert host["Memory"] == 96 * 1024 * 1024 and host["CpuShares"] == 512
        assert host["RestartPolicy"] == {"Name": "always", "MaximumRetryCount": 0}
        status, body = api(daemon, "POST", f"/v1.24/containers/{cid}/update", {"Memory": 1024})
        assert status == 400, body
        status, body = api(daemon, "POST", f"/v1.24/containers/{cid}/update", {"CpuShares": 256})
        assert status == 200 and json.loads(body) == {"Warnings": []}
    finally:
        daemon.cli("rm", "-f", cid)


def test_update_through_the_docker_cli_and_the_sdk(daemon, real_cli, sdk):
    cid = daemon.out("run", "-d", "--restart", "unless-stopped", "busybox", "sleep", "1000").strip()
    try:
        result = real_cli("update", "--memory", "80m", "--memory-swap", "160m", cid)
        assert result.returncode == 0, result.stderr
        host = inspect(daemon, cid)["HostConfig"]
        assert host["Memory"] == 80 * 1024 * 1024
        # The CLI sends an empty RestartPolicy with every update: the container keeps its own.
        assert host["RestartPolicy"]["Name"] == "unless-stopped"
        container = sdk.containers.get(cid)
        container.update(mem_limit="72m", memswap_limit="144m")
        v2 = os.path.exists("/sys/fs/cgroup/cgroup.controllers")
        limit = read(cgroup_file("memory", cid, "memory.max" if v2 else "memory.limit_in_bytes"))
        assert int(limit) == 72 * 1024 * 1024
    finally:
        daemon.cli("rm", "-f", cid)


def test_cpu_quota_from_the_docker_cli_and_from_an_update_of_a_stopped_container(daemon, real_cli):
    if os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
        pytest.skip("reads cgroup v1's cpu.cfs_quota_us")
    run = real_cli("run", "-d", "--cpu-period", "100000", "--cpu-quota", "50000", "busybox", "sleep", "1000")
    assert run.returncode == 0, run.stderr
    cid = run.stdout.decode().strip()
    stopped = daemon.out("create", "busybox", "sleep", "1000").strip()
    try:
        assert read(cgroup_file("cpu", cid, "cpu.cfs_quota_us")) == "50000"
        daemon.out("update", "--cpu-quota", "30000", stopped)
        daemon.out("start", stopped)
        assert read(cgroup_file("cpu", stopped, "cpu.cfs_quota_us")) == "30000"
    finally:
        daemon.cli("rm", "-f", cid, stopped)


# -- stats -------------------------------------------------------------------------------------------


def test_stats_numbers_come_from_the_cgroups(daemon, sdk):
    cid = daemon.out("run", "-d", "-m", "48m", "busybox", "sleep", "1000").strip()
    try:
        stats = sdk.containers.get(cid).stats(stream=False)
        memory = stats["memory_stats"]
        assert memory["usage"] > 0 and memory["limit"] == 48 * 1024 * 1024
        assert stats["cpu_stats"]["cpu_usage"]["total_usage"] > 0
        assert stats["precpu_stats"]["cpu_usage"]["total_usage"] > 0
        assert stats["cpu_stats"]["system_cpu_usage"] > stats["precpu_stats"]["system_cpu_usage"]
        assert stats["pids_stats"]["current"] >= 1
        assert stats["networks"] == {}  # the test daemon runs with -b none: no interface but lo
        assert stats["name"] == inspect(daemon, cid)["Name"]
        # A stream: one sample a second, each with the one before as precpu_stats.
        stream = sdk.api.stats(cid, decode=True, stream=True)
        first, second = next(stream), next(stream)
        assert second["precpu_stats"] == first["cpu_stats"]
        stream.close()
    finally:
        daemon.cli("rm", "-f", cid)


def test_stats_counts_the_containers_network_traffic(net_daemon):
    cid = net_daemon.out(
        "run",
        "-d",
        "busybox",
        "sh",
        "-c",
        "ping -c 3 -i 0.2 $(ip route | awk '/default/ {print $3}'); sleep 1000",
    ).strip()
    try:

        def sent() -> dict | None:
            status, body = api(net_daemon, "GET", f"/v1.24/containers/{cid}/stats?stream=false")
            assert status == 200, body
            eth0 = json.loads(body)["networks"].get("eth0")
            return eth0 if eth0 and eth0["tx_packets"] >= 3 else None

        eth0 = poll(sent, timeout=20, what="three pings counted on eth0")
        assert eth0["tx_bytes"] > 0 and eth0["rx_bytes"] > 0
    finally:
        net_daemon.cli("rm", "-f", cid)


def test_stats_table_through_our_cli_and_the_docker_cli(daemon, real_cli):
    cid = daemon.out("run", "-d", "-m", "32m", "--name", "st-a", "busybox", "sleep", "1000").strip()
    try:
        out = daemon.out("stats", "--no-stream", "st-a")
        lines = out.splitlines()
        assert lines[0].startswith("CONTAINER") and "MEM USAGE / LIMIT" in lines[0]
        columns = [c.strip() for c in lines[0].split("  ") if c.strip()]
        assert columns[-4:] == ["MEM %", "NET I/O", "BLOCK I/O", "PIDS"]
        assert lines[1].startswith("st-a ") and "/ 32 MiB" in lines[1]
        assert daemon.out("stats", "--no-stream").splitlines()[1].startswith(cid[:12])
        result = real_cli("stats", "--no-stream", "st-a")
        assert result.returncode == 0, result.stderr
        assert "32MiB" in result.stdout.decode()
    finally:
        daemon.cli("rm", "-f", cid)


# -- every exec driver -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "driver, tool",
    [(["-e", "oci", "--oci-runtime", "runc"], "runc"), (["-e", "oci", "--oci-runtime", "crun"], "crun"),
     (["-e", "lxc"], "lxc-start")],
    ids=["runc", "crun", "lxc"],
)  # fmt: skip
def test_pause_update_and_stats_under_every_exec_driver(daemon_factory, busybox_tar, driver, tool):
    """The verbs work on the cgroup files alone, so every driver's containers get them."""
    require_tools(tool)
    d = daemon_factory(*driver).start()
    d.cli("import", "-", "busybox", input=open(busybox_tar, "rb").read(), check=True)
    cid = d.out("run", "-d", "-m", "40m", "busybox", "sh", "-c", COUNTER).strip()
    try:
        poll(lambda: log_lines(d, cid) > 0, what="the counter's first line")
        d.out("pause", cid)
        assert inspect(d, cid)["State"]["Paused"] is True
        assert steady_for(lambda: log_lines(d, cid), 0.5)
        d.out("unpause", cid)
        before = log_lines(d, cid)
        poll(lambda: log_lines(d, cid) > before, what="the counter to advance again")
        status, body = api(d, "GET", f"/v1.24/containers/{cid}/stats?stream=false")
        memory = json.loads(body)["memory_stats"]
        assert status == 200 and memory["usage"] > 0 and memory["limit"] == 40 * 1024 * 1024
        d.out("update", "-m", "50m", cid)
        v2 = os.path.exists("/sys/fs/cgroup/cgroup.controllers")
        limit = read(cgroup_file("memory", cid, "memory.max" if v2 else "memory.limit_in_bytes"))
        assert int(limit) == 50 * 1024 * 1024
        d.out("pause", cid)
        d.out("stop", "-t", "1", cid)
        assert not inspect(d, cid)["State"]["Running"]
    finally:
        d.cli("rm", "-f", cid)


def test_stats_stream_redraws_the_table(daemon):
    from lib.daemon import docker_cmd, our_env

    cid = daemon.out("run", "-d", "--name", "st-live", "busybox", "sleep", "1000").strip()
    proc = subprocess.Popen(
        docker_cmd() + ["-H", daemon.host, "stats", "st-live"], stdout=subprocess.PIPE, env=our_env()
    )
    try:
        seen = b""
        while seen.count(b"\033[2J") < 3:
            chunk = proc.stdout.read1(4096)
            assert chunk, "stats ended early"
            seen += chunk
        table = seen.split(b"\033[2J\033[H")[2].decode()  # a whole one, between two redraws
        assert table.startswith("CONTAINER") and "st-live" in table
        daemon.out("stop", "-t", "1", cid)
        assert proc.wait(20) == 0  # the stream ends with the container
    finally:
        proc.kill()
        proc.wait()
        daemon.cli("rm", "-f", cid)
