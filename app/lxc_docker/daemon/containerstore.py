"""Create and remove: a container's record (`<root>/containers/<id>`), its two layers (the init
layer with its mount points and placeholders, and the container's own) and its name come and go
together, each operation under an intent (sysutil/journal.py) that the next daemon finishes or undoes
after a crash (daemon/recovery.py). A mixin of `ContainerService` (containers.py).
"""

from __future__ import annotations

import os
import shutil
import signal as signals
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .. import runconfig
from ..archive import safepath
from ..errors import Conflict, InvalidParameter
from ..execution.select import check_host_config, version_string
from ..image.image import new_id
from ..runconfig.schema import CORE_VERSION, HOST_CONFIG_DEFAULTS, Version, fresh
from ..sysutil import atomic
from ..sysutil.journal import Journal
from .conflicts import NotRunning
from .container import Container
from .names import validate
from .streams import Streams

if TYPE_CHECKING:
    from .containers import ContainerService

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


def memory_limit_supported() -> bool:
    """Whether the kernel lets us limit a container's memory (cgroup v1 memory or cgroup v2)."""
    return os.path.isdir("/sys/fs/cgroup/memory") or os.path.exists("/sys/fs/cgroup/cgroup.controllers")


class ContainerStore:
    # -- create --------------------------------------------------------------------------------------

    def create(
        self: ContainerService, body: dict[str, Any], name: str = "", api_version: Version = CORE_VERSION
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
        c.streams = Streams(c.log_path, c.tty, self.loggers.opener(c))
        with self._lock:
            self._containers[c.id] = c
        self.events.publish("create", c.id, from_=config["Image"], name=c.name.lstrip("/"))
        return c, warnings

    def _create_layers(self: ContainerService, c: Container, image_id: str) -> None:
        driver = self.driver
        driver.create(c.init_id, image_id)
        rootfs = driver.get(c.init_id)
        try:
            _make_init_entries(rootfs)
        finally:
            driver.put(c.init_id)
        driver.create(c.id, c.init_id)

    # -- remove --------------------------------------------------------------------------------------

    def remove(self: ContainerService, c: Container, force: bool = False, volumes: bool = False) -> None:
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
