"""Volumes: new data volumes (`-v /path`, an image's VOLUME), host bind mounts (`-v host:path[:mode]`)
and `--volumes-from`, resolved when a container is created and bind-mounted each time it starts.
Their files on disk (layout, making, deleting) are `volumefiles.py`'s.

Lifetime rule. Nothing counts references: a container's `Volumes` map (container path -> host path,
persisted in its config.json) is the only record, and the set of containers referencing a volume is
computed from all registered containers' maps whenever it is needed, so it is right after a daemon
restart without any state of its own. A volume's data is deleted only by `rm -v` of a container that
references it, and only when no other container (nor a container being created) references it. A
plain `rm` never deletes volume data: a volume no container references any more stays on disk under
volumes/ and is reachable by no command (as in Docker 0.9, `--volumes-from` needs a container that
still references it). Bind-mounted host paths are never deleted. One exception: a volume made at
create for a container that has never run, which a bind or `--volumes-from` given at start (API 1.9
clients send them there) replaces, is deleted then unless another container references it.

Named volumes (`-v NAME:/path`, `docker volume create`) live in the same directory with the same
layout (`volumestore.py`); `namedvolumes.py` serves the `/volumes` API and their events. They follow
the same reference computation (a container referencing one makes it "in use"), but no `rm -v`
ever deletes one: only `docker volume rm`, when no container references it. Anonymous volumes are
listed there too, by their 64-hex id, and `docker volume rm` deletes one no container references.

Mount points made at create go into the container's init layer, beside /etc/hosts and the others,
so that neither `diff` nor `commit` shows them.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from typing import Any, Protocol

from ..errors import DockerError, InvalidParameter, NotFound
from ..execution.base import Command, Mount
from ..storage.base import StorageDriver
from ..sysutil import atomic
from . import bindpropagation
from .container import Container
from .namedvolumes import NamedVolumes, Publisher
from .state import ZERO_TIME
from .volumefiles import VolumeFiles
from .volumemounts import fill_from_image, make_mountpoints
from .volumespec import (
    Bind,
    clean_destination,
    parse_binds,
    parse_volumes_from,
    plan,
    volumes_from_specs,
)
from .volumestore import VolumeStore

log = logging.getLogger(__name__)

# -- the service -------------------------------------------------------------------------------------


class ContainerLookup(Protocol):
    """What volumes need of the containers: `--volumes-from` sources, and who references what."""

    def get(self, name: str) -> Container: ...

    def all(self) -> list[Container]: ...


class LifecycleHooks(Protocol):
    """The container service's hook lists the volume service joins."""

    on_create: list[Callable[[Container], Callable[[], None]]]
    prepare_run: list[Callable[[Container, Command], None]]
    on_remove: list[Callable[[Container, bool], None]]


class VolumeService(VolumeFiles):
    """Volumes for the container lifecycle: resolved and made at create, mounted at each start,
    deleted or kept at rm; the files of anonymous volumes are VolumeFiles' (volumefiles.py)."""

    def __init__(
        self, root: str, containers: ContainerLookup, driver: StorageDriver, events: Publisher | None = None
    ) -> None:
        self.containers = containers
        self.driver = driver
        self.events = events
        self.dir = os.path.join(os.path.realpath(root), "volumes")
        os.makedirs(self.dir, mode=0o700, exist_ok=True)
        # Volumes taken by containers being created: they are not registered yet, so an `rm -v`
        # running meanwhile would otherwise find the volume unreferenced and delete it.
        self._pending: dict[str, set[str]] = {}
        self._lock = threading.Lock()
        self._sweep()
        self.store = VolumeStore(self.dir)
        # The `/volumes` API and `-v NAME:/path`; it shares this service's lock and references.
        self.named = NamedVolumes(os.path.realpath(root), self.store, self, events, containers)

    @property
    def lock(self) -> threading.Lock:
        return self._lock

    def users_of(self, host_path: str) -> list[str]:
        """Ids of the containers (also those being created) whose volumes include `host_path`;
        call with the lock held."""
        users = {c.id for c in self.containers.all() if host_path in (c.volumes or {}).values()}
        users.update(cid for cid, pending in self._pending.items() if host_path in pending)
        return sorted(users)

    # -- hooks -------------------------------------------------------------------------------------

    def on_create(self, c: Container) -> Callable[[], None]:
        """Resolve and make the container's volumes; return the undo for a create() that fails later."""
        wanted = self._wanted(c)
        volumes, made, dirs = self._resolve(c, *wanted, fixed={}, reusable={}, mountpoints=True)
        c.volumes = {dest: src for dest, (src, _) in volumes.items()}
        c.volumes_rw = {dest: rw for dest, (_, rw) in volumes.items()}

        def undo() -> None:
            with self._lock:
                self._pending.pop(c.id, None)
            self._discard(made, dirs)
            c.volumes, c.volumes_rw = {}, {}

        return undo

    def prepare_run(self, c: Container, command: Command) -> None:
        saved = _saved_host_config(c)
        try:
            paths, binds, _ = self._wanted(c)
            asked = paths + [b.destination for b in binds]
            if self._start_spec(c.host_config) != self._start_spec(saved) or not set(asked) <= set(c.volumes):
                self._replan(c)
        except DockerError:
            # start() merged the refused host config into the container already: without this, every
            # later plain `start` would fail on it too.
            for key in ("Binds", "VolumesFrom"):
                c.host_config[key] = saved.get(key)
            raise
        propagation = bindpropagation.modes(c.volumes or {}, binds)  # raises if a source can't give it
        for dest in sorted(c.volumes or {}):
            mount = Mount(
                c.volumes[dest],
                dest,
                bool(c.volumes_rw.get(dest, True)),
                propagation=propagation.get(dest, ""),
            )
            command.mounts.append(mount)

    def on_remove(self, c: Container, remove_volumes: bool) -> None:
        self.finish_remove(c.id, list((c.volumes or {}).values()), remove_volumes)

    def finish_remove(self, container_id: str, host_paths: list[str], remove_volumes: bool) -> None:
        """What `rm` does to a container's volumes once the container is gone: with -v delete those no
        other container references; without, mark them kept (see `KEPT`). Also called by recovery
        to finish an `rm` a crash interrupted, so it must be idempotent."""
        with self._lock:
            self._pending.pop(container_id, None)
            unreferenced = self._own_volumes(host_paths) - self._referenced(exclude=container_id)
            # Named volumes outlive every container: only `docker volume rm` deletes them.
            unreferenced = {vid for vid in unreferenced if not self.store.is_named(vid)}
            if not remove_volumes:
                for vid in sorted(unreferenced):
                    self._mark_kept(vid)
                return
            trash = [self._retire(vid) for vid in sorted(unreferenced)]
        for path in trash:
            self._delete(path)
            self._publish("destroy", os.path.basename(path).removeprefix(".tmp-del-"))

    def discard_made_for(self, container_id: str) -> list[str]:
        """Delete the volumes made for `container_id` that no container references: recovery's undo of
        a create a crash interrupted before the container was registered."""
        with self._lock:
            referenced = self._referenced()
            doomed = [
                vid
                for vid in sorted(os.listdir(self.dir))
                if not atomic.is_temp_name(vid)
                and vid not in referenced
                and self._made_for(self._data(vid), container_id)
            ]
            trash = [self._retire(vid) for vid in doomed]
        for path in trash:
            self._delete(path)
        return doomed

    # -- resolution --------------------------------------------------------------------------------

    def _wanted(self, c: Container) -> tuple[list[str], list[Bind], list[tuple[str, bool | None]]]:
        """Everything the user asked for, validated before anything is made."""
        paths = []
        for path in c.config.get("Volumes") or {}:
            cleaned = clean_destination(path)
            if cleaned not in paths:
                paths.append(cleaned)
        binds = parse_binds(c.host_config.get("Binds"))
        froms = [parse_volumes_from(s) for s in volumes_from_specs(c.config, c.host_config)]
        return paths, binds, froms

    def _resolve(
        self,
        c: Container,
        paths: list[str],
        binds: list[Bind],
        froms: list[tuple[str, bool | None]],
        *,
        fixed: dict[str, tuple[str, bool]],
        reusable: dict[str, str],
        mountpoints: bool,
    ) -> tuple[dict[str, tuple[str, bool]], list[str], list[str]]:
        """The container's final volumes, with new volumes and missing bind directories made.

        Returns (volumes, ids of the volumes made, host directories made) so a failure later on can
        take them back; on failure here, what this call made is already gone.
        """
        with self._lock:
            sources = []
            for name, mode in froms:
                try:
                    source = self.containers.get(name)
                except NotFound:
                    # 400, not 404: clients read a 404 from create as "no such image" and pull.
                    raise InvalidParameter(f"Container {name} not found. Impossible to mount its volumes")
                if source.id == c.id:
                    raise InvalidParameter(f"Container {name} cannot mount volumes from itself")
                sources.append((dict(source.volumes or {}), dict(source.volumes_rw or {}), mode))
            # A named volume is made here, under the lock, so that no `volume rm` slips in between.
            named = {}
            made_named: list[str] = []
            try:
                for i, b in enumerate(binds):
                    if b.named:
                        data, has_options, made_now = self.named.ensure(b.source)
                        binds[i] = Bind(data, b.destination, b.writable)
                        named[b.destination] = (data, has_options)
                        made_named += [b.source] if made_now else []
            except BaseException:
                self.named.discard_made(made_named)
                raise
            entries = plan(paths, binds, sources, fixed, reusable)
            self._pending[c.id] = {src for src, _ in entries.values() if src}
        made: list[str] = []
        dirs: list[str] = []
        try:
            for b in binds:
                if b.destination not in named and entries.get(b.destination) == (b.source, b.writable):
                    real = self._bind_source(b.source, dirs)
                    entries[b.destination] = (real, b.writable)
            with self._layer(c.init_id) as image_root:
                for dest, (src, rw) in list(entries.items()):
                    if not src:
                        vid = self._new_volume(c.id, dest, image_root)
                        made.append(vid)
                        entries[dest] = (self._data(vid), rw)
                    elif dest in named and (src, False) == named[dest] and not os.listdir(src):
                        # Docker copies the image's content into an empty named volume, each time.
                        fill_from_image(image_root, dest, src)
                if mountpoints:
                    make_mountpoints(image_root, entries)
            if mountpoints:
                # A driver that copied the init layer when it made the container's (vfs) does not
                # see the mount points made above; elsewhere (overlay) this finds them all there.
                with self._layer(c.id) as rootfs, self._layer(c.init_id) as image_root:
                    make_mountpoints(rootfs, entries, times_from=image_root)
            with self._lock:
                self._pending[c.id] = {src for src, _ in entries.values()}
        except BaseException:
            with self._lock:
                self._pending.pop(c.id, None)
                # Bad input changes nothing: a volume `-v NAME:` made just now goes too.
                self.named.discard_made(made_named)
            self._discard(made, dirs)
            raise
        return entries, made, dirs

    def _replan(self, c: Container) -> None:
        """HostConfig given again at start (API 1.9 clients send Binds there) changed the volumes.

        A container that never ran is resolved afresh, as Docker 0.9 did at first start, reusing the
        volumes made for it at create; one that ran keeps every volume it has, and only gains paths.
        """
        paths, binds, froms = self._wanted(c)
        current = {dest: (src, bool(c.volumes_rw.get(dest, True))) for dest, src in (c.volumes or {}).items()}
        first_run = c.state.started_at == ZERO_TIME
        own = (
            {dest: src for dest, (src, _) in current.items() if self._made_for(src, c.id)}
            if first_run
            else {}
        )
        fixed = {} if first_run else current
        if not first_run:
            taken = [b.destination for b in binds if b.destination in current]
            if taken:
                log.warning(
                    "container %s already has volumes at %s; binds given at start ignored",
                    c.id[:12],
                    ", ".join(taken),
                )
        entries, _, _ = self._resolve(c, paths, binds, froms, fixed=fixed, reusable=own, mountpoints=False)
        dropped = {src for src, _ in current.values()} - {src for src, _ in entries.values()}
        c.volumes = {dest: src for dest, (src, _) in entries.items()}
        c.volumes_rw = {dest: rw for dest, (_, rw) in entries.items()}
        c.save()
        with self._lock:
            self._pending.pop(c.id, None)
            doomed = {vid for vid in self._own_volumes(dropped) if self._made_for(self._data(vid), c.id)}
            trash = [self._retire(vid) for vid in sorted(doomed - self._referenced())]
        for path in trash:
            self._delete(path)

    @staticmethod
    def _start_spec(host_config: dict[str, Any]) -> tuple[list[Any], list[Any]]:
        return list(host_config.get("Binds") or []), list(host_config.get("VolumesFrom") or [])

    def _bind_source(self, source: str, made_dirs: list[str]) -> str:
        if not os.path.exists(source):
            # Docker creates a missing host directory; remember which, to take them back on failure.
            missing = []
            path = source
            while path != "/" and not os.path.lexists(path):
                missing.append(path)
                path = os.path.dirname(path)
            try:
                os.makedirs(source, 0o755, exist_ok=True)
            except OSError as e:
                raise InvalidParameter(f"Cannot create the host directory {source}: {e.strerror}")
            made_dirs.extend(reversed(missing))
        # As Docker 0.9 did: the path is fixed now, a symlink on the host changed later does not move it.
        return os.path.realpath(source)

    # -- references --------------------------------------------------------------------------------

    def _referenced(self, exclude: str = "") -> set[str]:
        """Ids of the volumes some container other than `exclude` uses. Call with the lock held."""
        paths: set[str] = set()
        registered = set()
        for other in self.containers.all():
            registered.add(other.id)
            if other.id != exclude:
                paths.update((other.volumes or {}).values())
        for cid in [cid for cid in self._pending if cid in registered]:
            del self._pending[cid]  # registered now: its config counts from here on
        for cid, pending in self._pending.items():
            if cid != exclude:
                paths.update(pending)
        return self._own_volumes(paths)

    def _layer(self, layer_id: str) -> _Mounted:
        return _Mounted(self.driver, layer_id)


class _Mounted:
    def __init__(self, driver: StorageDriver, layer_id: str) -> None:
        self.driver = driver
        self.layer_id = layer_id

    def __enter__(self) -> str:
        return os.path.realpath(self.driver.get(self.layer_id))

    def __exit__(self, *exc: object) -> None:
        self.driver.put(self.layer_id)


def _saved_host_config(c: Container) -> dict[str, Any]:
    # The host config as last written: start() merges a new one into c.host_config before the hooks
    # run and writes it only once the container runs.
    try:
        doc = atomic.read_json(c.file("hostconfig.json"))
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


def wire(service: VolumeService, hooks: LifecycleHooks) -> VolumeService:
    """Hook the volume service into the container lifecycle."""
    hooks.on_create.append(service.on_create)
    hooks.prepare_run.append(service.prepare_run)
    hooks.on_remove.append(service.on_remove)
    return service
