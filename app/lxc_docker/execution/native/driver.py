"""The native execution driver, daemon side: have the keeper spawn the init (`init.py`), put its PID 1
in the container's cgroups and network, let it exec, then learn its exit code from the keeper.

There is no helper process per container. One keeper per daemon (`keeper.py`, in its own session,
so it outlives a `kill -9` of the daemon) forks each init; the init's first process exits as soon as
it has forked PID 1, which the kernel re-parents to the keeper, a child subreaper, which reaps it and
reports the real exit status (128+N for a signal). The keeper also holds a copy of the daemon's end of
each container's stdio, so a restarted daemon takes the container back whole (`resume`): its
output waited in the pipe meanwhile. The daemon signals PID 1 through a pidfd, so a recycled pid is
never hit. The init is a fresh single-threaded process, so the namespaces and the fork happen away
from the daemon's threads.

If the keeper is gone as well (killed, or the machine rebooted), a container that still runs is
`adopt`ed as Docker 0.9's ghost: watched through its pidfd, exit code unknown. The daemon is a
subreaper only for the processes of `docker exec` (execproc.py), which it reaps by pidfd; it never
reaps with waitpid(-1).
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
from lxc_docker.execution.base import Command, ContainerStartError, Stdio
from lxc_docker.execution.keptio import KeptIO
from lxc_docker.execution.native import cgroups as cgroups_mod
from lxc_docker.execution.native.initchannel import Lines as _Lines
from lxc_docker.execution.native.initchannel import start_error as _start_error
from lxc_docker.execution.native.keeperclient import KeeperClient, KeeperError
from lxc_docker.execution.native.pid1driver import Pid1Driver, kill_pidfd, setup_error, wait_pidfd
from lxc_docker.sysutil import syscalls
from lxc_docker.sysutil.selfexec import init_argv

log = logging.getLogger(__name__)

# How long the init may take to report its pid and then to exec; far above the ~30 ms it needs,
# it only bounds a thread stuck on a hung mount (NFS volume) or a wedged kernel.
START_TIMEOUT = 60.0


class _Running:
    __slots__ = ("pid", "pidfd", "parent", "code", "done")

    def __init__(self, pid: int, pidfd: int, parent: str) -> None:
        self.pid, self.pidfd, self.parent = pid, pidfd, parent
        self.code: int | None = None
        self.done = threading.Event()  # set with `code` by the keeper, or without when it is lost


def _exit_code(result: os.waitid_result) -> int:
    if result.si_code == os.CLD_EXITED:
        return result.si_status
    return 128 + result.si_status  # killed or dumped: the shell's convention, as Docker reports it


def _wait_exit(pidfd: int, timeout: float | None = None) -> bool:
    """Wait until the process behind `pidfd` has exited (its parent may be anyone)."""
    if pidfd < 0:
        return True
    poller = select.poll()
    poller.register(pidfd, select.POLLIN)
    return bool(poller.poll(None if timeout is None else int(timeout * 1000)))


class NativeDriver(Pid1Driver):
    """ExecDriver with kernel primitives (see execution/base.py for the contract of each method)."""

    name = "native"

    def __init__(
        self,
        cgroup_parent: str = "docker",
        cgroups: cgroups_mod.Cgroups | None = None,
        state_dir: str | None = None,
    ) -> None:
        """`state_dir` is where the keeper's socket lives (the daemon's root); without one the keeper
        belongs to this process alone and exits with it."""
        try:
            os.close(os.pidfd_open(os.getpid()))
        except OSError as e:
            raise DriverNotSupported(f"the native execution driver needs Linux 5.4 or newer (pidfd): {e}")
        # An exec'd process (execproc.py) is the grandchild of this process: being a subreaper makes it
        # our child once its parent exits, so we reap it and get its exit status. Containers' PID 1s
        # are the keeper's descendants, never ours.
        syscalls.prctl(syscalls.PR_SET_CHILD_SUBREAPER, 1)
        self.cgroup_parent = cgroup_parent
        self.cgroups = cgroups if cgroups is not None else cgroups_mod.detect()
        self._lock = threading.Lock()
        self._running: dict[str, _Running] = {}
        # Exit codes the keeper reported for containers not (yet) registered here.
        self._early: dict[str, int] = {}
        self._kept: dict[str, dict] | None = None  # what a keeper left by an earlier daemon holds
        self.keeper = KeeperClient(state_dir, on_exit=self._on_exit, on_lost=self._on_lost)
        if state_dir is not None:
            # The keeper an earlier daemon left (live restore) is joined now; a new one is started
            # by the first request (the first container start): a second Python process starting
            # beside the daemon's own start slowed it down, in a one-vCPU VM above all.
            try:
                self.keeper.connect(start=False)
            except OSError as e:
                log.warning("joining the keeper: %s", e)

    # -- the ExecDriver interface (run, exec, kill, pids and is_alive are Pid1Driver's) ----------

    def adopt(self, command: Command, pid: int) -> int | None:
        parent = command.cgroup_parent or self.cgroup_parent
        pidfd = self._open_adopted(command, pid, parent)
        if pidfd < 0:
            return None
        with self._lock:
            self._running[command.id] = _Running(pid, pidfd, parent)
        wait_pidfd(pidfd)
        code = None
        try:
            # Our own child only if this process started it (or inherited it as subreaper).
            code = _exit_code(os.waitid(os.P_PIDFD, pidfd, os.WEXITED))
        except ChildProcessError:
            pass
        self._forget(command.id)
        self.cleanup(command.id, parent)
        return code

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
        first, pid, pidfd, made_cgroups, held = 0, 0, -1, False, False
        try:
            try:
                # The keeper forks the init, with our socket's other end as its fd 3.
                fds = [] if stdio.stdin is None else [stdio.stdin]
                fds += [stdio.stdout, stdio.stderr, theirs.fileno()]
                answer, _ = self.keeper.request(
                    {"op": "spawn", "argv": [*init_argv(), "3"], "stdin": stdio.stdin is not None}, fds
                )
                first = int(answer["pid"])
            except KeeperError as e:
                raise ContainerStartError(f"starting the container's init: {e}", 1)
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
                self.cgroups.add(parent, command.id, first, memory=False)
            except OSError as e:
                # Raised once PID 1 is known: stopping the init before it forks could orphan a PID 1
                # we never hear of (a zombie of ours forever). ESRCH only means the first process
                # is gone already, and PID 1 joins every cgroup below anyway.
                if e.errno != errno.ESRCH:
                    cgroup_error = e
            lines = _Lines(ours)
            received: list[int] = []
            # The first process exits right after its message; the keeper reaps it.
            line = lines.next(received)
            if line and line.startswith(b"pid ") and received:
                pidfd = received.pop(0)  # PID 1's, taken by its parent: valid even once it is reaped
            for fd in received:
                os.close(fd)
            if line and line.startswith(b"err "):
                raise _start_error(line)
            if not line or not line.startswith(b"pid ") or pidfd < 0:
                raise ContainerStartError("the container's init failed", 1)
            pid = int(line[4:])
            # PID 1 is the keeper's child now (until reaped, its pid cannot be recycled): registered
            # here first, so its exit code finds its place however soon it comes.
            with self._lock:
                self._running[command.id] = _Running(pid, pidfd, parent)
            self._hold(command.id, pid, stdio.kept)
            held = True
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
                raise setup_error(e, "cgroups or network")
            try:
                ours.sendall(b"go\n")
            except OSError:
                pass  # PID 1 failed and closed its end: its message is waiting below
            line = lines.next()
            if line is not None:
                raise _start_error(line)
        except BaseException as e:
            if pidfd >= 0:
                kill_pidfd(pidfd, signal.SIGKILL)
                _wait_exit(pidfd, START_TIMEOUT)
                if held:
                    self._release(command.id)
                self._forget(command.id)
            # Else a PID 1 we never heard of dies with the cgroups the init's first process joined.
            if made_cgroups:
                self.cleanup(command.id, parent)
            if isinstance(e, TimeoutError):
                raise ContainerStartError("the container's init did not answer in time", 1)
            raise
        finally:
            ours.close()
        return pid

    def wait(self, id: str) -> int:
        """Block until the PID 1 of a container started by start() or resume() exits; remove its
        cgroups and return its exit code (-1 when the keeper was lost and nobody knows it)."""
        with self._lock:
            entry = self._running[id]
        entry.done.wait()
        code = entry.code
        if code is None:
            _wait_exit(entry.pidfd)  # the keeper is gone: PID 1 went to the host's init
            code = -1
        self._release(id)
        self._forget(id)
        self.cleanup(id, entry.parent)
        return code

    def resume(self, command: Command, pid: int) -> KeptIO | None:
        self._list_kept()
        assert self._kept is not None
        known = self._kept.pop(command.id, None)
        if known is None or known["pid"] != pid:
            return None
        try:
            answer, fds = self.keeper.request({"op": "fds", "id": command.id})
        except KeeperError as e:
            log.warning("taking back container %s from the keeper: %s", command.id[:12], e)
            return None
        kept = KeptIO(dict(zip(answer["names"], fds, strict=True)))
        try:
            pidfd = os.pidfd_open(pid)
        except ProcessLookupError:
            pidfd = -1  # exited and reaped by the keeper, which has its code
        entry = _Running(pid, pidfd, command.cgroup_parent or self.cgroup_parent)
        with self._lock:
            self._running[command.id] = entry
            code = self._early.pop(command.id, known["code"])
        if code is not None:
            entry.code = code
            entry.done.set()
        kept.share(lambda names, fds: None, lambda name: self._drop(command.id, name))
        return kept

    def _list_kept(self) -> None:
        """What a keeper left by an earlier daemon holds, asked once."""
        if self._kept is not None:
            return
        self._kept = {}
        if self.keeper.found_existing:
            try:
                answer, _ = self.keeper.request({"op": "list"})
                self._kept = {c["id"]: c for c in answer["containers"]}
            except KeeperError as e:
                log.warning("the keeper of an earlier daemon did not answer: %s", e)

    def resumed(self) -> None:
        self._list_kept()
        left, self._kept = self._kept or {}, {}
        for id, known in left.items():
            # Kept for a container the daemon does not know as running (its exit was recorded but the
            # daemon died before it let go, or the container is gone): nothing of it may stay.
            if known["code"] is None:
                log.warning("stopping container %s, which the daemon no longer knows as running", id[:12])
            self.cleanup(id)  # kills what is left in its cgroups
            self._release(id)

    def close(self) -> None:
        self.keeper.close()

    # -- the keeper ---------------------------------------------------------------------------------

    def _hold(self, id: str, pid: int, kept: KeptIO | None) -> None:
        def hand_over(names: list[str], fds: list[int]) -> None:
            self.keeper.request({"op": "hold", "id": id, "pid": pid, "names": names}, fds)

        try:
            if kept is None:
                hand_over([], [])
            else:
                kept.share(hand_over, lambda name: self._drop(id, name))
        except KeeperError as e:
            raise ContainerStartError(f"handing the container to the keeper: {e}", 1)

    def _drop(self, id: str, name: str) -> None:
        self.keeper.request({"op": "drop", "id": id, "name": name})

    def _release(self, id: str) -> None:
        try:
            self.keeper.request({"op": "release", "id": id})
        except KeeperError:
            pass  # gone, and what it held with it

    def _on_exit(self, id: str, code: int) -> None:
        with self._lock:
            entry = self._running.get(id)
            if entry is None:
                self._early[id] = code
                return
        entry.code = code
        entry.done.set()

    def _on_lost(self) -> None:
        with self._lock:
            entries = list(self._running.values())
        for entry in entries:
            entry.done.set()

    # -- helpers ------------------------------------------------------------------------------------

    def _forget(self, id: str) -> None:
        with self._lock:
            entry = self._running.pop(id, None)
            if entry is not None and entry.pidfd >= 0:
                os.close(entry.pidfd)

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
