"""What the registry integration tests (test_registry_v1.py, test_registry_v2.py,
test_registry_push_digests.py) share: Debian's `docker-registry` for a module, a fresh daemon, the
check that a stopped daemon left a clean store, and a pull through a proxy that damages the layer.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest

from lib.daemon import docker_cmd, our_env
from lib.regproxy import RegistryProxy
from lib.require import require_tools
from lib.v2registry import BINARY, Registry

# mode, times, ok: flipped or cut every time the pull fails; cut once it resumes with a Range request.
DAMAGES = pytest.mark.parametrize(
    "mode,times,ok", [("flip", 1_000_000, False), ("cut", 1_000_000, False), ("cut", 1, True)]
)


def distribution_registry() -> Iterator[Registry]:
    """Debian's docker-registry, started for as long as the generator is not exhausted (a fixture
    body: `yield from distribution_registry()`)."""
    require_tools(BINARY, hint="apt-get install docker-registry (scripts/setup-dev.sh)")
    reg = Registry().start()
    try:
        yield reg
    finally:
        reg.stop()


def fresh(daemon_factory):
    return daemon_factory().start()


def check_clean(d) -> None:
    """Stop the daemon, then `docker -d --check` its graph: nothing half-written left behind."""
    d.stop()
    result = subprocess.run(
        docker_cmd() + ["-d", "--check", "-g", d.root, "-p", d.pidfile],
        capture_output=True,
        env=our_env(),
        timeout=60,
    )
    assert result.returncode == 0, (result.stdout, result.stderr)


def check_damaged_pull(
    daemon_factory,
    registry_port: int,
    ref: str,
    mode: str,
    times: int,
    ok: bool,
    errors: tuple[str, ...],
    hide_v2: bool = False,
) -> None:
    """Pull `ref` (a repository:tag) into a fresh daemon through a proxy that damages the layer
    200 kB in (the busybox layer is over 500 kB; configs and manifests are never damaged): the pull
    either succeeds and the image runs, or fails with one of `errors` and leaves no image."""
    proxy = RegistryProxy(registry_port, hide_v2=hide_v2, mode=mode, after=200_000, times=times)
    try:
        b = fresh(daemon_factory)
        via = f"{proxy.host}/{ref}"
        result = b.cli("pull", via, timeout=120)
        assert proxy.faults >= 1
        if ok:
            assert result.returncode == 0, result.stderr
            assert b.out("run", "--rm", via).strip() == "pushed"
        else:
            assert result.returncode == 1
            err = result.stderr.decode()
            assert any(e in err for e in errors), err
            assert b.out("images", "-q", "-a") == ""
        check_clean(b)
    finally:
        proxy.close()
