"""HostConfig.GroupAdd (`--group-add`): supplementary groups of a container's PID 1 and of its exec'd
processes, names looked up in the container's own /etc/group (through a symlink resolved inside the
root, never the host's file), numbers used as they are; under every exec driver, through our CLI,
the docker CLI 28 and the docker SDK for Python 7."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from lib.daemon import Daemon, own_daemon
from lib.drivers import DRIVERS, require_driver
from lib.require import require, require_module
from lib.unixhttp import api

pytestmark = pytest.mark.root

DOCKER_CLI = "/usr/local/bin/docker"
# The image's /etc/group is a symlink to /tmp/g, which only the container has: read through the
# host's path it would be the host's /tmp/g or nothing, and `devs` would be unknown.
MAKE_IMAGE = "printf 'root:x:0:\\ndevs:x:777:\\n' > /tmp/g && rm /etc/group && ln -s /tmp/g /etc/group"


def ids(out: str) -> tuple[str, set[str]]:
    """`id -G`: (the gid, the supplementary groups), which the kernel keeps sorted by number."""
    words = out.split()
    return words[0], set(words[1:])


def _groups_image(d: Daemon) -> None:
    cid = d.out("run", "-d", "busybox", "sh", "-c", MAKE_IMAGE).strip()
    assert d.out("wait", cid).strip() == "0"
    d.out("commit", cid, "groups")
    d.cli("rm", cid, check=True)


@pytest.fixture(scope="module", params=DRIVERS, ids=[name for name, _ in DRIVERS])
def d(request, busybox_tar):
    name, args = request.param
    require_driver(name)
    with own_daemon(busybox_tar, args, prefix="ldg-") as daemon:
        _groups_image(daemon)
        yield daemon


def test_run_and_exec_get_the_added_groups(d):
    argv = ["run", "--rm", "-u", "nobody", "--group-add", "devs", "--group-add", "4242", "groups"]
    out = d.out(*argv, "id", "-G")
    assert ids(out) == ("65534", {"777", "4242"})

    cid = d.out("run", "-d", "--group-add", "devs", "--group-add", "4242", "groups", "sleep", "600").strip()
    try:
        assert ids(d.out("exec", "-u", "nobody", cid, "id", "-G")) == ("65534", {"777", "4242"})
        assert ids(d.out("exec", cid, "id", "-G")) == ("0", {"777", "4242"})
        status, body = api(d, "GET", f"/v1.24/containers/{cid}/json")
        assert status == 200
        assert json.loads(body)["HostConfig"]["GroupAdd"] == ["devs", "4242"]
    finally:
        d.cli("rm", "-f", cid)


def test_exec_keeps_the_groups_after_a_daemon_crash(d):
    # A container taken back after `kill -9` of the daemon gets its Command rebuilt from its config:
    # an exec then still resolves users and groups in the container's own root.
    cid = d.out("run", "-d", "--group-add", "devs", "groups", "sleep", "600").strip()
    try:
        d.proc.kill()
        d.proc.wait()
        d.start()
        assert d.out("inspect", "-f", "{{.State.Running}}", cid).strip() == "true"
        assert ids(d.out("exec", "-u", "nobody", cid, "id", "-G")) == ("65534", {"777"})
    finally:
        d.cli("rm", "-f", cid)


def test_an_unknown_group_name_fails_the_start(d):
    r = d.cli("run", "--group-add", "nosuch", "groups", "true")
    assert r.returncode != 0
    assert "Unable to find group nosuch" in (r.stdout + r.stderr).decode()


def test_without_group_add_nothing_is_added(d):
    assert ids(d.out("run", "--rm", "-u", "nobody", "groups", "id", "-G")) == ("65534", set())


# -- today's clients (native driver) ------------------------------------------------------------------


@pytest.fixture(scope="module")
def native(busybox_tar):
    with own_daemon(busybox_tar, prefix="ldg-") as daemon:
        _groups_image(daemon)
        yield daemon


def test_docker_cli_28_group_add(native):
    require(os.access(DOCKER_CLI, os.X_OK), f"the docker CLI 28 is not installed at {DOCKER_CLI}")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    env.update({"DOCKER_HOST": native.host, "DOCKER_CONFIG": "/tmp/lxc-docker-test-cli-config"})
    argv = [DOCKER_CLI, "run", "--rm", "--group-add", "devs", "--group-add", "99", "groups", "id", "-G"]
    r = subprocess.run(argv, capture_output=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    assert ids(r.stdout.decode()) == ("0", {"777", "99"})


def test_sdk_group_add(native):
    docker = require_module("docker", "pip install docker; scripts/setup-dev.sh installs it")
    client = docker.DockerClient(base_url=native.host, version="1.24", timeout=60)
    try:
        c = client.containers.create("groups", "sleep 600", group_add=[1000, "devs"])
        try:
            c.start()
            assert c.attrs["HostConfig"]["GroupAdd"] == ["1000", "devs"]
            code, out = c.exec_run("id -G", user="nobody")
            assert code == 0
            assert ids(out.decode()) == ("65534", {"1000", "777"})
        finally:
            c.remove(force=True)
    finally:
        client.close()
