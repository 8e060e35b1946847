"""The native execution driver, daemon side: spawn the init (`init.py`), put its PID 1 in the
container's cgroups and network, let it exec, then wait for it as its parent.

There is no helper process per container: the init's first process exits as soon as it has forked
PID 1, which the kernel then re-parents to the daemon because the daemon is a child subreaper. The
daemon reaps PID 1 itself (real exit status, 128+N for a signal) and signals it through a pidfd, so
a recycled pid is never hit. The init is a fresh single-threaded process, so the namespaces and the
fork happen away from the daemon's threads.

Being a subreaper is process-wide: any other orphaned descendant of the daemon (a helper that
daemonizes) becomes the daemon's child too and stays a zombie unless someone reaps it by pid. Never
reap with waitpid(-1) in the daemon: it would steal the containers' exit statuses.
"""

from __future__ import annotations

import errno
import logging
import marshal
import os
import select
import signal
import socket
import subprocess
import threading
from collections.abc import Callable

from lxc_docker.errors import DockerError, DriverNotSupported
from lxc_docker.execution.base import Command, ContainerStartError, ExecProcess, Stdio
from lxc_docker.execution.native import cgroups as cgroups_mod
from lxc_docker.sysutil import syscalls
from lxc_docker.sysutil.selfexec import init_argv

log = logging.getLogger(__name__)

# How long the init may take to report its pid and then to exec; far above the ~30 ms it needs,
# it only bounds a thread stuck on a hung mount (NFS volume) or a wedged kernel.
START_TIMEOUT = 60.0


class _Running:
    __slots__ = ("pid", "pidfd", "parent")

    def __init__(self, pid: int, pidfd: int, parent: str) -> None:
        self.pid, self.pidfd, self.parent = pid, pidfd, parent


class _Lines:
    """Newline-terminated messages from the init, read off the socket."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock, self.buffer = sock, b""

    def next(self) -> bytes | None:
        """The next message, or None at EOF (the exec closed the init's end)."""
        while b"\n" not in self.buffer:
            chunk = self.sock.recv(4096)
            if not chunk:
                return None
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line

    def ready(self) -> bytes | None:
        """A message already received, without waiting for one."""
        timeout = self.sock.gettimeout()
        self.sock.settimeout(0)
        try:
            while b"\n" not in self.buffer:
                chunk = self.sock.recv(4096)
                if not chunk:
                    break
                self.buffer += chunk
        except OSError:  # BlockingIOError: nothing more yet
            pass
        finally:
            self.sock.settimeout(timeout)
        if b"\n" not in self.buffer:
            return None
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line


def _start_error(line: bytes) -> ContainerStartError:
    # b"err <exit code> <message>", see init.py
    _, code, message = (line.decode("utf-8", "replace").split(" ", 2) + ["", ""])[:3]
    return ContainerStartError(message, int(code) if code.isdigit() else 1)


def _exit_code(result: os.waitid_result) -> int:
    if result.si_code == os.CLD_EXITED:
        return result.si_status
    return 128 + result.si_status  # killed or dumped: the shell's convention, as Docker reports it


class NativeDriver:
    """ExecDriver with kernel primitives (see execution/base.py for the contract of each method)."""

    name = "native"

    def __init__(self, cgroup_parent: str = "docker", cgroups: cgroups_mod.Cgroups | None = None) -> None:
        try:
            os.close(os.pidfd_open(os.getpid()))
        except OSError as e:
            raise DriverNotSupported(f"the native execution driver needs Linux 5.4 or newer (pidfd): {e}")
        # Orphans of our children become our children: that is how each container's PID 1 gets to us.
        syscalls.prctl(syscalls.PR_SET_CHILD_SUBREAPER, 1)
        self.cgroup_parent = cgroup_parent
        self.cgroups = cgroups if cgroups is not None else cgroups_mod.detect()
        self._lock = threading.Lock()
        self._running: dict[str, _Running] = {}

    # -- the ExecDriver interface ---------------------------------------------------------------

    def run(
        self,
        command: Command,
        stdio: Stdio,
        on_start: Callable[[int], None],
        on_created: Callable[[int], None] | None = None,
    ) -> int:
        pid = self.start(command, stdio, on_created)
        try:
            on_start(pid)
        except BaseException:
            self.kill(command, signal.SIGKILL)
            self.wait(command.id)
            raise
        return self.wait(command.id)

    def exec(
        self,
        command: Command,
        process: ExecProcess,
        stdio: Stdio,
        on_start: Callable[[int], None],
        on_terminal: Callable[[int], None] | None = None,
    ) -> int:
        from lxc_docker.execution.native import execproc

        with self._lock:
            entry = self._running.get(command.id)
            # A duplicate, taken under the lock that wait() closes the original under.
            pidfd = os.dup(entry.pidfd) if entry is not None else -1
        if entry is None:
            raise ContainerStartError(f"Container {command.id} is not running", 1)
        return execproc.run(self.cgroups, entry.parent, command, process, stdio, pidfd, on_start, on_terminal)

    def kill(self, command: Command, sig: int) -> None:
        with self._lock:
            entry = self._running.get(command.id)
            if entry is None:
                return
            try:
                # Under the lock: wait() closes the pidfd under it too, so it is never a stale number.
                signal.pidfd_send_signal(entry.pidfd, sig)
            except ProcessLookupError:
                pass

    def pids(self, id: str) -> list[int]:
        return self.cgroups.procs(self._parent(id), id)

    def adopt(self, command: Command, pid: int) -> int | None:
        parent = command.cgroup_parent or self.cgroup_parent
        try:
            pidfd = os.pidfd_open(pid)
        except ProcessLookupError:
            self.cleanup(command.id, parent)
            return None
        # Checked after opening the pidfd: from here on `pid` cannot be recycled under us.
        if not cgroups_mod.pid_in_container(pid, command.id):
            os.close(pidfd)
            self.cleanup(command.id, parent)
            return None
        with self._lock:
            self._running[command.id] = _Running(pid, pidfd, parent)
        poller = select.poll()
        poller.register(pidfd, select.POLLIN)
        while not poller.poll():
            pass
        code = None
        try:
            # Our own child only if this process started it (or inherited it as subreaper).
            code = _exit_code(os.waitid(os.P_PIDFD, pidfd, os.WEXITED))
        except ChildProcessError:
            pass
        self._forget(command.id)
        self.cleanup(command.id, parent)
        return code

    def is_alive(self, id: str, pid: int) -> bool:
        return cgroups_mod.pid_in_container(pid, id)

    def cleanup(self, id: str, parent: str | None = None) -> None:
        """Remove the cgroups of container `id`, killing anything still in them."""
        try:
            self.cgroups.remove(parent or self._parent(id), id)
        except OSError as e:
            log.warning("removing the cgroups of %s: %s", id[:12], e)

    # -- the two halves of run() ------------------------------------------------------------------

    def start(self, command: Command, stdio: Stdio, on_created: Callable[[int], None] | None = None) -> int:
        """Start the container and return the host pid of its PID 1 once its command runs.

        `on_created(pid)` runs once PID 1 exists in its namespaces and before it may exec: the daemon
        configures the container's network there. An exception from it aborts the start."""
        parent = command.cgroup_parent or self.cgroup_parent
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        proc: subprocess.Popen | None = None
        pid, pidfd, made_cgroups = 0, -1, False
        try:
            try:
                proc = subprocess.Popen(
                    [*init_argv(), str(theirs.fileno())],
                    pass_fds=(theirs.fileno(),),
                    stdin=subprocess.DEVNULL if stdio.stdin is None else stdio.stdin,
                    stdout=stdio.stdout,
                    stderr=stdio.stderr,
                    close_fds=True,
                    start_new_session=True,  # a ^C meant for a foreground daemon is not the container's
                )
            finally:
                theirs.close()
            ours.settimeout(START_TIMEOUT)
            payload = marshal.dumps(command.to_dict())
            ours.sendall(b"%d\n" % len(payload) + payload)
            made_cgroups = True
            cgroup_error = None
            try:
                self.cgroups.create(parent, command.id, command.resources, command.privileged)
                # Joining a cgroup takes a kernel-wide lock whose first taker may wait for an RCU grace
                # period (0.1 to 20 ms): done now, for the init's first process, it overlaps the
                # interpreter's start-up, and PID 1 inherits it. Not the memory cgroup: the start-up's
                # allocations must not count against `-m` (Docker 0.9 allows limits down to 512k).
                self.cgroups.add(parent, command.id, proc.pid, memory=False)
            except OSError as e:
                # Raised once PID 1 is known: stopping the init before it forks could orphan a PID 1
                # we never hear of (a zombie of ours forever). ESRCH only means the first process
                # is gone already, and PID 1 joins every cgroup below anyway.
                if e.errno != errno.ESRCH:
                    cgroup_error = e
            lines = _Lines(ours)
            line = lines.next()
            status = proc.wait()  # the first process exits right after its message
            if line and line.startswith(b"err "):
                raise _start_error(line)
            if not line or not line.startswith(b"pid "):
                raise ContainerStartError(f"the container's init failed (exit status {status})", 1)
            pid = int(line[4:])
            pidfd = os.pidfd_open(pid)
            if cgroup_error:
                raise ContainerStartError(f"setting up the container's cgroups: {cgroup_error}", 1)
            try:
                self.cgroups.add(parent, command.id, pid)
                if command.network and command.network.interface:
                    self._move_interface(command.network.interface, pid)
                if on_created is not None:
                    on_created(pid)
            except (OSError, ContainerStartError, DockerError) as e:
                # PID 1 sets up its filesystem meanwhile; if that failed, its message is the one to give.
                failure = lines.ready()
                if failure:
                    raise _start_error(failure)
                if isinstance(e, ContainerStartError):
                    raise
                if isinstance(e, DockerError):
                    raise ContainerStartError(str(e), 1)
                raise ContainerStartError(f"setting up the container's cgroups or network: {e}", 1)
            try:
                ours.sendall(b"go\n")
            except OSError:
                pass  # PID 1 failed and closed its end: its message is waiting below
            line = lines.next()
            if line is not None:
                raise _start_error(line)
        except BaseException as e:
            if pidfd >= 0:
                try:
                    signal.pidfd_send_signal(pidfd, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                try:
                    os.waitid(os.P_PIDFD, pidfd, os.WEXITED)
                except ChildProcessError:
                    pass
                os.close(pidfd)
            elif proc is not None and proc.returncode is None:
                proc.kill()
                proc.wait()
            if made_cgroups:
                self.cleanup(command.id, parent)
            if isinstance(e, TimeoutError):
                raise ContainerStartError("the container's init did not answer in time", 1)
            raise
        finally:
            ours.close()
        with self._lock:
            self._running[command.id] = _Running(pid, pidfd, parent)
        return pid

    def wait(self, id: str) -> int:
        """Block until the PID 1 of a container started by start() exits; remove its cgroups and
        return its exit code."""
        with self._lock:
            entry = self._running[id]
        result = os.waitid(os.P_PIDFD, entry.pidfd, os.WEXITED)
        self._forget(id)
        self.cleanup(id, entry.parent)
        return _exit_code(result)

    # -- helpers ------------------------------------------------------------------------------------

    def _forget(self, id: str) -> None:
        with self._lock:
            entry = self._running.pop(id, None)
            if entry is not None:
                os.close(entry.pidfd)

    def _parent(self, id: str) -> str:
        with self._lock:
            entry = self._running.get(id)
        return entry.parent if entry else self.cgroup_parent

    @staticmethod
    def _move_interface(interface: str, pid: int) -> None:
        # The networking layer (issue 4) may replace this with netlink; `ip` keeps the init path lean.
        result = subprocess.run(
            ["ip", "link", "set", "dev", interface, "netns", str(pid)], capture_output=True, text=True
        )
        if result.returncode != 0:
            raise ContainerStartError(
                f"moving {interface} into the container: {result.stderr.strip() or result.returncode}", 1
            )
