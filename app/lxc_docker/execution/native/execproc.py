"""`docker exec` with the native driver, daemon side: spawn `init exec` (`nsexec.py`) with a
duplicate of the pidfd of the container's PID 1, put its process in the container's cgroups, let it
exec, then wait for it as its parent.

As with a container's PID 1 there is no helper process: the first process of `init exec` exits
once it has forked the child inside the container's pid namespace, and the kernel re-parents the
child to the daemon, a child subreaper, which reaps it through a pidfd (never waitpid(-1), see
driver.py). When the container's PID 1 exits the kernel kills every process of its pid namespace,
exec'd ones included, so a stopped container leaves no exec behind.
"""

from __future__ import annotations

import dataclasses
import errno
import marshal
import os
import socket
import subprocess
import sys
from collections.abc import Callable

from lxc_docker.execution.base import Command, ContainerStartError, ExecProcess, Stdio
from lxc_docker.execution.native import cgroups as cgroups_mod
from lxc_docker.execution.native.driver import START_TIMEOUT, _exit_code, _start_error
from lxc_docker.execution.pidreap import kill_and_reap
from lxc_docker.sysutil.selfexec import init_argv

_FD_SPACE = socket.CMSG_SPACE(4 * 4)


def _receive(sock: socket.socket) -> tuple[bytes | None, list[int]]:
    """One record and the descriptors that came with it; (None, []) at EOF."""
    data, ancdata, _flags, _ = sock.recvmsg(65536, _FD_SPACE)
    fds: list[int] = []
    for level, kind, payload in ancdata:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            usable = len(payload) - len(payload) % 4
            fds += [int.from_bytes(payload[i : i + 4], sys.byteorder) for i in range(0, usable, 4)]
    if not data and not fds:
        return None, []
    return data, fds


def run(
    cgroups: cgroups_mod.Cgroups,
    parent: str,
    command: Command,
    process: ExecProcess,
    stdio: Stdio,
    container_pidfd: int,
    on_start: Callable[[int], None],
    on_terminal: Callable[[int], None] | None = None,
) -> int:
    """ExecDriver.exec for the native driver; takes ownership of `container_pidfd` (a duplicate)."""
    if not process.args:
        os.close(container_pidfd)
        raise ContainerStartError("No exec command specified", 1)
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    proc: subprocess.Popen | None = None
    pid, pidfd = 0, -1
    try:
        try:
            devnull = process.tty or stdio.stdin is None
            proc = subprocess.Popen(
                [*init_argv(), "exec", str(theirs.fileno()), str(container_pidfd)],
                pass_fds=(theirs.fileno(), container_pidfd),
                stdin=subprocess.DEVNULL if devnull else stdio.stdin,
                stdout=subprocess.DEVNULL if process.tty else stdio.stdout,
                stderr=subprocess.DEVNULL if process.tty else stdio.stderr,
                close_fds=True,
                start_new_session=True,
            )
        finally:
            theirs.close()
            os.close(container_pidfd)
        ours.settimeout(START_TIMEOUT)
        ours.sendall(marshal.dumps({"container": command.to_dict(), "process": dataclasses.asdict(process)}))
        cgroup_error = None
        try:
            # As for a container's init: every cgroup but memory now, so the interpreter's start-up
            # does not count against `-m`; the child joins the memory cgroup before it may exec.
            cgroups.add(parent, command.id, proc.pid, memory=False)
        except OSError as e:
            if e.errno != errno.ESRCH:
                cgroup_error = e
        message, _ = _receive(ours)
        status = proc.wait()  # the first process exits right after its message
        if message and message.startswith(b"err "):
            raise _start_error(message.rstrip(b"\n"))
        if not message or not message.startswith(b"pid "):
            raise ContainerStartError(f"the exec process failed (exit status {status})", 1)
        pid = int(message[4:])
        pidfd = os.pidfd_open(pid)
        if cgroup_error is not None:
            raise ContainerStartError(f"joining the container's cgroups: {cgroup_error}", 1)
        try:
            cgroups.add(parent, command.id, pid)
        except OSError as e:
            raise ContainerStartError(f"joining the container's cgroups: {e}", 1)
        ours.sendall(b"go")
        while True:
            message, fds = _receive(ours)
            if message is None:
                break  # closed by the exec: the program runs
            if message == b"pty" and fds and on_terminal is not None:
                on_terminal(fds.pop(0))
            for fd in fds:
                os.close(fd)
            if message == b"pty":
                ours.sendall(b"ok")  # the terminal is ours and sized: the process may go on
            if message.startswith(b"err "):
                raise _start_error(message.rstrip(b"\n"))
    except BaseException as e:
        if pidfd >= 0:
            kill_and_reap(pidfd)
        elif proc is not None and proc.returncode is None:
            proc.kill()
            proc.wait()
        if isinstance(e, TimeoutError):
            raise ContainerStartError("the exec process did not answer in time", 1)
        raise
    finally:
        ours.close()
    try:
        on_start(pid)
    except BaseException:
        kill_and_reap(pidfd)
        raise
    try:
        return _exit_code(os.waitid(os.P_PIDFD, pidfd, os.WEXITED))
    finally:
        os.close(pidfd)
