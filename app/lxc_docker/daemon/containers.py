"""Containers: start, stop, kill, restart, wait, list; with the mixins, create and remove
(containerstore.py) and restore after a restart (containerrestore.py).

Each running container has one monitor thread that blocks in the exec driver until the container's
PID 1 exits, then records the exit, releases what the run held and wakes everyone waiting.
"""

from __future__ import annotations

import logging
import os
import signal as signals
import threading
from collections.abc import Callable
from typing import Any, Protocol

from .. import runconfig
from ..errors import DockerError, InvalidParameter, NotFound
from ..execution.base import Command, ContainerStartError, ExecDriver, Stdio
from ..execution.select import check_host_config
from ..image.image import Image
from ..runconfig.schema import CORE_VERSION, Version
from ..storage.base import StorageDriver
from ..sysutil import atomic
from .conflicts import AlreadyRunning, NotRunning
from .container import Container
from .containerrestore import ContainerRestore
from .containerstore import ContainerStore
from .containerstore import memory_limit_supported as memory_limit_supported  # daemon.py's `info`
from .events import EventBus
from .logdrivers import LoggerFactory
from .names import NameRegistry
from .restartrules import should_restart
from .runcommand import run_command

log = logging.getLogger(__name__)


class ImageLookup(Protocol):
    """What create needs of the images: a name or id resolved to an image (NotFound otherwise)."""

    def lookup(self, name: str) -> Image: ...


class ImageHistory(Protocol):
    """What rmi's "in use" check needs of the graph: an image and its ancestors."""

    def history(self, image_id: str) -> list[Image]: ...


class NameFiles(Protocol):
    """The contents of a container's /etc/hosts and /etc/resolv.conf (the networking layer's)."""

    def hosts_file(self, c: Container, hostname: str) -> str: ...

    def resolv_conf(self, c: Container) -> str: ...


def parse_signal(value: str | int | None) -> int:
    if value in (None, ""):
        return signals.SIGKILL
    text = str(value).upper()
    if text.isdigit():
        number = int(text)
        if 0 < number < signals.NSIG:
            return number
    else:
        name = text if text.startswith("SIG") else "SIG" + text
        sig = getattr(signals.Signals, name, None) if name in signals.Signals.__members__ else None
        if sig is not None:
            return int(sig)
    raise InvalidParameter(f"Invalid signal: {value}")


class ContainerService(ContainerStore, ContainerRestore):
    """The containers of one daemon: start (one monitor thread per run), stop, kill, restart, wait;
    create and remove are ContainerStore's (containerstore.py), restore at start-up is
    ContainerRestore's (containerrestore.py)."""

    def __init__(
        self,
        root: str,
        *,
        images: ImageLookup,
        graph: ImageHistory,
        driver: StorageDriver,
        exec_driver: ExecDriver,
        events: EventBus,
        cgroup_parent: str = "docker",
        restart: bool = False,
    ) -> None:
        self.root = root
        self.images = images
        self.graph = graph
        self.driver = driver
        self.exec = exec_driver
        self.events = events
        self.cgroup_parent = cgroup_parent
        # `-r`: containers that ran when the daemon stopped are started again by the next one.
        self.restart_policy = restart
        self.names = NameRegistry()
        # /etc/hosts and /etc/resolv.conf; the networking layer sets itself here when it is wired.
        self.name_files: NameFiles | None = None
        self._containers: dict[str, Container] = {}
        self._lock = threading.Lock()
        self.stopping = False
        # Hooks the networking and volume layers fill in; they default to doing nothing.
        self.prepare_run: list[Callable[[Container, Command], None]] = []
        self.release_run: list[Callable[[Container], None]] = []
        self.on_remove: list[Callable[[Container, bool], None]] = []
        # Called with the host pid of PID 1 before it may exec (the network is configured there).
        self.on_created: list[Callable[[Container, int], None]] = []
        # Create-time steps (volumes); each returns the undo to run if a later step of create() fails.
        self.on_create: list[Callable[[Container], Callable[[], None]]] = []
        self.loggers = LoggerFactory()  # logging drivers: the daemon sets its default (--log-driver)
        self.on_create.append(self.loggers.on_create)
        self.restored = threading.Event()  # see restore()
        self.restored.set()
        # After a signal went to PID 1 (a paused container is thawed so that it gets it).
        self.after_signal: list[Callable[[Container], None]] = []
        os.makedirs(os.path.join(self.root, "containers"), mode=0o700, exist_ok=True)

    # -- lookup --------------------------------------------------------------------------------------

    def all(self) -> list[Container]:
        with self._lock:
            return list(self._containers.values())

    def get(self, name: str) -> Container:
        if not name:
            raise NotFound("No such container: ")
        by_name = self.names.get(name)
        with self._lock:
            if by_name and by_name in self._containers:
                return self._containers[by_name]
            if name in self._containers:
                return self._containers[name]
            matches = [c for i, c in self._containers.items() if i.startswith(name)]
        if len(matches) == 1 and all(ch in "0123456789abcdef" for ch in name):
            return matches[0]
        if len(matches) > 1:
            raise InvalidParameter(f"Multiple IDs found with provided prefix: {name}")
        raise NotFound(f"No such container: {name}")

    def using_image(self, image_id: str) -> list[str]:
        """Containers whose image is `image_id` or a descendant of it (rmi refuses to remove those)."""
        result = []
        for c in self.all():
            try:
                chain = {img.id for img in self.graph.history(c.image)}
            except DockerError:
                chain = {c.image}
            if image_id in chain:
                result.append(c.id)
        return result

    def layer_ids(self) -> set[str]:
        ids = set()
        for c in self.all():
            ids.update((c.id, c.init_id))
        return ids

    # -- start ---------------------------------------------------------------------------------------

    def start(
        self,
        c: Container,
        host_config: dict[str, Any] | None = None,
        api_version: Version = CORE_VERSION,
    ) -> None:
        """Run the container; a HostConfig given here (API 1.9 clients send it) updates its own."""
        with c.lock:
            if c.state.running:
                raise AlreadyRunning(f"Cannot start container {c.id[:12]}: The container is already running.")
            if not c.state.restarting:  # a user's start, not a restart policy's
                c.state.restart_count, c.state.manually_stopped = 0, False
            if host_config:
                merged = runconfig.merge_start_host_config(c.host_config, host_config, api_version)
                check_host_config(self.exec, merged)
                c.host_config = merged
            rootfs = self.driver.get(c.id)
            ready = threading.Event()
            outcome: dict[str, Any] = {}
            closers: list[int] = []
            try:
                command = run_command(c, rootfs, self.cgroup_parent)
                for hook in self.prepare_run:
                    hook(c, command)
                self._write_name_files(c, command.hostname)
                stdin, out, err, closers = c.streams.prepare(bool(c.config.get("OpenStdin")))
                c.command = command
                c.state.starting = True
                thread = threading.Thread(
                    target=self._monitor,
                    args=(c, command, Stdio(stdin, out, err, c.streams.kept), closers, ready, outcome),
                    name=f"monitor-{c.id[:12]}",
                    daemon=True,
                )
                thread.start()
            except BaseException as e:
                c.state.starting = False
                c.streams.abort(closers)
                self._release(c)
                self._start_failed(c, c.state.exit_code or 128, str(e))
                raise
            ready.wait()
            if "error" in outcome:
                raise outcome["error"]

    def _write_name_files(self, c: Container, hostname: str) -> None:
        atomic.write_bytes(c.file("hostname"), f"{hostname}\n".encode(), 0o644)
        if self.name_files is not None:
            atomic.write_bytes(c.file("hosts"), self.name_files.hosts_file(c, hostname).encode(), 0o644)
            atomic.write_bytes(c.file("resolv.conf"), self.name_files.resolv_conf(c).encode(), 0o644)

    def _monitor(
        self,
        c: Container,
        command: Command,
        stdio: Stdio,
        closers: list[int],
        ready: threading.Event,
        outcome: dict[str, Any],
    ) -> None:
        def on_start(pid: int) -> None:
            c.state.set_running(pid)
            c.streams.started(closers)
            c.save()
            self.events.publish("start", c.id, from_=c.config.get("Image", ""), name=c.name.lstrip("/"))
            ready.set()

        try:
            code = self.exec.run(
                command, stdio, on_start, on_created=lambda pid: [hook(c, pid) for hook in self.on_created]
            )
        except BaseException as e:
            if not isinstance(e, ContainerStartError):  # a driver bug must not leave it "starting"
                log.exception("exec driver failed for %s", c.id)
            c.streams.abort(closers)
            self._release(c)
            self._start_failed(c, e.exit_code if isinstance(e, ContainerStartError) else -1, str(e))
            outcome["error"] = DockerError(f"Cannot start container {c.id[:12]}: {e}")
            ready.set()
            return
        self._exited(c, code)

    def _start_failed(self, c: Container, code: int, error: str) -> None:
        """A start that failed, before or in the exec driver: the error is recorded and `die` is
        published, so that clients waiting on events (the docker CLI below API 1.25 removes a `--rm`
        container itself after `die`) end instead of waiting forever. Restart policies skip it."""
        c.state.set_stopped(code, error=error)
        c.save()
        self.events.publish("die", c.id, from_=c.config.get("Image", ""), exitCode=str(code))

    def _exited(self, c: Container, code: int, after_restore: bool = False) -> None:
        """What follows the exit of a container's PID 1 (its run, or a resumed one's wait): its
        output ends, the run's holds are released, the exit is recorded, `die` is published.
        `after_restore`: the release waits until the daemon's restore is over (see restore())."""
        c.streams.finished()
        if after_restore:
            self.restored.wait()
        self._release(c)
        with c.lock:
            c.state.set_stopped(code)
            if not self.stopping and should_restart(c, code):
                # Restarting from this instant, as Docker's monitor marks it: a plain `rm` in the
                # moment before the restart manager handles `die` is refused, not obeyed.
                c.state.restarting = True
            if self.stopping and self.restart_policy:
                # Stopped by the daemon's own shutdown: recorded as running so the next daemon restarts it.
                doc = c.to_json()
                doc["State"]["Running"] = True
                atomic.write_json(c.file("config.json"), doc)
            else:
                c.save()
        self.events.publish(
            "die", c.id, from_=c.config.get("Image", ""), exitCode=str(code), name=c.name.lstrip("/")
        )

    def _release(self, c: Container) -> None:
        for hook in reversed(self.release_run):
            try:
                hook(c)
            except Exception:
                log.exception("releasing %s failed", c.id)
        try:
            self.driver.put(c.id)
        except Exception:
            log.exception("unmounting %s failed", c.id)

    # -- stop, kill, restart, wait -------------------------------------------------------------------

    def kill(self, c: Container, sig: int = signals.SIGKILL, event: bool = True) -> None:
        with c.lock:
            if not c.state.running:
                raise NotRunning(f"Container {c.id[:12]} is not running")
            if c.state.ghost:
                try:
                    os.kill(c.state.pid, sig)
                except ProcessLookupError:
                    pass
            else:
                self.exec.kill(c.command, sig)
            if not self.stopping:  # a restart policy leaves it stopped (daemon/restartpolicy.py)
                c.state.manually_stopped = True
            for hook in self.after_signal:
                hook(c)
        if sig == signals.SIGKILL:
            # As Docker 0.9 did: after `docker kill` returns the container is stopped, so a `docker rm`
            # right after it never races the exit.
            c.state.wait_stopped(10)
        if event:
            self.events.publish("kill", c.id, from_=c.config.get("Image", ""), signal=str(sig))

    def stop(self, c: Container, timeout: int = 10) -> None:
        if not c.state.running and c.state.restarting:  # waiting out a restart policy's back-off
            with c.lock:
                c.state.manually_stopped, c.state.restarting = True, False
                c.save()
            self.events.publish("stop", c.id, from_=c.config.get("Image", ""))
            return
        if not c.state.running:
            if not self.stopping:  # it may have exited a moment ago: its restart policy stops here too
                c.state.manually_stopped = True
            raise NotRunning(f"Container {c.id[:12]} is not running")
        try:
            # The image's STOPSIGNAL (or `--stop-signal`), else SIGTERM; a bad one is SIGTERM.
            sig = parse_signal(c.config.get("StopSignal") or "SIGTERM")
        except InvalidParameter:
            sig = signals.SIGTERM
        try:
            self.kill(c, sig, event=False)
        except NotRunning:
            pass
        if c.state.wait_stopped(max(timeout, 0)) is None:
            try:
                self.kill(c, signals.SIGKILL, event=False)
            except NotRunning:
                pass
            c.state.wait_stopped(30)
        self.events.publish("stop", c.id, from_=c.config.get("Image", ""))

    def restart(self, c: Container, timeout: int = 10) -> None:
        if c.state.running:
            self.stop(c, timeout)
        self.start(c)
        self.events.publish("restart", c.id, from_=c.config.get("Image", ""))

    def wait(self, c: Container) -> int:
        code = c.state.wait_stopped()
        return code if code is not None else -1

    # -- daemon start and stop -----------------------------------------------------------------------

    def shutdown(self, timeout: int = 10) -> None:
        self.stopping = True
        running = [c for c in self.all() if c.state.running]
        threads = []
        for c in running:

            def stop_one(c: Container = c) -> None:
                try:
                    self.stop(c, timeout)
                except DockerError:
                    pass

            t = threading.Thread(target=stop_one, daemon=True)
            t.start()
            threads.append(t)
        for t in threads:
            t.join(timeout + 35)
        self.exec.close()
