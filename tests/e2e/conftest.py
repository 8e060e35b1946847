"""Fixtures of the distribution tests (tests/e2e): slow, root only, run by scripts/e2e.sh.

They build the release (packaging/build.sh), check it with each ecosystem's tools, and install it
into fresh Debian roots. scripts/e2e.sh installs the tools and sets LXC_DOCKER_E2E=1; without it
these tests skip (scripts/test.sh does not collect them at all).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import e2e_support as e2e  # noqa: E402

HERE = Path(__file__).resolve().parent
if os.environ.get("LXC_DOCKER_E2E") != "1":
    SKIP_REASON = "distribution tests run with scripts/e2e.sh (or LXC_DOCKER_E2E=1)"
elif os.geteuid() != 0:
    SKIP_REASON = "distribution tests need root (chroot, mounts, packages)"
else:
    SKIP_REASON = ""


def pytest_collection_modifyitems(config, items):
    if not SKIP_REASON:
        return
    for item in items:
        if HERE in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.skip(reason=SKIP_REASON))


def require_tools(*tools: str) -> None:
    missing = [t for t in tools if not shutil.which(t)]
    if missing:
        pytest.fail(f"missing tools: {', '.join(missing)} (scripts/e2e.sh installs them)")


@pytest.fixture(scope="session")
def dist() -> Path:
    return e2e.ensure_dist()


@pytest.fixture(scope="session")
def base_root() -> Path:
    require_tools("debootstrap", "chroot", "apt-get")
    return e2e.base_root()


@pytest.fixture
def fresh_root(base_root):
    """A writable Debian 12 root of its own, on the cached tree; unmounted and removed afterwards."""
    roots = []

    def make() -> e2e.Root:
        root = e2e.Root(base_root, Path(tempfile.mkdtemp(prefix="e2e-root-", dir="/tmp")))
        roots.append(root)
        return root

    yield make
    for root in roots:
        root.close()


@pytest.fixture
def release(dist):
    """Starts release servers on 127.0.0.1 (see e2e.ReleaseServer); all stopped afterwards."""
    servers = []

    def serve(**kwargs) -> e2e.ReleaseServer:
        server = e2e.ReleaseServer(dist, **kwargs)
        servers.append(server)
        return server

    yield serve
    for server in servers:
        server.close()


@pytest.fixture(scope="session")
def shiv_root(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp("shiv-root"))


@pytest.fixture
def short_tmp():
    # Unix socket paths are limited to 108 bytes; pytest's tmp_path can be longer.
    path = Path(tempfile.mkdtemp(prefix="e2e-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)
