"""The OCI execution driver (`docker -d -e oci --oci-runtime runc|crun|PATH`): each container is an
OCI bundle (config.json from spec.py, root.path = the daemon's mounted rootfs) run by the runtime's
create / start / kill / delete / state.

`create` leaves the container's init waiting before the exec: that is where the daemon gives its
network namespace eth0 (on_created, as with the native driver), then `start` lets it exec. The
runtime's create process exits at once and the container's PID 1 is re-parented to the daemon, a
child subreaper (see native/driver.py), which reaps it itself and so gets its real exit status: no
runtime process, shim or monitor stays per container. Without a tty the container's stdio are the
daemon's pipes, handed straight to `create`; with one, the runtime's pty master comes over the
console socket and a relay thread (console.py) joins it to the daemon's pty.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import select
import shutil
import signal
import subprocess
import threading
from collections.abc import Callable

from lxc_docker.archive import safepath
from lxc_docker.errors import DockerError, DriverNotSupported
from lxc_docker.execution.base import Command, ContainerStartError, ExecProcess, Stdio
from lxc_docker.execution.native import user as native_user
from lxc_docker.execution.oci import console, spec
from lxc_docker.execution.oci.network import configure_network
from lxc_docker.execution.oci.runtime import CALL_TIMEOUT, Runtime, RuntimeFailed, error_text
from lxc_docker.execution.pidreap import kill_and_reap
from lxc_docker.sysutil import atomic, syscalls

log = logging.getLogger(__name__)

# The runtime's wording before the part users should see (runc prefixes every create error).
_PREFIXES = (
    "runc create failed: ",
    "runc exec failed: ",
    "exec failed: ",
    "unable to start container process: ",
    "runc run failed: ",
)


def start_error(message: str) -> ContainerStartError:
    """Docker's exit code for a runtime's start failure: 127 for a missing program, 126 for one that
    cannot be executed, 1 otherwise (runc and crun word them differently; both report at create)."""
    for prefix in _PREFIXES:
        if message.startswith(prefix):
            message = message[len(prefix) :]
    lower = message.lower()
    code = 1
    if "exec" in lower and ("not found" in lower or "no such file" in lower):
        code = 127
    elif ("exec" in lower or "open executable" in lower) and "permission denied" in lower:
        code = 126
    return ContainerStartError(message, code)


def _exit_code(result: os.waitid_result) -> int:
    if result.si_code == os.CLD_EXITED:
        return result.si_status
    return 128 + result.si_status


def _read_in_root(rootfs: str, path: str) -> str:
    # The image is untrusted: its /etc/passwd may be a symlink to the host's. Resolved in the root.
    try:
        fd = safepath.open_file(rootfs, path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return ""
    try:
        with os.fdopen(fd, "rb") as f:
            return f.read(1 << 20).decode("utf-8", "replace")
    except OSError:
        return ""


def _bounding_set() -> int:
    """The daemon's capability bounding set (a container can get no capability outside it)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("CapBnd:"):
                    return int(line.split()[1], 16)
    except (OSError, ValueError):
        pass
    return 0


class _Running:
    __slots__ = ("pid", "pidfd")

    def __init__(self, pid: int, pidfd: int) -> None:
        self.pid, self.pidfd = pid, pidfd


class OciDriver:
    """ExecDriver over an OCI runtime (see execution/base.py for the contract of each method)."""

    name = "oci"

    def __init__(self, root: str, runtime: str = "runc", cgroup_parent: str = "docker") -> None:
        if not root:
            raise DriverNotSupported("the oci execution driver needs the daemon's root directory")
        self.home = os.path.join(root, "oci")
        self.runtime = Runtime(runtime, os.path.join(self.home, "state"))
        self.bundles = os.path.join(self.home, "bundles")
        os.makedirs(self.bundles, 0o700, exist_ok=True)
        # Orphans of our children become our children: that is how each container's PID 1 gets to us
        # once the runtime's create process exits.
        syscalls.prctl(syscalls.PR_SET_CHILD_SUBREAPER, 1)
        self.cgroup_parent = cgroup_parent
        self.description = self.runtime.description
        self._swap = os.path.exists("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes") or os.path.exists(
            "/sys/fs/cgroup/cgroup.controllers"
        )
        self._lock = threading.Lock()
        self._running: dict[str, _Running] = {}
        self._sweep()

    def _sweep(self) -> None:
        """Remove what a daemon that died in the middle of a start left: a container still waiting
        at `created` (no start is under way before this daemon serves), and bundles the runtime no
        longer knows. Running containers stay, for restore() to adopt."""
        try:
            listed = json.loads(self.runtime.call("list", "--format", "json") or "null") or []
        except (RuntimeFailed, ValueError) as e:
            log.warning("%s list: %s", self.runtime.name, e)
            return
        known = set()
        for entry in listed:
            if entry.get("status") == "created":
                log.info("removing %s, created by an earlier daemon and never started", entry["id"][:12])
                self.cleanup(entry["id"])
            else:
                known.add(entry.get("id"))
        for name in os.listdir(self.bundles):
            if name not in known:
                shutil.rmtree(os.path.join(self.bundles, name), ignore_errors=True)

    # -- the ExecDriver interface ---------------------------------------------------------------

    def run(
        self,
        command: Command,
        stdio: Stdio,
        on_start: Callable[[int], None],
        on_created: Callable[[int], None] | None = None,
    ) -> int:
        pid, pidfd, relay = self._create(command, stdio)
        try:
            try:
                if command.network and command.network.interface:
                    configure_network(command, pid)
                if on_created is not None:
                    on_created(pid)
                self.runtime.call("start", command.id, log=self._log(command.id))
            except RuntimeFailed as e:
                raise start_error(str(e))
            except DockerError as e:
                raise ContainerStartError(str(e), 1)
            except OSError as e:
                raise ContainerStartError(f"setting up the container's network: {e}", 1)
            with self._lock:
                self._running[command.id] = _Running(pid, pidfd)
            if relay is not None:
                relay.start()
            on_start(pid)
        except BaseException:
            with self._lock:
                self._running.pop(command.id, None)  # its pidfd is closed by _abort
            self._abort(command.id, pidfd, relay)
            raise
        code = self.wait(command.id)
        if relay is not None:
            relay.join(5)
        return code

    def exec(
        self,
        command: Command,
        process: ExecProcess,
        stdio: Stdio,
        on_start: Callable[[int], None],
        on_terminal: Callable[[int], None] | None = None,
    ) -> int:
        """`runc exec` / `crun exec` in the running container (execproc.py)."""
        from lxc_docker.execution.oci import execproc

        with self._lock:
            entry = self._running.get(command.id)
        if entry is None:
            raise ContainerStartError(f"Container {command.id} is not running", 1)
        return execproc.run(
            self.runtime,
            os.path.join(self.bundles, command.id),
            command,
            process,
            stdio,
            on_start,
            on_terminal,
            start_error,
            _read_in_root,
            _bounding_set(),
            entry.pid,
        )

    def wait(self, id: str) -> int:
        """Block until the PID 1 of a started container exits; delete it in the runtime (cgroups,
        state) and its bundle, and return its exit code (-1 when it was not ours to reap)."""
        with self._lock:
            entry = self._running[id]
        try:
            code = _exit_code(os.waitid(os.P_PIDFD, entry.pidfd, os.WEXITED))
        except ChildProcessError:
            code = -1
        self._forget(id)
        self.cleanup(id)
        return code

    # Live restore (execution/base.py's resume/resumed/close, used by the daemon's restore): the
    # native driver's keeper holds a container's stdio while the daemon is down. This driver keeps
    # no process at all, so a container that outlives its daemon comes back through adopt() as a
    # ghost (running, stoppable, its exit status and output lost), as every driver did before.

    def resume(self, command: Command, pid: int) -> None:
        """Nothing is kept whole while the daemon is down: always None (the daemon then adopts)."""
        return None

    def resumed(self) -> None:
        """Nothing kept, nothing to let go."""

    def close(self) -> None:
        """No keeper, no shim: the clean shutdown has stopped every container already."""

    def kill(self, command: Command, sig: int) -> None:
        with self._lock:
            entry = self._running.get(command.id)
        if entry is None:
            return
        try:
            self.runtime.call("kill", command.id, str(int(sig)))
        except RuntimeFailed:
            # Stopped meanwhile ("container not running"), or a runtime that refuses the signal's
            # number: the pidfd still names exactly this PID 1, whose exit we have not reaped.
            with self._lock:
                entry = self._running.get(command.id)
                if entry is not None:
                    try:
                        signal.pidfd_send_signal(entry.pidfd, sig)
                    except ProcessLookupError:
                        pass

    def pids(self, id: str) -> list[int]:
        try:
            return [int(p) for p in json.loads(self.runtime.call("ps", "--format", "json", id)) or []]
        except (RuntimeFailed, ValueError, TypeError):
            return []

    def adopt(self, command: Command, pid: int) -> int | None:
        try:
            pidfd = os.pidfd_open(pid)
        except ProcessLookupError:
            self.cleanup(command.id)
            return None
        # Checked after opening the pidfd: from here on `pid` cannot be recycled under us.
        if not self.is_alive(command.id, pid):
            os.close(pidfd)
            self.cleanup(command.id)
            return None
        with self._lock:
            self._running[command.id] = _Running(pid, pidfd)
        poller = select.poll()
        poller.register(pidfd, select.POLLIN)
        while not poller.poll():
            pass
        code = None
        try:
            code = _exit_code(os.waitid(os.P_PIDFD, pidfd, os.WEXITED))
        except ChildProcessError:
            pass  # the previous daemon's child: its parent (or init) reaps it
        self._forget(command.id)
        self.cleanup(command.id)
        return code

    def is_alive(self, id: str, pid: int) -> bool:
        state = self.runtime.state(id)
        return bool(state) and state.get("pid") == pid and state.get("status") in ("running", "created")

    def cleanup(self, id: str) -> None:
        """`delete --force` (kills what is left, removes the cgroups and the runtime's state), then
        the bundle."""
        try:
            self.runtime.delete(id)
        except RuntimeFailed as e:
            log.warning("%s delete %s: %s", self.runtime.name, id[:12], e)
        shutil.rmtree(os.path.join(self.bundles, id), ignore_errors=True)

    # -- create -------------------------------------------------------------------------------------

    def _log(self, id: str) -> str:
        return os.path.join(self.bundles, id, "runtime.log")

    def _config(self, command: Command) -> dict:
        try:
            uid, gid, groups = native_user.resolve(
                command.user,
                _read_in_root(command.rootfs, "/etc/passwd"),
                _read_in_root(command.rootfs, "/etc/group"),
                command.group_add,
            )
        except native_user.UnknownUser as e:
            raise ContainerStartError(str(e), 1)
        try:
            return spec.build(
                command,
                uid=uid,
                gid=gid,
                groups=groups,
                bounding=_bounding_set(),
                machine=os.uname().machine,
                nofile=resource.getrlimit(resource.RLIMIT_NOFILE),
                swap_accounting=self._swap,
                devices=spec.host_devices() if command.privileged else None,
            )
        except (ValueError, KeyError) as e:
            raise ContainerStartError(f"seccomp: {e}", 1)

    def _create(self, command: Command, stdio: Stdio) -> tuple[int, int, console.Relay | None]:
        """Write the bundle and run `create`: PID 1 (waiting before its exec), its pidfd, and with a
        tty the relay to start. On failure nothing is left: no runtime state, cgroup or bundle."""
        bundle = os.path.join(self.bundles, command.id)
        shutil.rmtree(bundle, ignore_errors=True)  # a stale one from a crash
        os.makedirs(bundle, 0o700)
        listener = None
        pidfd, master, dirfd = -1, -1, -1
        try:
            config = self._config(command)
            atomic.write_bytes(os.path.join(bundle, "config.json"), json.dumps(config).encode(), 0o600)
            args = ["create", "--bundle", bundle, "--pid-file", os.path.join(bundle, "pid")]
            if command.tty:
                # sun_path holds 108 bytes, less than a daemon root may take: the socket is named
                # through a descriptor of the bundle directory, which root's runtime can follow too.
                dirfd = os.open(bundle, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
                socket_path = f"/proc/{os.getpid()}/fd/{dirfd}/console.sock"
                listener = console.listen(socket_path)
                args += ["--console-socket", socket_path]
                fds = {
                    "stdin": subprocess.DEVNULL,
                    "stdout": subprocess.DEVNULL,
                    "stderr": subprocess.DEVNULL,
                }
            else:
                stdin = subprocess.DEVNULL if stdio.stdin is None else stdio.stdin
                fds = {"stdin": stdin, "stdout": stdio.stdout, "stderr": stdio.stderr}
            # The container's stdio are create's: whatever create itself says goes to our --log.
            proc = subprocess.Popen(
                self.runtime.argv(*args, command.id, log=self._log(command.id)),
                close_fds=True,
                start_new_session=True,  # a ^C meant for a foreground daemon is not the container's
                **fds,
            )
            if listener is not None:
                master = self._await_console(listener, proc)
            try:
                status = proc.wait(CALL_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                raise ContainerStartError(f"{self.runtime.name} create did not finish in time", 1)
            if status != 0:
                raise start_error(error_text("", self._log(command.id)))
            with open(os.path.join(bundle, "pid")) as f:
                pid = int(f.read().strip())
            pidfd = os.pidfd_open(pid)
            relay = None
            if master >= 0:
                relay, master = console.Relay(stdio.stdout, master), -1
            return pid, pidfd, relay
        except BaseException:
            if master >= 0:
                os.close(master)
            self._abort(command.id, pidfd, None)
            raise
        finally:
            if listener is not None:
                listener.close()
            if dirfd >= 0:
                os.close(dirfd)

    def _await_console(self, listener, proc: subprocess.Popen) -> int:  # noqa: ANN001
        """The pty master the runtime sends at create, or -1 if create exits without sending one."""
        procfd = os.pidfd_open(proc.pid)
        try:
            poller = select.poll()
            poller.register(listener.fileno(), select.POLLIN)
            poller.register(procfd, select.POLLIN)
            while True:
                ready = dict(poller.poll(CALL_TIMEOUT * 1000))
                if listener.fileno() in ready:
                    return console.receive_master(listener)
                if procfd in ready or not ready:
                    return -1
        finally:
            os.close(procfd)

    def _abort(self, id: str, pidfd: int, relay: console.Relay | None) -> None:
        """Undo a start that failed: kill and reap PID 1, delete the runtime's container, drop the
        bundle."""
        if relay is not None and not relay.thread.is_alive():
            relay.close()
        if pidfd >= 0:
            kill_and_reap(pidfd)
        self.cleanup(id)

    def _forget(self, id: str) -> None:
        with self._lock:
            entry = self._running.pop(id, None)
        if entry is not None:
            try:
                os.close(entry.pidfd)
            except OSError:
                pass
