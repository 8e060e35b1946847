"""Restart policies and healthchecks through our CLI, the docker CLI 28 and the docker SDK for Python 7:
on-failure:N restarts N times, always restarts after an exit and after a daemon restart (even with
-r=false), unless-stopped does not come back after a user's stop, a container resumed after a daemon
crash keeps its policy; health goes starting -> healthy -> unhealthy with its events and ps filter."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time

import pytest

from lib.poll import poll
from lib.require import require, require_module
from lib.unixhttp import api

DOCKER_CLI = "/usr/local/bin/docker"


def state(daemon, cid: str) -> dict:
    status, body = api(daemon, "GET", f"/v1.24/containers/{cid}/json")
    assert status == 200, body
    doc = json.loads(body)
    doc["State"]["RestartCount"] = doc["RestartCount"]
    return doc["State"]


def steady_for(fn, seconds: float) -> bool:
    first = fn()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if fn() != first:
            return False
    return True


@pytest.fixture
def fresh(daemon_factory, busybox_tar):
    """A daemon of the test's own (some tests restart it), with busybox imported."""

    def make(*args: str, base: str | None = None):
        d = daemon_factory(*args, base=base).start()
        if base is None:
            d.cli("import", "-", "busybox", input=open(busybox_tar, "rb").read(), check=True)
        return d

    return make


# -- restart policies --------------------------------------------------------------------------------


def test_on_failure_restarts_exactly_n_times(daemon):
    cid = daemon.out("run", "-d", "--restart", "on-failure:2", "busybox", "sh", "-c", "exit 3").strip()
    try:

        def settled() -> dict | None:
            s = state(daemon, cid)
            return s if not s["Running"] and not s["Restarting"] and s["RestartCount"] == 2 else None

        s = poll(settled, timeout=20, what="two restarts, then none")
        assert s["ExitCode"] == 3
        assert steady_for(lambda: state(daemon, cid)["RestartCount"], 1.0)
        status, body = api(daemon, "GET", f"/v1.24/events?since=0&until={int(time.time()) + 1}")
        events = [json.loads(line) for line in body.decode().splitlines() if line.strip()]
        actions = [e["Action"] for e in events if e.get("id") == cid]
        assert actions.count("start") == 3 and actions.count("die") == 3
    finally:
        daemon.cli("rm", "-f", cid)


def test_on_failure_does_not_restart_a_clean_exit(daemon):
    cid = daemon.out("run", "-d", "--restart", "on-failure", "busybox", "true").strip()
    try:
        daemon.out("wait", cid)
        assert steady_for(lambda: state(daemon, cid)["RestartCount"], 0.5)
        assert state(daemon, cid)["RestartCount"] == 0
    finally:
        daemon.cli("rm", "-f", cid)


def test_always_restarts_after_exit_and_stop_ends_it(daemon):
    cid = daemon.out("run", "-d", "--restart", "always", "busybox", "sh", "-c", "sleep 0.2").strip()
    try:
        poll(lambda: state(daemon, cid)["RestartCount"] >= 2, timeout=20, what="two restarts")
        # Between two runs the stop finds it stopped (an error for a 1.9 client) but still ends it.
        daemon.cli("stop", "-t", "1", cid)
        poll(lambda: not state(daemon, cid)["Running"], what="the stop")
        count = state(daemon, cid)["RestartCount"]
        assert steady_for(lambda: state(daemon, cid)["Running"], 1.0)
        assert state(daemon, cid)["RestartCount"] == count and not state(daemon, cid)["Running"]
    finally:
        daemon.cli("rm", "-f", cid)


def test_a_restarting_container_is_removed_only_with_force(daemon):
    """As Docker: between two runs of its `always` policy a container is not removable without -f
    (the docker SDK's own test_create_with_restart_policy checks this), and -f ends it for good."""
    cid = daemon.out("run", "-d", "--restart", "always", "busybox", "true").strip()
    try:
        poll(lambda: state(daemon, cid)["RestartCount"] >= 1, timeout=20, what="a restart")
        refused = daemon.cli("rm", cid)
        assert refused.returncode == 1 and b"You cannot remove " in refused.stderr, refused.stderr
        assert cid in daemon.out("ps", "-a", "-q", "--no-trunc")
    finally:
        daemon.out("rm", "-f", cid)
    assert cid not in daemon.out("ps", "-a", "-q", "--no-trunc")


def test_bad_restart_policies_are_refused(daemon):
    for flag in ("sometimes", "always:3"):
        result = daemon.cli("run", "-d", "--restart", flag, "busybox", "true")
        assert result.returncode != 0 and result.stderr
    body = {"Image": "busybox", "Cmd": ["true"], "HostConfig": {"RestartPolicy": {"Name": "nope"}}}
    status, answer = api(daemon, "POST", "/v1.24/containers/create", body)
    assert status == 400 and b"invalid restart policy" in answer


def test_policies_at_daemon_start(fresh):
    d = fresh("-r=false")
    always = d.out("run", "-d", "--restart", "always", "busybox", "sleep", "1000").strip()
    unless = d.out("run", "-d", "--restart", "unless-stopped", "busybox", "sleep", "1000").strip()
    stopped = d.out("run", "-d", "--restart", "unless-stopped", "busybox", "sleep", "1000").strip()
    always_stopped = d.out("run", "-d", "--restart", "always", "busybox", "sleep", "1000").strip()
    plain = d.out("run", "-d", "busybox", "sleep", "1000").strip()
    d.out("stop", "-t", "1", stopped)
    d.out("stop", "-t", "1", always_stopped)
    d.stop()
    d2 = fresh("-r=false", base=d.base)
    try:
        assert state(d2, always)["Running"]
        assert state(d2, unless)["Running"]
        assert state(d2, always_stopped)["Running"]  # Docker: always comes back at daemon start
        assert not state(d2, stopped)["Running"]
        assert not state(d2, plain)["Running"]
        # The policy still applies to the restarted container's next exit.
        os.kill(state(d2, always)["Pid"], signal.SIGKILL)
        poll(lambda: state(d2, always)["Running"] and state(d2, always)["RestartCount"] == 1, timeout=20)
    finally:
        for cid in (always, unless, stopped, always_stopped, plain):
            d2.cli("rm", "-f", cid)


def test_a_live_restored_container_keeps_its_policy(fresh):
    d = fresh()
    cid = d.out("run", "-d", "--restart", "always", "busybox", "sleep", "1000").strip()
    pid = state(d, cid)["Pid"]
    d.kill()  # SIGKILL: the keeper holds the container while no daemon runs
    d2 = fresh(base=d.base)
    try:
        assert state(d2, cid)["Running"] and state(d2, cid)["Pid"] == pid
        os.kill(pid, signal.SIGKILL)
        poll(lambda: state(d2, cid)["Running"] and state(d2, cid)["RestartCount"] == 1, timeout=20)
    finally:
        d2.cli("rm", "-f", cid)


# -- healthchecks ------------------------------------------------------------------------------------


def test_health_goes_healthy_then_unhealthy(daemon):
    cid = daemon.out(
        "run", "-d", "--health-cmd", "cat /tmp/ok", "--health-interval", "100ms", "--health-retries", "2",
        "busybox", "sh", "-c", "echo fine > /tmp/ok; exec sleep 1000",
    ).strip()  # fmt: skip
    try:
        poll(lambda: (state(daemon, cid).get("Health") or {}).get("Status") == "healthy", timeout=20)
        health = state(daemon, cid)["Health"]
        assert health["FailingStreak"] == 0 and health["Log"][-1]["ExitCode"] == 0
        assert health["Log"][-1]["Output"] == "fine\n"
        assert "(healthy)" in daemon.out("ps")
        assert cid[:12] in daemon.out("ps", "-q", "--filter", "health=healthy")
        daemon.out("exec", cid, "rm", "/tmp/ok")
        health = poll(lambda: (h := state(daemon, cid)["Health"])["Status"] == "unhealthy" and h, timeout=20)
        assert health["FailingStreak"] >= 2 and len(health["Log"]) <= 5
        assert health["Log"][-1]["ExitCode"] != 0
        assert cid[:12] in daemon.out("ps", "-q", "--filter", "health=unhealthy")
        assert "(unhealthy)" in daemon.out("ps")
        events = daemon.out("events", "--since", "0", "--until", str(int(time.time()) + 1))
        assert "health_status: healthy" in events and "health_status: unhealthy" in events
    finally:
        daemon.cli("rm", "-f", cid)


def test_health_starts_as_starting_and_no_healthcheck_has_none(daemon):
    slow = daemon.out(
        "run", "-d", "--health-cmd", "true", "--health-interval", "1h", "busybox", "sleep", "1000"
    )
    none = daemon.out("run", "-d", "--no-healthcheck", "busybox", "sleep", "1000")
    try:
        assert state(daemon, slow.strip())["Health"]["Status"] == "starting"
        assert "(health: starting)" in daemon.out("ps")
        assert "Health" not in state(daemon, none.strip())
        assert none.strip()[:12] in daemon.out("ps", "-q", "--filter", "health=none")
        bad = daemon.cli("ps", "--filter", "health=great")
        assert bad.returncode != 0 and b"Unrecognised filter value for health" in bad.stderr
    finally:
        daemon.cli("rm", "-f", slow.strip(), none.strip())


def test_restart_and_health_through_the_sdk_and_the_docker_cli(daemon):
    docker = require_module("docker", "pip install docker; scripts/setup-dev.sh installs it")
    client = docker.DockerClient(base_url=daemon.host, version="auto", timeout=60)
    container = client.containers.run(
        "busybox",
        ["sleep", "1000"],
        detach=True,
        restart_policy={"Name": "on-failure", "MaximumRetryCount": 1},
        healthcheck={"test": ["CMD", "true"], "interval": 100_000_000, "retries": 1},
    )
    try:
        assert container.attrs["HostConfig"]["RestartPolicy"] == {
            "Name": "on-failure",
            "MaximumRetryCount": 1,
        }
        poll(lambda: client.api.inspect_container(container.id)["State"]["Health"]["Status"] == "healthy")
    finally:
        container.remove(force=True)
        client.close()
    require(shutil.which(DOCKER_CLI), "the docker CLI 28 is not installed at /usr/local/bin/docker")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    env.update({"DOCKER_HOST": daemon.host, "DOCKER_CONFIG": "/tmp/lxc-docker-test-cli-config"})
    run = subprocess.run(
        [DOCKER_CLI, "run", "-d", "--restart", "always", "--health-cmd", "true", "--health-interval", "100ms",
         "busybox", "sh", "-c", "sleep 0.3"],
        capture_output=True, env=env, timeout=60,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    cid = run.stdout.decode().strip()
    try:
        poll(lambda: state(daemon, cid)["RestartCount"] >= 1, timeout=20, what="a restart")
        ps = subprocess.run([DOCKER_CLI, "ps", "-a"], capture_output=True, env=env, timeout=60)
        assert cid[:12] in ps.stdout.decode()
    finally:
        daemon.cli("rm", "-f", cid)
