"""What the native and lxc drivers share: both hold each running container's PID 1 by a pidfd (so a
recycled pid is never signalled), keep its cgroups at `<parent>/<id>` and run `docker exec` through
the native init's `init exec` (execproc.py). `Pid1Driver` gives them `run` (start, then wait),
`exec`, `kill`, `pids` and adopt's first check; each driver keeps its own start, wait and cleanup.
"""

from __future__ import annotations

import abc
import os
import select
import signal
import threading
from collections.abc import Callable
from typing import Protocol

from lxc_docker.errors import DockerError
from lxc_docker.execution.base import Command, ContainerStartError, ExecProcess, Stdio
from lxc_docker.execution.native import cgroups as cgroups_mod


class Pid1Entry(Protocol):
    """A running container as a driver keeps it: PID 1's pid, a pidfd of it (-1 once the keeper has
    reaped it) and the cgroup parent it was started under."""

    pid: int
    pidfd: int
    parent: str


def kill_pidfd(pidfd: int, sig: int) -> None:
    """Send `sig` through `pidfd`; a process already gone is not an error."""
    try:
        signal.pidfd_send_signal(pidfd, sig)
    except ProcessLookupError:
        pass


def wait_pidfd(pidfd: int) -> None:
    """Block until the process behind `pidfd` has exited, whoever its parent is."""
    poller = select.poll()
    poller.register(pidfd, select.POLLIN)
    while not poller.poll():
        pass


def setup_error(e: BaseException, what: str) -> ContainerStartError:
    """The start failure to report when the daemon's part of a start (`on_created`: cgroups,
    network) raised `e`: a ContainerStartError as it is, a DockerError's message as it is, an
    OSError as a failure of setting up `what`."""
    if isinstance(e, ContainerStartError):
        return e
    if isinstance(e, DockerError):
        return ContainerStartError(str(e), 1)
    return ContainerStartError(f"setting up the container's {what}: {e}", 1)


class Pid1Driver(abc.ABC):
    """Base of a driver whose running containers are `self._running[id]` (a Pid1Entry), guarded by
    `self._lock`. Subclasses provide start, wait and cleanup as ExecDriver describes them."""

    cgroup_parent: str
    cgroups: cgroups_mod.Cgroups
    _lock: threading.Lock
    _running: dict[str, Pid1Entry]

    @abc.abstractmethod
    def start(self, command: Command, stdio: Stdio, on_created: Callable[[int], None] | None = None) -> int:
        """Start the container; PID 1's host pid once its command runs (the first half of run)."""

    @abc.abstractmethod
    def wait(self, id: str) -> int:
        """Block until the PID 1 of a started container exits; its exit code (the second half)."""

    @abc.abstractmethod
    def cleanup(self, id: str, parent: str | None = None) -> None:
        """Kill what is left of container `id` and remove its cgroups (and the driver's files)."""

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
        """`docker exec` through `init exec` (execproc.py + nsexec.py): it joins PID 1's namespaces
        through its pidfd and puts the process in the container's cgroups; the daemon, a child
        subreaper, reaps the program and so has its real exit code."""
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
            if entry is None or entry.pidfd < 0:
                return
            # Under the lock: wait() closes the pidfd under it too, so it is never a stale number.
            kill_pidfd(entry.pidfd, sig)

    def pids(self, id: str) -> list[int]:
        return self.cgroups.procs(self._parent(id), id)

    def is_alive(self, id: str, pid: int) -> bool:
        return cgroups_mod.pid_in_container(pid, id)

    def _open_adopted(self, command: Command, pid: int, parent: str) -> int:
        """A pidfd of `pid` if it is still the PID 1 of the container an earlier daemon started;
        else -1, with what is left of the container cleaned up."""
        try:
            pidfd = os.pidfd_open(pid)
        except ProcessLookupError:
            self.cleanup(command.id, parent)
            return -1
        # Checked after opening the pidfd: from here on `pid` cannot be recycled under us.
        if not cgroups_mod.pid_in_container(pid, command.id):
            os.close(pidfd)
            self.cleanup(command.id, parent)
            return -1
        return pidfd

    def _parent(self, id: str) -> str:
        with self._lock:
            entry = self._running.get(id)
        return entry.parent if entry else self.cgroup_parent
