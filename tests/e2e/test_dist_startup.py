"""How the shipped programs start, and that every path still works after what makes them start fast.

The zipapp serves the client from precompiled modules inside the archive (no shiv bootstrap, no
extraction) and hands only `-d` to shiv; the one-file program unpacks its PyInstaller folder once
into a cache and then execs it; pip installs a plain launcher script. Each is checked for what it
does (which modules a start imports, what lands where), never for how long it takes.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import e2e_support as e2e
import pytest

from lib.bridge import own_bridge

# What the zipapp's shebang runs after `/usr/bin/python3 -IS`; the test runs the same with -X importtime.
ENTRY_CODE = "import sys;del sys.argv[0];sys.path.insert(0,sys.argv[0]);import lxc_docker_zipapp"


@pytest.fixture
def bridge():
    """A bridge of the test's own on a free private /24 (never docker0), removed afterwards."""
    with own_bridge("lds") as name:
        yield name


def imported(cmd: list[str], env: dict[str, str]) -> set[str]:
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)
    assert "import time:" in result.stderr, result.stderr
    return {
        line.split("|")[2].strip() for line in result.stderr.splitlines() if line.startswith("import time:")
    }


def daemon_with_network(kind: str, base: Path, shiv_root: str, bridge: str, env: dict[str, str]) -> None:
    """`docker -d` from the artifact on the test's bridge, then a container whose eth0 is on it."""
    daemon = e2e.ArtifactDaemon(kind, base, shiv_root, ["-b", bridge])
    daemon.env.update(env)
    daemon.start()
    try:
        from lib.busybox import write_rootfs_tar

        version = daemon.cli("version")
        assert version.returncode == 0 and f"Server version: {e2e.version()}".encode() in version.stdout
        with open(write_rootfs_tar(str(base / "busybox.tar")), "rb") as f:
            assert daemon.cli("import", "-", "busybox", input=f.read()).returncode == 0
        # The container's init is the artifact run again (sysutil/selfexec.py).
        ran = daemon.cli("run", "--rm", "busybox", "ip", "-4", "addr", "show", "eth0")
        assert ran.returncode == 0, f"{ran.stderr.decode()}\n{daemon.log()}"
        assert b"inet 10." in ran.stdout
    finally:
        daemon.stop()


def test_zipapp_client_needs_neither_shiv_nor_extraction(dist, tmp_path):
    zipapp = str(e2e.artifact("zipapp"))
    env = {"SHIV_ROOT": str(tmp_path / "shiv"), "PATH": "/usr/bin:/bin"}
    cmd = ["/usr/bin/python3", "-X", "importtime", "-IS", "-c", ENTRY_CODE, zipapp]
    modules = imported([*cmd, "-H", "unix:///nonexistent.sock", "version"], env)
    assert "lxc_docker.client.transport" in modules
    # shiv's bootstrap and what a heavy client would pull in.
    assert not modules & {"_bootstrap", "zipfile", "pathlib", "runpy", "json", "re", "typing", "socket"}
    assert not (tmp_path / "shiv").exists()
    with open(zipapp, "rb") as f:
        assert f.readline() == f"#!/usr/bin/python3 -ISc{ENTRY_CODE}\n".encode()


def test_zipapp_daemon_runs_a_networked_container(dist, short_tmp, bridge):
    """`-d` goes through shiv (extracted libraries); the client and the init do not."""
    shiv_root = str(short_tmp / "shiv")
    daemon_with_network("zipapp", short_tmp, shiv_root, bridge, {})
    assert any(p.name.startswith(f"docker-{e2e.version()}.pyz_") for p in Path(shiv_root).iterdir())


def test_binary_unpacks_once_into_its_cache(dist, short_tmp, bridge):
    cache = short_tmp / "cache"
    env = {"LXC_DOCKER_CACHE": str(cache)}
    binary = str(e2e.artifact("binary"))
    first = subprocess.run([binary, "-v"], capture_output=True, text=True, env={**os.environ, **env})
    assert first.stdout == f"Docker version {e2e.version()}, build lxc-docker\n", first.stderr
    (folder,) = cache.iterdir()
    assert folder.name.startswith(f"docker-{e2e.version()}-") and (folder / "docker").is_file()
    # Later starts exec the cached program: the daemon is that process, and so is its init.
    daemon_with_network("binary", short_tmp, str(short_tmp / "shiv"), bridge, env)
    assert [p.name for p in cache.iterdir()] == [folder.name]


def test_binary_without_a_writable_cache_leaves_nothing_behind(dist, short_tmp):
    """A user whose HOME cannot hold a cache: unpacked into TMPDIR for this run, then removed."""
    short_tmp.chmod(0o755)
    binary = short_tmp / "docker"
    binary.write_bytes(e2e.artifact("binary").read_bytes())
    binary.chmod(0o755)
    tmpdir = short_tmp / "tmp"
    tmpdir.mkdir(mode=0o1777)
    tmpdir.chmod(0o1777)
    env = {"PATH": "/usr/bin:/bin", "HOME": "/nonexistent", "TMPDIR": str(tmpdir)}
    result = subprocess.run(
        ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", str(binary), "-v"],
        capture_output=True,
        text=True,
        env=env,
        cwd="/",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"Docker version {e2e.version()}, build lxc-docker\n"
    assert list(tmpdir.iterdir()) == []


def test_pip_launcher_imports_no_re(dist, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run(["/usr/bin/python3", "-m", "venv", str(venv)], check=True)
    wheels = e2e.PACKAGING / "build" / "wheels"
    subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", "--no-index", "--find-links", str(wheels), "lxc-docker"],
        check=True,
    )
    launcher = venv / "bin" / "docker"
    assert launcher.read_text().splitlines()[0] == f"#!{venv / 'bin' / 'python3'}"
    modules = imported([str(venv / "bin" / "python3"), "-X", "importtime", str(launcher), "-v"], {})
    assert "lxc_docker.main" in modules and "re" not in modules
