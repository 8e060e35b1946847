"""execution/pidreap.kill_and_reap on real processes: a running child is killed and reaped (no zombie
left, not even a waitable child), one that exited already is reaped, one that is not ours is killed
and left to its parent; the pidfd is closed every time."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import threading

import pytest

from lxc_docker.execution.pidreap import kill_and_reap


def _assert_no_child(pid: int) -> None:
    # ECHILD: no child of ours with this pid at all, neither running nor a zombie waiting to be reaped.
    with pytest.raises(ChildProcessError):
        os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG)
    assert not os.path.exists(f"/proc/{pid}")


def _assert_closed(fd: int) -> None:
    with pytest.raises(OSError) as e:
        os.fstat(fd)
    assert e.value.errno == errno.EBADF


def test_a_running_child_is_killed_and_reaped():
    proc = subprocess.Popen(["sleep", "600"])
    pidfd = os.pidfd_open(proc.pid)
    try:
        # In a thread: were the signal not sent, the wait would block until the finally below kills.
        reaper = threading.Thread(target=kill_and_reap, args=(pidfd,), daemon=True)
        reaper.start()
        reaper.join(30)
        assert not reaper.is_alive(), "kill_and_reap did not kill the process"
        _assert_no_child(proc.pid)
        _assert_closed(pidfd)
    finally:
        if os.path.exists(f"/proc/{proc.pid}"):
            proc.kill()
            proc.wait()


def test_a_child_that_exited_already_is_reaped():
    proc = subprocess.Popen(["true"])
    pidfd = os.pidfd_open(proc.pid)
    # Wait for the exit without reaping it: a zombie, which only kill_and_reap's waitid clears.
    os.waitid(os.P_PIDFD, pidfd, os.WEXITED | os.WNOWAIT)
    with open(f"/proc/{proc.pid}/stat") as f:
        assert f.read().rsplit(")", 1)[1].split()[0] == "Z"
    kill_and_reap(pidfd)
    _assert_no_child(proc.pid)
    _assert_closed(pidfd)


def test_a_process_that_is_not_our_child_is_killed_and_left_to_its_parent():
    # The shell's background sleep is the shell's child, not ours (ECHILD for us): the SIGKILL still
    # reaches it, and the shell's `wait` reports it (128 + 9).
    shell = subprocess.Popen(["sh", "-c", "sleep 600 & echo $!; wait $!; exit $?"], stdout=subprocess.PIPE)
    guard = -1  # a pidfd of our own on the sleep, to kill it should the test fail
    try:
        grandchild = int(shell.stdout.readline())
        pidfd = os.pidfd_open(grandchild)
        guard = os.dup(pidfd)
        kill_and_reap(pidfd)
        _assert_closed(pidfd)
        assert shell.wait(30) == 137
    finally:
        if guard >= 0:
            try:
                signal.pidfd_send_signal(guard, signal.SIGKILL)
            except ProcessLookupError:
                pass
            os.close(guard)
        if shell.poll() is None:
            shell.kill()
            shell.wait()
        shell.stdout.close()
