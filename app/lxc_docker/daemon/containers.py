"""Containers: create, start, stop, kill, restart, wait, remove, list; restore after a restart.

Each running container has one monitor thread that blocks in the exec driver until the container's
PID 1 exits, then records the exit, releases what the run held and wakes everyone waiting.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal as signals
import threading
from collections.abc import Callable
from typing import Any, Protocol

from .. import runconfig
from ..archive import safepath
from ..errors import Conflict, DockerError, InvalidParameter, NotFound
from ..execution.base import Command, ContainerStartError, ExecDriver, Resources, Stdio
from ..execution.select import check_host_config, version_string
from ..image.image import Image, new_id
from ..runconfig.schema import CORE_VERSION, HOST_CONFIG_DEFAULTS, Version, fresh
from ..runconfig.security import parse_security_opts
from ..storage.base import StorageDriver
from ..sysutil import atomic
from ..sysutil.journal import Journal
from .container import DEFAULT_PATH, Container
from .events import EventBus
from .names import NameRegistry, validate
from .streams import Streams

log = logging.getLogger(__name__)

INIT_FILES = ("etc/hosts", "etc/hostname", "etc/resolv.conf")
INIT_DIRS = ("proc", "sys", "dev", "dev/pts", "dev/shm", "etc", "tmp")


def _make_init_entries(rootfs: str) -> None:
    """Mount points and placeholders, made in the init layer so they never show in `docker diff`.

    The image is untrusted: its /etc or /dev may be a symlink to a host directory. Every entry is
    made through safepath's descriptor walk, symlinks followed inside the root, never on the host.
    What is already there (of whatever kind) is left alone.
    """
    root_fd = os.open(rootfs, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for d in INIT_DIRS:
            try:
                os.close(safepath.make_dirs(root_fd, d)[0])
            except NotADirectoryError:
                pass  # the image has a file there: left as it is, as before
        for f in INIT_FILES:
            try:
                safepath.make_file(root_fd, f)
            except NotADirectoryError:
                pass
        try:
            safepath.make_symlink(root_fd, "etc/mtab", "/proc/mounts")
        except NotADirectoryError:
            pass
    finally:
        os.close(root_fd)


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


def memory_limit_supported() -> bool:
    """Whether the kernel lets us limit a container's memory (cgroup v1 memory or cgroup v2)."""
    return os.path.isdir("/sys/fs/cgroup/memory") or os.path.exists("/sys/fs/cgroup/cgroup.controllers")


class NotRunning(Conflict):
    pass


class AlreadyRunning(Conflict):
    pass


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


class ContainerService:
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

    # -- create --------------------------------------------------------------------------------------

    def create(
        self, body: dict[str, Any], name: str = "", api_version: Version = CORE_VERSION
    ) -> tuple[Container, list[str]]:
        """A new container from a create body (read through the run-config schema at `api_version`)."""
        config, host_config = runconfig.normalize_create_body(body, api_version)
        check_host_config(self.exec, host_config)
        if not config.get("Image"):
            raise InvalidParameter("Config.Image is required")
        image = self.images.lookup(config["Image"])
        runconfig.merge_image_config(config, image.config)
        path, args = runconfig.path_and_args(config)
        warnings = []
        if config.get("Memory") and not memory_limit_supported():
            warnings.append("Your kernel does not support memory limit capabilities. Limitation discarded.")
            config["Memory"] = 0
        container_id = new_id()
        c = Container(self.root, container_id)
        c.config, c.path, c.args, c.image = config, path, args, image.id
        c.host_config = host_config or fresh(HOST_CONFIG_DEFAULTS)
        c.network_settings = {"_endpoints_config": runconfig.endpoints_config(body)}
        c.driver, c.exec_driver = self.driver.name, version_string(self.exec)
        if not config.get("Hostname"):
            config["Hostname"] = container_id[:12]
        c.name = validate(name) if name else ""
        if c.name:
            self.names.reserve(c.name, container_id)
        else:
            c.name = self.names.generate(container_id)
        tmp = os.path.join(self.root, "containers", f".tmp-{container_id}")
        undo: list[Callable[[], None]] = []
        # A crash before the rename below leaves volumes made for an unregistered container: the
        # intent lets the next start remove them (daemon/recovery.py).
        intent = Journal(self.root).begin("create", Container=container_id)
        try:
            self._create_layers(c, image.id)
            for hook in self.on_create:  # before config.json is written, so it records the volumes
                undo.append(hook(c))
            intent.step()
            os.makedirs(tmp, mode=0o700)
            for fname in ("hostname", "hosts", "resolv.conf"):
                atomic.write_bytes(os.path.join(tmp, fname), b"", 0o644)
            atomic.write_json(os.path.join(tmp, "config.json"), c.to_json())
            atomic.write_json(os.path.join(tmp, "hostconfig.json"), c.host_config)
            os.rename(tmp, c.root)
            atomic.fsync_dir(os.path.dirname(c.root))
        except BaseException:
            for step in reversed(undo):
                step()
            shutil.rmtree(tmp, ignore_errors=True)
            for layer in (c.id, c.init_id):
                self.driver.remove(layer)
            self.names.release_id(container_id)
            raise
        finally:
            intent.done()
        c.streams = Streams(c.log_path, c.tty)
        with self._lock:
            self._containers[c.id] = c
        self.events.publish("create", c.id, from_=config["Image"], name=c.name.lstrip("/"))
        return c, warnings

    def _create_layers(self, c: Container, image_id: str) -> None:
        driver = self.driver
        driver.create(c.init_id, image_id)
        rootfs = driver.get(c.init_id)
        try:
            _make_init_entries(rootfs)
        finally:
            driver.put(c.init_id)
        driver.create(c.id, c.init_id)

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
                command = self._command(c, rootfs)
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
            except BaseException:
                c.state.starting = False
                c.streams.abort(closers)
                self._release(c)
                raise
            ready.wait()
            if "error" in outcome:
                raise outcome["error"]

    def _command(self, c: Container, rootfs: str) -> Command:
        from ..execution.base import Mount

        config = c.config
        hostname = config.get("Hostname") or c.id[:12]
        env = ["HOME=/", f"PATH={DEFAULT_PATH}", f"HOSTNAME={hostname}", "container=lxc"]
        if config.get("Tty"):
            env.append("TERM=xterm")
        keys = {e.split("=", 1)[0] for e in config.get("Env") or []}
        env = [e for e in env if e.split("=", 1)[0] not in keys] + list(config.get("Env") or [])
        mounts = [
            Mount(c.file("resolv.conf"), "/etc/resolv.conf", True),
            Mount(c.file("hostname"), "/etc/hostname", True),
            Mount(c.file("hosts"), "/etc/hosts", True),
        ]
        memory = int(config.get("Memory") or 0)
        security = parse_security_opts(c.host_config.get("SecurityOpt"))
        return Command(
            id=c.id,
            rootfs=rootfs,
            entrypoint=c.path,
            args=list(c.args),
            env=env,
            user=config.get("User") or "",
            group_add=list(c.host_config.get("GroupAdd") or ()),
            workdir=config.get("WorkingDir") or "",
            hostname=hostname,
            tty=bool(config.get("Tty")),
            privileged=bool(c.host_config.get("Privileged")),
            network=None,
            resources=Resources(
                memory=memory,
                memory_swap=int(config.get("MemorySwap") or 0),
                cpu_shares=int(config.get("CpuShares") or 0),
            ),
            mounts=mounts,
            cgroup_parent=self.cgroup_parent,
            cap_add=list(c.host_config.get("CapAdd") or ()),
            cap_drop=list(c.host_config.get("CapDrop") or ()),
            seccomp=security.seccomp,
            seccomp_profile=security.seccomp_profile,
            no_new_privileges=security.no_new_privileges,
            lxc_conf=list(c.host_config.get("LxcConf") or ()),
        )

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
        except ContainerStartError as e:
            c.streams.abort(closers)
            c.state.set_stopped(e.exit_code, error=str(e))
            self._release(c)
            c.save()
            outcome["error"] = DockerError(f"Cannot start container {c.id[:12]}: {e}")
            self.events.publish("die", c.id, from_=c.config.get("Image", ""), exitCode=str(e.exit_code))
            ready.set()
            return
        except BaseException as e:  # a driver bug must not leave the container "starting" forever
            log.exception("exec driver failed for %s", c.id)
            c.streams.abort(closers)
            c.state.set_stopped(-1, error=str(e))
            self._release(c)
            c.save()
            outcome["error"] = DockerError(f"Cannot start container {c.id[:12]}: {e}")
            ready.set()
            return
        c.streams.finished()
        self._release(c)
        with c.lock:
            c.state.set_stopped(code)
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

    # -- remove --------------------------------------------------------------------------------------

    def remove(self, c: Container, force: bool = False, volumes: bool = False) -> None:
        if c.state.restarting and not c.state.running:  # between two runs of its restart policy
            if not force:
                raise Conflict(
                    f"You cannot remove a restarting container {c.id}. Stop the container before "
                    "attempting removal or use -f"
                )
            with c.lock:
                c.state.manually_stopped, c.state.restarting = True, False
        if c.state.running:
            if not force:
                raise Conflict(
                    "Conflict, You cannot remove a running container. Stop the container before attempting "
                    "removal or use -f"
                )
            try:
                self.kill(c, signals.SIGKILL)
            except NotRunning:
                pass
            c.state.wait_stopped(30)
        # Container, layers and (with -v) volumes go together, also across a crash: the intent is
        # rolled forward at the next start (daemon/recovery.py).
        intent = Journal(self.root).begin(
            "rm",
            Container=c.id,
            Layers=[c.id, c.init_id],
            Volumes=sorted(set((c.volumes or {}).values())),
            RemoveVolumes=volumes,
        )
        with c.lock:
            with self._lock:
                self._containers.pop(c.id, None)
            self.names.release_id(c.id)
            trash = os.path.join(self.root, "containers", f".tmp-del-{c.id}")
            try:
                os.rename(c.root, trash)
            except FileNotFoundError:
                trash = ""
            intent.step()
            for layer in (c.id, c.init_id):
                self.driver.remove(layer)
            intent.step()
            if trash:
                shutil.rmtree(trash, ignore_errors=True)
        for hook in self.on_remove:
            hook(c, volumes)
        intent.done()
        self.events.publish("destroy", c.id, from_=c.config.get("Image", ""), name=c.name.lstrip("/"))

    # -- daemon start and stop -----------------------------------------------------------------------

    def restore(self) -> list[Container]:
        """Load every container; return those to start again (they ran when the daemon stopped).

        Containers taken back (`_resume`, `_adopt`) may turn out dead at once; their release waits
        for `restored` (set by the daemon once networking holds their ports again), or it would
        race the restore of their port rules and leave those behind."""
        self.restored.clear()
        base = os.path.join(self.root, "containers")
        to_start = []
        for name in sorted(os.listdir(base)):
            path = os.path.join(base, name)
            if atomic.is_temp_name(name):
                shutil.rmtree(path, ignore_errors=True)
                continue
            try:
                c = Container.load(self.root, name)
            except (OSError, ValueError) as e:
                log.warning("skipping unreadable container %s: %s", name, e)
                continue
            if not self.driver.exists(c.id):
                log.warning("container %s lost its layer; it cannot run again", c.id)
            c.streams = Streams(c.log_path, c.tty)
            try:
                self.names.reserve(c.name, c.id)
            except Conflict:
                c.name = self.names.generate(c.id)
            with self._lock:
                self._containers[c.id] = c
            if c.state.running:
                if c.state.pid and self._resume(c):
                    pass  # kept whole by the exec driver while the daemon was down: live restore
                elif c.state.pid and self.exec.is_alive(c.id, c.state.pid):
                    self._adopt(c)
                else:
                    self.exec.cleanup(c.id)
                    code = c.state.exit_code
                    c.state.set_stopped(code)
                    c.save()
                    if self.restart_policy:
                        to_start.append(c)
        self.exec.resumed()
        return to_start

    def _resume(self, c: Container) -> bool:
        """Take back a container the exec driver kept (its stdio too); False if it was not kept."""
        command = Command(
            id=c.id, rootfs="", entrypoint=c.path, args=c.args, env=[], cgroup_parent=self.cgroup_parent
        )
        kept = self.exec.resume(command, c.state.pid)
        if kept is None:
            return False
        self.driver.get(c.id)
        c.command = command
        try:
            c.streams.resume(kept, bool(c.config.get("OpenStdin")))
        except (OSError, ValueError) as e:  # it runs on, without its output
            log.warning("taking back the output of %s: %s", c.id[:12], e)

        def watch() -> None:  # as _monitor does after the exec driver's run()
            code = self.exec.wait(c.id)
            c.streams.finished()
            self.restored.wait()
            self._release(c)
            with c.lock:
                c.state.set_stopped(code)
                if self.stopping and self.restart_policy:
                    # Stopped by the daemon's own shutdown: the next daemon starts it again.
                    doc = c.to_json()
                    doc["State"]["Running"] = True
                    atomic.write_json(c.file("config.json"), doc)
                else:
                    c.save()
            self.events.publish(
                "die", c.id, from_=c.config.get("Image", ""), exitCode=str(code), name=c.name.lstrip("/")
            )

        threading.Thread(target=watch, name=f"monitor-{c.id[:12]}", daemon=True).start()
        return True

    def _adopt(self, c: Container) -> None:
        # Its stdio went with the old daemon: Docker 0.9 calls such a container a ghost.
        c.state.ghost = True
        self.driver.get(c.id)
        c.command = Command(
            id=c.id,
            rootfs="",
            entrypoint=c.path,
            args=c.args,
            env=[],
            cgroup_parent=self.cgroup_parent,
        )

        def watch() -> None:
            code = self.exec.adopt(c.command, c.state.pid)
            self.restored.wait()
            self._release(c)
            c.state.set_stopped(-1 if code is None else code)
            c.save()
            self.events.publish("die", c.id, from_=c.config.get("Image", ""))

        threading.Thread(target=watch, name=f"adopt-{c.id[:12]}", daemon=True).start()

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
