"""Fixtures for tests that run a real daemon: root only, each with its own root, socket and pidfile."""

from __future__ import annotations

import os
import tempfile

import pytest

from lib.bridge import own_bridge
from lib.busybox import write_rootfs_tar
from lib.clients import real_cli, sdk  # noqa: F401 (fixtures: the docker CLI 28, the docker SDK)
from lib.daemon import Daemon, remove_base

if os.geteuid() != 0:
    pytest.skip("integration tests need root (mounts, namespaces, device nodes)", allow_module_level=True)


@pytest.fixture(scope="session")
def busybox_tar(tmp_path_factory) -> str:
    cache = os.environ.get("LXC_DOCKER_TEST_CACHE") or str(tmp_path_factory.mktemp("cache"))
    os.makedirs(cache, exist_ok=True)
    return write_rootfs_tar(os.path.join(cache, "busybox-rootfs.tar"))


def _base_dir() -> str:
    # Short paths: unix socket paths are limited to 108 bytes.
    return tempfile.mkdtemp(prefix="ldt-", dir="/tmp")


@pytest.fixture
def daemon_factory():
    started: list[Daemon] = []

    def make(*extra_args: str, base: str | None = None) -> Daemon:
        d = Daemon(base or _base_dir(), list(extra_args))
        started.append(d)
        return d

    yield make
    for d in started:
        try:
            d.stop()
        except Exception:
            d.kill()
    for d in started:
        d.kill_keeper()
        _cleanup_root(d.base)


@pytest.fixture(scope="module")
def daemon(busybox_tar):
    d = Daemon(_base_dir()).start()
    d.cli("import", "-", "busybox", input=open(busybox_tar, "rb").read(), check=True)
    yield d
    try:
        d.stop()
    finally:
        d.kill()
        d.kill_keeper()
        _cleanup_root(d.base)


def _cleanup_root(base: str) -> None:
    remove_base(base)  # unmounts what a crashed daemon left under this root, then deletes it


@pytest.fixture(scope="module")
def test_bridge():
    """A bridge of the tests' own on a free private /24, removed afterwards with its iptables chains."""
    with own_bridge("ldt") as name:
        yield name


@pytest.fixture(scope="module")
def net_daemon(busybox_tar, test_bridge):
    d = Daemon(_base_dir(), ["-b", test_bridge]).start()
    d.cli("import", "-", "busybox", input=open(busybox_tar, "rb").read(), check=True)
    yield d
    try:
        d.stop()
    finally:
        d.kill()
        d.kill_keeper()
        _cleanup_root(d.base)
