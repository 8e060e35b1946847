"""Bind mount propagation (`-v /src:/dst:rshared|rslave|...`, API 1.24's Binds modes): a mount made in
the container under an rshared bind shows on the host, one made on the host under an rslave bind
shows in the container, the default (rprivate) lets neither cross; a shared bind of a source that is
not on a shared mount fails the start with Docker's message; inspect shows what was asked. Under
every exec driver, through our CLI, the docker CLI 28 and the docker SDK for Python 7.

The shared sources are tmpfs mounts of the test's own, made shared; every mount made on the host,
including those the containers propagated to it, is unmounted at the end."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from lib.daemon import Daemon, own_daemon
from lib.drivers import DRIVERS, require_driver
from lib.require import require, require_module
from lib.unixhttp import api

pytestmark = pytest.mark.root

DOCKER_CLI = "/usr/local/bin/docker"
# Mounting inside the container needs CAP_SYS_ADMIN, which --privileged gives under every driver.
MOUNT_SUB = "mkdir -p /mnt/sub && mount -t tmpfs tmpfs /mnt/sub && echo from-container > /mnt/sub/f"


def _mountpoints_under(base: str) -> list[str]:
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4] for line in f]
    return sorted({p for p in points if p == base or p.startswith(base + "/")}, reverse=True)


def _cleanup(base: str) -> None:
    # Deepest first, and again until none is left: a propagated mount may be stacked on another.
    for _ in range(10):
        points = _mountpoints_under(base)
        if not points:
            break
        for mnt in points:
            subprocess.run(["umount", "-l", mnt], check=False, capture_output=True)
    shutil.rmtree(base, ignore_errors=True)


def _is_mountpoint(path: str) -> bool:
    return path in _mountpoints_under(path)


@pytest.fixture(scope="module", params=DRIVERS, ids=[name for name, _ in DRIVERS])
def d(request, busybox_tar):
    name, args = request.param
    require_driver(name)
    with own_daemon(busybox_tar, args, prefix="ldp-") as daemon:
        yield daemon


@contextmanager
def _own_tmpfs(prefix: str, propagation: str) -> Iterator[str]:
    """A tmpfs of the test's own with `propagation` ("shared", "private"), unmounted afterwards with
    whatever was propagated onto it."""
    base = tempfile.mkdtemp(prefix=prefix, dir="/tmp")
    try:
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", base], check=True)
        subprocess.run(["mount", f"--make-{propagation}", base], check=True)
        yield base
    finally:
        _cleanup(base)


@pytest.fixture
def shared_dir():
    """A shared mount of the test's own (the host's / here is private)."""
    with _own_tmpfs("ldp-src-", "shared") as base:
        yield base


@pytest.fixture
def private_dir():
    with _own_tmpfs("ldp-priv-", "private") as base:
        yield base


@pytest.mark.parametrize("mode", ["rshared", "ro,shared"])
def test_shared_sends_the_containers_mounts_to_the_host(d, shared_dir, mode):
    sub = os.path.join(shared_dir, "sub")
    os.mkdir(sub)  # a read-only bind can still be mounted on, not written
    script = MOUNT_SUB + " && ! touch /mnt/x" if mode.startswith("ro") else MOUNT_SUB
    d.out("run", "--rm", "--privileged", "-v", f"{shared_dir}:/mnt:{mode}", "busybox", "sh", "-c", script)
    assert _is_mountpoint(sub)
    with open(os.path.join(sub, "f")) as f:
        assert f.read() == "from-container\n"


def test_rslave_receives_the_hosts_later_mounts(d, shared_dir):
    cid = d.out("run", "-d", "-v", f"{shared_dir}:/mnt:ro,rslave", "busybox", "sleep", "600").strip()
    try:
        later = os.path.join(shared_dir, "later")
        os.mkdir(later)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", later], check=True)
        with open(os.path.join(later, "f"), "w") as f:
            f.write("from-host\n")
        assert d.out("exec", cid, "cat", "/mnt/later/f") == "from-host\n"
        # The mode's `ro` holds too.
        assert d.cli("exec", cid, "touch", "/mnt/x").returncode != 0

        status, body = api(d, "GET", f"/v1.24/containers/{cid}/json")
        assert status == 200
        (mount,) = [m for m in json.loads(body)["Mounts"] if m["Destination"] == "/mnt"]
        assert (mount["Source"], mount["Mode"], mount["RW"], mount["Propagation"]) == (
            shared_dir,
            "ro,rslave",
            False,
            "rslave",
        )
    finally:
        d.cli("rm", "-f", cid)


def test_the_default_lets_nothing_cross(d, shared_dir):
    # rprivate: the container's mount stays inside, and a host mount made later does not arrive.
    cid = d.out("run", "-d", "--privileged", "-v", f"{shared_dir}:/mnt", "busybox", "sleep", "600").strip()
    try:
        d.out("exec", cid, "sh", "-c", MOUNT_SUB)
        assert d.out("exec", cid, "cat", "/mnt/sub/f") == "from-container\n"
        assert not _is_mountpoint(os.path.join(shared_dir, "sub"))
        later = os.path.join(shared_dir, "later")
        os.mkdir(later)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", later], check=True)
        with open(os.path.join(later, "f"), "w") as f:
            f.write("from-host\n")
        assert d.cli("exec", cid, "cat", "/mnt/later/f").returncode != 0
        status, body = api(d, "GET", f"/v1.24/containers/{cid}/json")
        (mount,) = [m for m in json.loads(body)["Mounts"] if m["Destination"] == "/mnt"]
        assert (mount["Mode"], mount["Propagation"]) == ("", "rprivate")
    finally:
        d.cli("rm", "-f", cid)


def test_a_private_source_fails_the_start_with_dockers_message(d, private_dir):
    r = d.cli("run", "--rm", "-v", f"{private_dir}:/mnt:rshared", "busybox", "true")
    assert r.returncode != 0
    expected = f"Path {private_dir} is mounted on {private_dir} but it is not a shared mount."
    assert expected in r.stderr.decode()
    r = d.cli("run", "--rm", "-v", f"{private_dir}:/mnt:slave", "busybox", "true")
    assert r.returncode != 0
    assert "but it is not a shared or slave mount." in r.stderr.decode()


def test_a_bad_mode_is_refused(d, shared_dir):
    for mode in ("rshared,rslave", "ro,rw", "shared,Q"):
        r = d.cli("run", "--rm", "-v", f"{shared_dir}:/mnt:{mode}", "busybox", "true")
        assert r.returncode != 0
        assert f"Invalid mode for volumes: {mode}" in r.stderr.decode()
        status, body = api(
            d,
            "POST",
            "/v1.24/containers/create",
            {"Image": "busybox", "Cmd": ["true"], "HostConfig": {"Binds": [f"{shared_dir}:/mnt:{mode}"]}},
        )
        assert status == 400
        assert b"Invalid bind mode" in body


# -- today's clients (native driver) ------------------------------------------------------------------


@pytest.fixture(scope="module")
def native(busybox_tar):
    with own_daemon(busybox_tar, prefix="ldp-") as daemon:
        yield daemon


def _docker_cli(native: Daemon, *argv: str) -> subprocess.CompletedProcess:
    require(os.access(DOCKER_CLI, os.X_OK), f"the docker CLI 28 is not installed at {DOCKER_CLI}")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    env.update({"DOCKER_HOST": native.host, "DOCKER_CONFIG": "/tmp/lxc-docker-test-cli-config"})
    return subprocess.run([DOCKER_CLI, *argv], capture_output=True, env=env, timeout=120)


def test_docker_cli_28_rshared(native, shared_dir, private_dir):
    r = _docker_cli(
        native,
        "run",
        "--rm",
        "--privileged",
        "-v",
        f"{shared_dir}:/mnt:rshared",
        "busybox",
        "sh",
        "-c",
        MOUNT_SUB,
    )
    assert r.returncode == 0, r.stderr
    assert _is_mountpoint(os.path.join(shared_dir, "sub"))

    # (`--mount` is a 1.25 field, HostConfig.Mounts, which a 1.24 daemon ignores as Docker 1.12 did.)
    r = _docker_cli(native, "run", "-d", "-v", f"{shared_dir}:/mnt:rslave", "busybox", "sleep", "600")
    assert r.returncode == 0, r.stderr
    cid = r.stdout.decode().strip()
    try:
        r = _docker_cli(native, "inspect", "-f", "{{range .Mounts}}{{.Propagation}}{{end}}", cid)
        assert r.stdout.decode().strip() == "rslave"
    finally:
        native.cli("rm", "-f", cid)

    # At API 1.24 CLI 28 removes a --rm container itself once it sees `die`: a start refused before
    # the exec driver runs publishes `die` too, so the CLI ends (it waited forever) and the
    # container is gone.
    r = _docker_cli(
        native, "run", "--rm", "--name", "refused", "-v", f"{private_dir}:/mnt:rshared", "busybox", "true"
    )
    try:
        assert r.returncode != 0
        assert "is not a shared mount." in r.stderr.decode()
        assert native.out("ps", "-a", "-q", "--no-trunc").split() == []
    finally:
        native.cli("rm", "-f", "refused")


def test_sdk_binds_with_rshared(native, shared_dir):
    docker = require_module("docker", "pip install docker; scripts/setup-dev.sh installs it")
    client = docker.APIClient(base_url=native.host, version="1.24", timeout=60)
    try:
        host_config = client.create_host_config(
            binds={shared_dir: {"bind": "/mnt", "mode": "rw,rshared"}}, privileged=True
        )
        c = client.create_container(
            "busybox", ["sh", "-c", MOUNT_SUB], volumes=["/mnt"], host_config=host_config
        )
        try:
            client.start(c)
            assert client.wait(c)["StatusCode"] == 0
            (mount,) = client.inspect_container(c)["Mounts"]
            assert (mount["Mode"], mount["RW"], mount["Propagation"]) == ("rw,rshared", True, "rshared")
            assert _is_mountpoint(os.path.join(shared_dir, "sub"))
        finally:
            client.remove_container(c, force=True)
    finally:
        client.close()
