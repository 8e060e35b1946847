"""The lxc execution driver, daemon side: write the container's LXC configuration, run `lxc-start -F`
with the container's stdio as its own, and follow PID 1 from the host.

`lxc-start -F` stays in the foreground as LXC's monitor: it creates the namespaces and cgroups,
mounts the rootfs, then runs the `start-host` hook we give it (a tiny shell script, see `_HOOK`)
right before PID 1 execs. The hook tells the daemon PID 1's host pid through a fifo and waits for
its go, so the daemon's on_created hook (eth0 from the host side) runs at the same point as with the
native driver. lxc-start always exits 0 once a container ran, so the exit status comes from the
kernel's process events (`procevents`), which also say when PID 1 has exec'd.

Per container, the daemon keeps one process (lxc-start, LXC's monitor) and one directory
`<graph root>/execdriver/lxc/<id>` (config, hook, fifos, LXC's log), removed when the container stops.
"""

from __future__ import annotations

import logging
import os
import select
import shlex
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable

from lxc_docker.errors import DockerError, DriverNotSupported
from lxc_docker.execution.base import Command, ContainerStartError, ExecProcess, Stdio
from lxc_docker.execution.lxc import config as lxcconf
from lxc_docker.execution.lxc import ctty, tools
from lxc_docker.execution.lxc import seccomp as lxcseccomp
from lxc_docker.execution.lxc.prepare import prepare
from lxc_docker.execution.lxc.procevents import ProcEvents
from lxc_docker.execution.native import cgroups as cgroups_mod
from lxc_docker.execution.native.lookpath import NOT_EXECUTABLE, NOT_FOUND
from lxc_docker.sysutil import atomic, syscalls

log = logging.getLogger(__name__)

START_TIMEOUT = 60.0  # bounds a start stuck on a hung mount, as the native driver's
_STATUS_TIMEOUT = 10.0  # how long the exit event may lag behind lxc-start's exit (it never should)
_MONITOR_TIMEOUT = 10.0  # for LXC's own cleanup after an adopted container's PID 1 exits
_HOST_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# Runs on the host (LXC gives it LXC_PID, PID 1's host pid). If the daemon dies before the hook opens
# a fifo, the open would wait for it forever: `timeout` ends the hook, and LXC then stops the start.
# If it dies later, its ends of the fifos close: the read gets EOF and the start fails likewise.
_HOOK = """#!/bin/sh
timeout {limit} sh -c 'printf "%s\\n" "$LXC_PID" > "$1"' hook {pid} || exit 1
answer=$(timeout {limit} head -n 1 {go}) || exit 1
[ "$answer" = go ]
"""


# A privileged container's /dev gets every device node of the host's (the native driver copies them
# too). Runs in the container's mount namespace before pivot_root, where the host's /dev is still
# visible; -xdev leaves out devpts, shm and mqueue, tar -k the nodes LXC made already.
_DEVICES_HOOK = """#!/bin/sh
cd /dev || exit 0
find . -xdev \\( -type c -o -type b \\) ! -name console ! -name tty ! -name ptmx |
    tar -cf - --no-recursion -T - 2>/dev/null | tar -xkf - -C "$LXC_ROOTFS_MOUNT/dev" 2>/dev/null
exit 0
"""


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


def lxc_error(log_path: str) -> str:
    """LXC's own message from its log: the first ERROR line, without its source location."""
    try:
        with open(log_path, errors="replace") as f:
            lines = [line.rstrip("\n") for line in f if " ERROR " in line]
    except OSError:
        lines = []
    if not lines:
        return ""
    # "lxc-start <name> <time> ERROR    confile - ../src/lxc/confile.c:func:164 - <message>"
    parts = lines[0].split(" - ", 2)
    return parts[2] if len(parts) == 3 else lines[0]


def _start_failure(message: str, entrypoint: str) -> ContainerStartError:
    if "Failed to exec" in message:
        # "<strerror> - Failed to exec "<program>"": the native driver's wording and exit codes.
        reason = message.split(" - ", 1)[0]
        code = NOT_FOUND if reason.startswith("No such file") else NOT_EXECUTABLE
        return ContainerStartError(f'exec: "{entrypoint}": {reason[:1].lower()}{reason[1:]}', code)
    return ContainerStartError(f"lxc-start: {message or 'the container failed to start'}", 1)


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


def _console(command: Command, stdio: Stdio) -> str:
    # The pty slave's path in the daemon's namespace; LXC binds it before the container's devpts
    # hides the host's. `tty` in the container then names /dev/console, as with the native driver.
    if not command.tty:
        return ""
    try:
        path = os.readlink(f"/proc/self/fd/{stdio.stdout}")
    except OSError:
        return ""
    return path if path.startswith("/dev/pts/") else ""


class LxcDriver:
    """ExecDriver with LXC's tools (see execution/base.py for the contract of each method)."""

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
        # `docker exec`'s program is the grandchild of this process (exec above): as a child
        # subreaper the daemon gets it back when its first process exits, and reaps it by pidfd.
        syscalls.prctl(syscalls.PR_SET_CHILD_SUBREAPER, 1)
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
        """`docker exec` through the native driver's `init exec` (native/execproc.py + nsexec.py),
        not lxc-attach: it joins PID 1's namespaces through its pidfd (never a recycled pid), takes
        the container's capabilities, seccomp filter and no_new_privs from the same Command the LXC
        config was made from, puts the process in the container's cgroups (the same
        <parent>/<id> layout LXC uses here), and leaves no process behind: the program is re-parented
        to the daemon, which reaps it and so has its real exit code. lxc-attach would stay as the
        program's parent for its whole life, and with a tty proxy a pty of its own between ours and
        the container's. What it does not take is LXC's AppArmor profile (the container's, when
        apparmor_parser is installed): the exec runs unconfined, as every native container does."""
        from lxc_docker.execution.native import execproc

        with self._lock:
            entry = self._running.get(command.id)
            if entry is None:
                raise ContainerStartError(f"Container {command.id} is not running", 1)
            pidfd = os.dup(entry.pidfd)  # under the lock: never a descriptor _forget closed
            parent = entry.parent
        return execproc.run(self.cgroups, parent, command, process, stdio, pidfd, on_start, on_terminal)

    def kill(self, command: Command, sig: int) -> None:
        with self._lock:
            entry = self._running.get(command.id)
            if entry is None:
                return
            try:
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
        if not cgroups_mod.pid_in_container(pid, command.id):
            os.close(pidfd)
            self.cleanup(command.id, parent)
            return None
        self.events.watch(pid)
        monitor = _monitor_pidfd(pid)
        with self._lock:
            self._running[command.id] = _Running(pid, pidfd, None, parent)
        poller = select.poll()
        poller.register(pidfd, select.POLLIN)
        while not poller.poll():
            pass
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

    def is_alive(self, id: str, pid: int) -> bool:
        return cgroups_mod.pid_in_container(pid, id)

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
            self._write_files(command, directory, _console(command, stdio))
            pid_r = os.open(os.path.join(directory, "pid.fifo"), os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
            fds.append(pid_r)
            go_w = os.open(os.path.join(directory, "go.fifo"), os.O_RDWR | os.O_CLOEXEC)
            fds.append(go_w)
            argv = [self.lxc_start, "-F", "-q", "-n", command.id, "-P", self.lxcpath]
            argv += ["-o", os.path.join(directory, "lxc.log"), "-l", "ERROR", "--"]
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
                if on_created is not None:
                    on_created(pid)
            except (OSError, ContainerStartError, DockerError) as e:
                os.write(go_w, b"stop\n")
                if isinstance(e, ContainerStartError):
                    raise
                if isinstance(e, DockerError):
                    raise ContainerStartError(str(e), 1)
                raise ContainerStartError(f"setting up the container's network: {e}", 1)
            os.write(go_w, b"go\n")
            self._wait_exec(proc, pid, directory, command.entrypoint)
        except BaseException as e:
            if pidfd >= 0:
                try:
                    signal.pidfd_send_signal(pidfd, signal.SIGKILL)
                except ProcessLookupError:
                    pass
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

    def _write_files(self, command: Command, directory: str, console: str) -> None:
        init = prepare(command)
        init.console = console
        shutil.rmtree(directory, ignore_errors=True)  # left by a crash: everything is made anew
        os.makedirs(directory, mode=0o700)
        for name in ("pid.fifo", "go.fifo"):
            os.mkfifo(os.path.join(directory, name), 0o600)
        hook = os.path.join(directory, "start-host")
        text = _HOOK.format(
            limit=int(START_TIMEOUT) + 30,
            pid=shlex.quote(os.path.join(directory, "pid.fifo")),
            go=shlex.quote(os.path.join(directory, "go.fifo")),
        )
        atomic.write_bytes(hook, text.encode(), 0o700)
        profile = lxcseccomp.profile_text(command)
        seccomp_path = ""
        if profile is not None:
            seccomp_path = os.path.join(directory, "seccomp")
            atomic.write_bytes(seccomp_path, profile.encode(), 0o600)
        devices_hook = ""
        if command.privileged:
            devices_hook = os.path.join(directory, "autodev")
            atomic.write_bytes(devices_hook, _DEVICES_HOOK.encode(), 0o700)
        entries = lxcconf.generate(command, self.host, init, hook, seccomp_path, devices_hook)
        entries = lxcconf.apply_overrides(entries, command.lxc_conf)
        atomic.write_bytes(os.path.join(directory, "config"), lxcconf.render(entries).encode(), 0o600)

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
                    raise _start_failure(lxc_error(os.path.join(directory, "lxc.log")), entrypoint)
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
        raise _start_failure(lxc_error(os.path.join(directory, "lxc.log")), entrypoint)

    def _forget(self, id: str) -> None:
        with self._lock:
            entry = self._running.pop(id, None)
            if entry is not None:
                os.close(entry.pidfd)  # under the lock: kill() never signals a reused descriptor
        if entry is not None:
            self.events.forget(entry.pid)

    def _parent(self, id: str) -> str:
        with self._lock:
            entry = self._running.get(id)
        return entry.parent if entry else self.cgroup_parent
