"""A start or an exec that fails once its process runs: the driver kills that process and reaps it
(execution/pidreap.py), below the daemon, with the drivers that reap through a pidfd themselves.

The daemon's side is played by the test: it is the drivers' child subreaper, so a process the driver
failed to reap would be a zombie child of the test's own (waitable here), and one it failed to kill
would still be in /proc."""

from __future__ import annotations

import os
import signal
import subprocess
import threading

import pytest

from lib.drivers import DRIVERS, require_driver
from lib.poll import poll
from lxc_docker.execution.base import Command, ExecProcess, Stdio
from lxc_docker.execution.select import new_driver

pytestmark = pytest.mark.root

# The lxc driver leaves PID 1 to lxc-start and exec to lxc-attach: it has no pidfd of its own.
PIDFD_DRIVERS = [(name, args) for name, args in DRIVERS if name != "lxc"]
ENV = ["PATH=/bin:/usr/bin:/sbin"]


class Refused(Exception):
    """What the test's on_start raises: the daemon refusing a process once it runs."""


@pytest.fixture(params=PIDFD_DRIVERS, ids=[name for name, _ in PIDFD_DRIVERS])
def setup(request, busybox_tar, tmp_path):
    """(driver name, the driver, a busybox root filesystem, /dev/null open for writing)."""
    name, args = request.param
    require_driver(name)
    rootfs = tmp_path / "rootfs"
    rootfs.mkdir()
    subprocess.run(["tar", "-xf", busybox_tar, "-C", str(rootfs)], check=True)
    (tmp_path / "root").mkdir()  # the daemon's root, which exists before any driver starts
    kind = args[args.index("-e") + 1] if "-e" in args else "native"
    runtime = args[args.index("--oci-runtime") + 1] if "--oci-runtime" in args else "runc"
    driver = new_driver(kind, "docker", str(tmp_path / "root"), oci_runtime=runtime)
    null = os.open(os.devnull, os.O_WRONLY | os.O_CLOEXEC)
    try:
        yield name, driver, str(rootfs), null
    finally:
        os.close(null)
        close = getattr(driver, "close", None)  # what keeps containers (the native keeper)
        if close is not None:
            close()


def _command(rootfs: str, *argv: str) -> Command:
    return Command(id=os.urandom(32).hex(), rootfs=rootfs, entrypoint=argv[0], args=list(argv[1:]), env=ENV)


def _refuse(seen: list[int]):  # noqa: ANN202
    def on_start(pid: int) -> None:
        seen.append(pid)
        raise Refused(f"refused {pid}")

    return on_start


def _assert_killed_and_reaped(pid: int) -> None:
    # ECHILD: no child of ours with this pid, neither running nor a zombie; and no process at all.
    with pytest.raises(ChildProcessError):
        os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG)
    assert not os.path.exists(f"/proc/{pid}")


# The native driver's PID 1 is reaped by pid1driver.py, not by execution/pidreap.py.
OCI_DRIVERS = [(name, args) for name, args in PIDFD_DRIVERS if name.startswith("oci")]


@pytest.mark.parametrize("setup", OCI_DRIVERS, ids=[name for name, _ in OCI_DRIVERS], indirect=True)
def test_a_start_refused_once_pid1_runs_kills_and_reaps_it(setup):
    name, driver, rootfs, null = setup
    command = _command(rootfs, "sleep", "1000")
    seen: list[int] = []
    with pytest.raises(Refused):
        driver.run(command, Stdio(None, null, null), on_start=_refuse(seen))
    (pid,) = seen
    _assert_killed_and_reaped(pid)
    # And the rest of the start is undone: no runtime state, no bundle.
    assert driver.runtime.state(command.id) is None
    assert not os.path.exists(os.path.join(driver.bundles, command.id))


def test_an_exec_refused_once_it_runs_is_killed_and_reaped(setup):
    _, driver, rootfs, null = setup
    command = _command(rootfs, "sleep", "1000")
    pids: list[int] = []
    started = threading.Event()

    def on_start(pid: int) -> None:
        pids.append(pid)
        started.set()

    codes: list[int] = []

    def run() -> None:
        codes.append(driver.run(command, Stdio(None, null, null), on_start=on_start))

    runner = threading.Thread(target=run, daemon=True)
    runner.start()
    try:
        poll(started.is_set, timeout=30, what="the container's start")
        seen: list[int] = []
        process = ExecProcess(args=["sleep", "1000"], env=ENV)
        with pytest.raises(Refused):
            driver.exec(command, process, Stdio(None, null, null), on_start=_refuse(seen))
        (pid,) = seen
        assert pid != pids[0]
        _assert_killed_and_reaped(pid)
        assert os.path.exists(f"/proc/{pids[0]}"), "the container went with its exec"
    finally:
        driver.kill(command, signal.SIGKILL)
        runner.join(30)
    assert not runner.is_alive()
    assert codes == [128 + signal.SIGKILL]
