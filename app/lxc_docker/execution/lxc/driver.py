"""The lxc execution driver, daemon side: write the container's LXC configuration, run `lxc-start -F`
with the container's stdio as its own, and follow PID 1 from the host.

`lxc-start -F` stays in the foreground as LXC's monitor: it creates the namespaces and cgroups,
mounts the rootfs, then runs the `start-host` hook we give it (a tiny shell script written with
the config, see containerdir.py) right before PID 1 execs. The hook tells the daemon PID 1's host pid
through a fifo and waits for its go, so the daemon's on_created hook (eth0 from the host side) runs
at the same point as with the native driver. lxc-start always exits 0 once a container ran, so the
exit status comes from the kernel's process events (`procevents`), which also say when PID 1 has
exec'd.

Per container, the daemon keeps one process (lxc-start, LXC's monitor) and one directory
`<graph root>/execdriver/lxc/<id>` (config, hook, fifos, LXC's log), removed when the container stops.
"""

from __future__ import annotations

import logging
import os
import select
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable

from lxc_docker.errors import DockerError, DriverNotSupported
from lxc_docker.execution.base import Command, ContainerStartError, Stdio
from lxc_docker.execution.lxc import config as lxcconf
from lxc_docker.execution.lxc import containerdir, ctty, sharedbinds, tools
from lxc_docker.execution.lxc import seccomp as lxcseccomp
from lxc_docker.execution.lxc.procevents import ProcEvents
from lxc_docker.execution.native import cgroups as cgroups_mod
from lxc_docker.execution.native.pid1driver import Pid1Driver, kill_pidfd, setup_error, wait_pidfd
from lxc_docker.sysutil import syscalls

log = logging.getLogger(__name__)

START_TIMEOUT = 60.0  # bounds a start stuck on a hung mount, as the native driver's
_STATUS_TIMEOUT = 10.0  # how long the exit event may lag behind lxc-start's exit (it never should)
_MONITOR_TIMEOUT = 10.0  # for LXC's own cleanup after an adopted container's PID 1 exits
_HOST_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class _Running:
    __slots__ = ("pid", "pidfd", "proc", "parent")

    def __init__(self, pid: int, pidfd: int, proc: subprocess.Popen | None, parent: str) -> None:
        self.pid, self.pidfd, self.proc, self.parent = pid, pidfd, proc, parent


def host_facts() -> lxcconf.HostFacts:
    unified = os.path.exists("/sys/fs/cgroup/cgroup.controllers")
    try:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            last_cap = int(f.read())
    except (OSError, ValueError):
        last_cap = 40
    try:
        with open("/sys/module/apparmor/parameters/enabled") as f:
            # LXC's generated profile needs apparmor_parser (Debian's apparmor package, a Recommends
            # of lxc): without it a confined start fails, so the container runs unconfined, as the
            # native driver's do.
            apparmor = f.read().strip() == "Y" and shutil.which("apparmor_parser") is not None
    except OSError:
        apparmor = False
    controllers = ""
    if unified:
        with open("/sys/fs/cgroup/cgroup.controllers") as f:
            controllers = f.read()
    return lxcconf.HostFacts(
        cgroup_version=2 if unified else 1,
        memsw=os.path.exists("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes"),
        swap_v2="memory" in controllers.split() and os.path.exists("/proc/swaps"),
        apparmor=apparmor,
        last_cap=last_cap,
    )


def _monitor_pidfd(pid: int) -> int:
    """A pidfd of the parent of PID 1 (`pid`) if it is LXC's monitor, else -1."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            ppid = int(f.read().rsplit(b")", 1)[1].split()[1])
        fd = os.pidfd_open(ppid)
    except (OSError, ValueError, IndexError):
        return -1
    try:
        # Checked after opening the pidfd, so the pid cannot have been recycled in between.
        if os.path.basename(os.readlink(f"/proc/{ppid}/exe")) == "lxc-start":
            return fd
    except OSError:
        pass
    os.close(fd)
    return -1


def _remove_leftovers(relative: list[str]) -> None:
    """rmdir the cgroups `relative` (and their children) in every cgroup hierarchy of the host,
    the ones the native driver's layout does not use too (name=systemd, a hybrid's unified tree)."""
    try:
        with open("/proc/self/mounts") as f:
            points = [line.split()[1] for line in f if line.split()[2] in ("cgroup", "cgroup2")]
    except OSError:
        return
    for point in points:
        for rel in relative:
            top = os.path.join(point, rel)
            if not os.path.isdir(top):
                continue
            for dirpath, _, _ in sorted(os.walk(top), key=lambda t: -len(t[0])):
                try:
                    os.rmdir(dirpath)
                except OSError as e:
                    log.warning("removing cgroup %s: %s", dirpath, e)


class LxcDriver(Pid1Driver):
    """ExecDriver with LXC's tools (see execution/base.py for the contract of each method).

    `docker exec` is Pid1Driver's, the native init's `init exec`, not lxc-attach: it takes the
    container's capabilities, seccomp filter and no_new_privs from the same Command the LXC config was
    made from, and the cgroups are the same <parent>/<id> layout LXC uses here. lxc-attach would stay
    as the program's parent for its whole life, and with a tty proxy a pty of its own between ours
    and the container's. What it does not take is LXC's AppArmor profile (the container's, when
    apparmor_parser is installed): the exec runs unconfined, as every native container does."""

    name = "lxc"

    def __init__(self, root: str, cgroup_parent: str = "docker") -> None:
        self.lxc_start = tools.find("lxc-start")
        self.version = tools.version(self.lxc_start)
        try:
            self.events = ProcEvents()
        except OSError as e:
            raise DriverNotSupported(
                f"the lxc execution driver needs the kernel's process events connector "
                f"(CONFIG_PROC_EVENTS) to learn exit codes: {e}"
            )
        self.lxcpath = os.path.join(root, "execdriver", "lxc")
        os.makedirs(self.lxcpath, mode=0o700, exist_ok=True)
        self.cgroup_parent = cgroup_parent
        self.host = host_facts()
        self.cgroups = cgroups_mod.detect()
        # `docker exec`'s program is the grandchild of this process (Pid1Driver.exec): as a child
        # subreaper the daemon gets it back when its first process exits, and reaps it by pidfd.
        syscalls.prctl(syscalls.PR_SET_CHILD_SUBREAPER, 1)
        self._lock = threading.Lock()
        self._running: dict[str, _Running] = {}

    # -- the ExecDriver interface (run, exec, kill, pids and is_alive are Pid1Driver's) ----------

    def adopt(self, command: Command, pid: int) -> int | None:
        parent = command.cgroup_parent or self.cgroup_parent
        pidfd = self._open_adopted(command, pid, parent)
        if pidfd < 0:
            return None
        self.events.watch(pid)
        monitor = _monitor_pidfd(pid)
        with self._lock:
            self._running[command.id] = _Running(pid, pidfd, None, parent)
        wait_pidfd(pidfd)
        # Not our child, yet the kernel told us its status: better than a ghost's -1.
        code = self.events.exit_code(pid, _STATUS_TIMEOUT)
        if monitor >= 0:
            # LXC's monitor (lxc-start) removes the container's cgroups in every hierarchy once PID 1
            # is gone; killing it meanwhile (cleanup does) would leave some behind.
            select.select([monitor], [], [], _MONITOR_TIMEOUT)
            os.close(monitor)
        self._forget(command.id)
        self.cleanup(command.id, parent)
        return code

    def resume(self, command: Command, pid: int) -> None:
        """Live restore (the native driver's keeper) has no LXC counterpart yet: the container's
        stdio went with the old daemon, so it is adopted instead (with its real exit code)."""
        return None

    def resumed(self) -> None:
        pass  # nothing is kept for a later daemon

    def close(self) -> None:
        pass  # LXC's monitors are the containers' own; the daemon stops the containers first

    def cleanup(self, id: str, parent: str | None = None) -> None:
        """Kill what is left of container `id` (and its LXC monitor), remove its cgroups and files."""
        parent = parent or self._parent(id)
        monitor = lxcconf.monitor_cgroup(parent, id)
        for group_parent, name in ((parent, id), tuple(monitor.rsplit("/", 1))):
            try:
                self.cgroups.remove(group_parent, name)
            except OSError as e:
                log.warning("removing the cgroups of %s: %s", id[:12], e)
        _remove_leftovers([f"{parent.strip('/')}/{id}", monitor])
        shutil.rmtree(self._dir(id), ignore_errors=True)

    # -- the two halves of run() ------------------------------------------------------------------

    def start(self, command: Command, stdio: Stdio, on_created: Callable[[int], None] | None = None) -> int:
        """Start the container; return PID 1's host pid once the container's command runs."""
        parent = command.cgroup_parent or self.cgroup_parent
        directory = self._dir(command.id)
        fds: list[int] = []
        proc: subprocess.Popen | None = None
        pid, pidfd = 0, -1
        try:
            containerdir.write_files(
                command, directory, self.host, containerdir.console(command, stdio), int(START_TIMEOUT) + 30
            )
            pid_r = os.open(
                os.path.join(directory, containerdir.PID_FIFO), os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC
            )
            fds.append(pid_r)
            go_w = os.open(os.path.join(directory, containerdir.GO_FIFO), os.O_RDWR | os.O_CLOEXEC)
            fds.append(go_w)
            argv = [self.lxc_start, "-F", "-q", "-n", command.id, "-P", self.lxcpath]
            argv += ["-o", os.path.join(directory, containerdir.LOG), "-l", "ERROR", "--"]
            proc = subprocess.Popen(
                [*argv, *ctty.argv(command)],
                stdin=subprocess.DEVNULL if stdio.stdin is None else stdio.stdin,
                stdout=stdio.stdout,
                stderr=stdio.stderr,
                close_fds=True,
                start_new_session=True,  # a ^C meant for a foreground daemon is not the container's
                env={"PATH": _HOST_PATH},
            )
            pid = self._read_pid(proc, pid_r, directory, command.entrypoint)
            pidfd = os.pidfd_open(pid)
            self.events.watch(pid)
            try:
                sharedbinds.attach(pid, command.mounts)  # LXC's own binds can only be slaves of the host's
                if on_created is not None:
                    on_created(pid)
            except (OSError, ContainerStartError, DockerError) as e:
                os.write(go_w, b"stop\n")
                raise setup_error(e, "network")
            os.write(go_w, b"go\n")
            self._wait_exec(proc, pid, directory, command.entrypoint)
        except BaseException as e:
            if pidfd >= 0:
                kill_pidfd(pidfd, signal.SIGKILL)
                os.close(pidfd)
            if pid:
                self.events.forget(pid)
            if proc is not None:
                if proc.poll() is None and not pid:
                    proc.kill()
                proc.wait()
            self.cleanup(command.id, parent)
            if isinstance(e, lxcconf.ConfigError | lxcseccomp.ProfileError):
                raise ContainerStartError(str(e), 1)
            raise
        finally:
            for fd in fds:
                os.close(fd)
        with self._lock:
            self._running[command.id] = _Running(pid, pidfd, proc, parent)
        return pid

    def wait(self, id: str) -> int:
        """Block until a container started by start() is gone; return its exit code."""
        with self._lock:
            entry = self._running[id]
        assert entry.proc is not None
        entry.proc.wait()  # LXC's monitor exits once PID 1 is reaped and the cgroups are removed
        code = self.events.exit_code(entry.pid, _STATUS_TIMEOUT)
        if code is None:
            log.warning("the exit status of %s is unknown (process events lost)", id[:12])
            code = -1
        self._forget(id)
        self.cleanup(id, entry.parent)
        return code

    # -- helpers ------------------------------------------------------------------------------------

    def _dir(self, id: str) -> str:
        return os.path.join(self.lxcpath, id)

    def _read_pid(self, proc: subprocess.Popen, pid_r: int, directory: str, entrypoint: str) -> int:
        """PID 1's host pid from the hook, or LXC's error if lxc-start exits first."""
        procfd = os.pidfd_open(proc.pid)
        try:
            poller = select.poll()
            poller.register(pid_r, select.POLLIN)
            poller.register(procfd, select.POLLIN)
            deadline = time.monotonic() + START_TIMEOUT
            buffer = b""
            while b"\n" not in buffer:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise ContainerStartError("lxc-start did not start the container in time", 1)
                ready = {fd for fd, _ in poller.poll(left * 1000)}
                if pid_r in ready:
                    try:
                        buffer += os.read(pid_r, 64)
                    except BlockingIOError:
                        pass
                    continue
                if procfd in ready:
                    proc.wait()
                    raise containerdir.failure_from_log(directory, entrypoint)
        finally:
            os.close(procfd)
        line = buffer.split(b"\n", 1)[0].strip()
        if not line.isdigit():
            raise ContainerStartError(f"the lxc start hook gave no pid: {line!r}", 1)
        return int(line)

    def _wait_exec(self, proc: subprocess.Popen, pid: int, directory: str, entrypoint: str) -> None:
        """Return once PID 1 has exec'd the container's command; its exit before that is a failed
        start, with LXC's message (a failed exec, a seccomp profile LXC refused...)."""
        if not self.events.wait_exec_or_exit(pid, START_TIMEOUT):
            raise ContainerStartError("the container's command did not start in time", 1)
        if self.events.execed(pid):
            return
        proc.wait()
        raise containerdir.failure_from_log(directory, entrypoint)

    def _forget(self, id: str) -> None:
        with self._lock:
            entry = self._running.pop(id, None)
            if entry is not None:
                os.close(entry.pidfd)  # under the lock: kill() never signals a reused descriptor
        if entry is not None:
            self.events.forget(entry.pid)
