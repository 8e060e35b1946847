"""`docker exec`: the exec instances of running containers (create, start attached or detached,
resize, inspect) and the copying of their stdio to and from the client's hijacked connection.

An instance runs once. Its process is the exec driver's (`ExecDriver.exec`), waited for by one
thread per running instance; the connection's own thread copies the output, as Docker 1.12 did,
framed as `attach` frames it (raw with a tty). Finished instances stay inspectable for a while, so a
client reads the exit code after the stream ends (`docker exec` exits with it).
"""

from __future__ import annotations

import dataclasses
import fcntl
import logging
import os
import socket
import struct
import termios
import threading
import time
from typing import Any, Protocol

from ..errors import Conflict, DockerError, InvalidParameter, NotFound
from ..execution.base import Command, ContainerStartError, ExecDriver, ExecProcess
from ..image.image import new_id
from ..runconfig.security import parse_security_opts
from .container import DEFAULT_PATH, Container
from .events import EventBus
from .execio import DEFAULT_DETACH_KEYS, Session, parse_detach_keys

log = logging.getLogger(__name__)

# Finished instances are forgotten this long after they exit (Docker collects them within 5 to 10
# minutes); clients read the exit code right after the stream ends.
KEEP_FINISHED = 300.0
EXEC_START_FAILED = 126


CREATE_KEYS = (
    "AttachStdin", "AttachStdout", "AttachStderr", "DetachKeys", "Tty", "Cmd", "Env", "User",
    "Privileged", "WorkingDir",
)  # fmt: skip


def canonical_keys(body: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    """`body` with its keys spelled as in `names`: Docker's Go decoder matches JSON keys without
    regard to case, and clients rely on it (the SDK sends `detachKeys`)."""
    spelled = {name.lower(): name for name in names}
    return {spelled.get(key.lower(), key): value for key, value in body.items()}


class ContainerLookup(Protocol):
    def get(self, name: str) -> Container: ...


class ExecInstance:
    """One `docker exec`: what to run, and its state once started."""

    def __init__(self, container: Container, process: ExecProcess, body: dict[str, Any]) -> None:
        self.id = new_id()
        self.container = container
        self.process = process
        self.user_given = str(body.get("User") or "")
        self.privileged_given = bool(body.get("Privileged"))
        self.open_stdin = bool(body.get("AttachStdin"))
        self.open_stdout = bool(body.get("AttachStdout"))
        self.open_stderr = bool(body.get("AttachStderr"))
        self.detach_keys_text = str(body.get("DetachKeys") or "")
        keys = self.detach_keys_text
        self.detach_keys = parse_detach_keys(keys) if keys else DEFAULT_DETACH_KEYS
        self.lock = threading.Lock()
        self.started = False
        self.running = False
        self.exit_code: int | None = None
        self.pid = 0
        self.finished_at = 0.0
        self.done = threading.Event()
        self.master: int | None = None  # the terminal's master while the process may use it
        self.size: tuple[int, int] | None = None  # a resize that came before the terminal did

    @property
    def entrypoint(self) -> str:
        return self.process.args[0]

    @property
    def arguments(self) -> list[str]:
        return self.process.args[1:]


class ExecService:
    def __init__(self, containers: ContainerLookup, exec_driver: ExecDriver, events: EventBus) -> None:
        self.containers = containers
        self.driver = exec_driver
        self.events = events
        self._lock = threading.Lock()
        self._execs: dict[str, ExecInstance] = {}

    # -- create, look up, inspect --------------------------------------------------------------------

    def create(self, name: str, body: Any) -> ExecInstance:
        c = self.containers.get(name)
        if not isinstance(body, dict):
            raise InvalidParameter("exec body must be a JSON object")
        body = canonical_keys(body, CREATE_KEYS)
        cmd = body.get("Cmd")
        if isinstance(cmd, str):
            cmd = [cmd]
        if not cmd:
            raise InvalidParameter("No exec command specified")
        env = body.get("Env") or []
        for key, value in (("Cmd", cmd), ("Env", env)):
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise InvalidParameter(f"{key} must be a list of strings")
        for key in ("User", "WorkingDir", "DetachKeys"):
            if not isinstance(body.get(key) or "", str):
                raise InvalidParameter(f"{key} must be a string")
        workdir = body.get("WorkingDir") or ""
        if workdir and not workdir.startswith("/"):
            raise InvalidParameter(
                f"working directory '{workdir}' is invalid, it needs to be an absolute path"
            )
        self._check_running(c)
        tty = bool(body.get("Tty"))
        process = ExecProcess(
            args=list(cmd),
            env=_environment(c, env, tty),
            user=body.get("User") or c.config.get("User") or "",
            workdir=workdir or c.config.get("WorkingDir") or "/",
            tty=tty,
            privileged=bool(body.get("Privileged")),
        )
        ec = ExecInstance(c, process, body)
        self._sweep()
        with self._lock:
            self._execs[ec.id] = ec
            c.exec_ids.append(ec.id)
        self._event(ec, "exec_create: " + " ".join(process.args))
        return ec

    def get(self, exec_id: str) -> ExecInstance:
        with self._lock:
            ec = self._execs.get(exec_id)
        if ec is None:
            raise NotFound(f"No such exec instance '{exec_id}' found in daemon")
        return ec

    def resize(self, exec_id: str, height: int, width: int) -> None:
        ec = self.get(exec_id)
        with ec.lock:
            # Clients send the first size as soon as the start is sent, maybe before the terminal
            # exists: it is applied when it does.
            ec.size = (height, width)
            if ec.master is not None:
                _set_size(ec.master, ec.size)

    def container_stopped(self, c: Container) -> None:
        """A release hook: the container's processes are gone, exec'd ones with its pid namespace."""
        with self._lock:
            c.exec_ids.clear()

    # -- start ---------------------------------------------------------------------------------------

    def begin(self, ec: ExecInstance) -> None:
        """Claim the instance for one start (before the connection is hijacked, so a refusal is an
        HTTP error)."""
        self._check_running(ec.container)
        with ec.lock:
            if ec.running:
                raise Conflict(f"Error: Exec command {ec.id} is already running")
            if ec.started:
                raise Conflict(f"Error: Exec command {ec.id} has already run")
            ec.started = True

    def start_detached(self, ec: ExecInstance) -> None:
        """Start a claimed instance with no client attached; returns once its program runs."""
        session = Session(ec, None)
        error = self._launch(ec, session)
        session.drain_detached()
        if error is not None:
            raise error

    def run_attached(self, ec: ExecInstance, sock: socket.socket, raw: bool) -> None:
        """Start a claimed instance with its streams on `sock` (raw, or framed as attach frames
        them) and copy them until it exits, the client detaches (its detach keys, with a tty) or
        goes away."""
        session = Session(ec, sock, raw)
        error = self._launch(ec, session)
        if error is not None:
            # As Docker 1.12: the connection is hijacked already, the message goes down the stream.
            session.send_output("stdout", f"{error}\n".encode())
            session.close()
            return
        session.copy()

    def _launch(self, ec: ExecInstance, session: Session) -> DockerError | None:
        c = ec.container
        command = _container_command(c)
        started = threading.Event()
        outcome: dict[str, DockerError] = {}
        stdio = session.prepare()

        def on_start(pid: int) -> None:
            with ec.lock:
                ec.pid, ec.running = pid, True
            session.started()
            started.set()

        def on_terminal(fd: int) -> None:
            session.terminal(fd)
            with ec.lock:
                ec.master = fd
                if ec.size is not None:
                    _set_size(fd, ec.size)

        def wait() -> None:
            code = -1
            try:
                code = self.driver.exec(command, ec.process, stdio, on_start, on_terminal)
            except ContainerStartError as e:
                # Docker (1.12 to 20.10) records 126 for an exec that never ran, whatever the cause,
                # where a container's start tells 127 (not found) from 126; the SDK's tests expect it.
                code = EXEC_START_FAILED
                outcome["error"] = ContainerStartError(f"oci runtime error: {e}", code)
            except BaseException as e:  # a driver bug must not leave the instance running forever
                log.exception("exec %s in %s failed", ec.id[:12], c.id[:12])
                outcome["error"] = DockerError(f"exec failed: {e}")
            finally:
                if not started.is_set():
                    session.abort()
                self._finished(ec, code)
                started.set()
                session.wake()

        self._event(ec, "exec_start: " + " ".join(ec.process.args))
        threading.Thread(target=wait, name=f"exec-{ec.id[:12]}", daemon=True).start()
        started.wait()
        return outcome.get("error")

    def _finished(self, ec: ExecInstance, code: int) -> None:
        with ec.lock:
            ec.running, ec.exit_code, ec.finished_at = False, code, time.monotonic()
            if ec.master is not None:  # sessions read their own duplicates
                os.close(ec.master)
                ec.master = None
        with self._lock:
            if ec.id in ec.container.exec_ids:
                ec.container.exec_ids.remove(ec.id)
        ec.done.set()
        self._event(ec, "exec_die", execID=ec.id, exitCode=str(code))

    # -- helpers -------------------------------------------------------------------------------------

    @staticmethod
    def _check_running(c: Container) -> None:
        if not c.state.running:
            raise Conflict(f"Container {c.id} is not running")
        if getattr(c.state, "paused", False):
            raise Conflict(f"Container {c.id} is paused, unpause the container before exec")

    def _event(self, ec: ExecInstance, action: str, **attributes: str) -> None:
        c = ec.container
        self.events.publish(
            action, c.id, from_=c.config.get("Image", ""), name=c.name.lstrip("/"), **attributes
        )

    def _sweep(self) -> None:
        horizon = time.monotonic() - KEEP_FINISHED
        with self._lock:
            old = [i for i, ec in self._execs.items() if ec.done.is_set() and ec.finished_at < horizon]
            for exec_id in old:
                del self._execs[exec_id]


def _set_size(master: int, size: tuple[int, int]) -> None:
    fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", size[0], size[1], 0, 0))


def _environment(c: Container, extra: list[str], tty: bool) -> list[str]:
    """The container's environment (as its command got it: Docker's CreateDaemonEnvironment, then
    Config.Env), with TERM for a tty exec, then the exec's own Env on top."""
    hostname = c.config.get("Hostname") or c.id[:12]
    env = ["HOME=/", f"PATH={DEFAULT_PATH}", f"HOSTNAME={hostname}", "container=lxc"]
    if tty:
        env.append("TERM=xterm")
    for layer in (c.config.get("Env") or [], extra):
        keys = {e.split("=", 1)[0] for e in layer}
        env = [e for e in env if e.split("=", 1)[0] not in keys] + list(layer)
    return env


def _container_command(c: Container) -> Command:
    """The container's run as the driver knows it, with its security settings read again from its
    host config: a container adopted from an earlier daemon has only a bare Command."""
    security = parse_security_opts(c.host_config.get("SecurityOpt"))
    return dataclasses.replace(
        c.command,
        privileged=bool(c.host_config.get("Privileged")),
        cap_add=list(c.host_config.get("CapAdd") or ()),
        cap_drop=list(c.host_config.get("CapDrop") or ()),
        seccomp=security.seccomp,
        seccomp_profile=security.seccomp_profile,
        no_new_privileges=security.no_new_privileges,
    )
