"""The `/volumes` API over both kinds of volume: create, inspect, list (with filters), remove, and
the volume events (create, mount, unmount, destroy) of Docker 1.12.

A volume is "in use" when some container, running or not (or one being created), has its `_data`
in its `Volumes` map: the same computation as `volumes.py`'s lifetime rule, under the same lock, so
a `docker volume rm` cannot race a `docker create -v NAME:/path`. Removal and creation write an
intent (`sysutil/journal.py`); `daemon/recovery.py` finishes a removal and checks a creation.
"""

from __future__ import annotations

import os
import threading
from typing import Any, Protocol

from ..errors import Conflict, InvalidParameter, NotFound
from ..execution.base import Command
from ..image.image import new_id
from ..sysutil.journal import Journal
from .container import Container
from .filtering import FilterArgs
from .volumestore import DRIVER, NAMED, VolumeStore, check_driver, check_options, validate_name

VOLUME_FILTERS = frozenset({"dangling", "name", "driver", "label"})


class Publisher(Protocol):
    def publish(
        self, action: str, id: str, *, type: str = "container", from_: str = "", **attributes: str
    ) -> Any: ...


class References(Protocol):
    """What the volume service tells about who uses a volume (its lock held)."""

    lock: threading.Lock

    def users_of(self, host_path: str) -> list[str]: ...


class ContainerList(Protocol):
    def all(self) -> list[Container]: ...


class NamedVolumes:
    def __init__(
        self,
        root: str,
        store: VolumeStore,
        refs: References,
        events: Publisher | None,
        containers: ContainerList | None = None,
    ) -> None:
        self.root = root
        self.containers = containers
        self.store = store
        self.refs = refs
        self.events = events

    # -- the API -----------------------------------------------------------------------------------

    def create(self, body: Any) -> dict[str, Any]:
        if body is None:
            body = {}
        if not isinstance(body, dict):
            raise InvalidParameter("The volume create body must be a JSON object")
        name = body.get("Name") or ""
        if not isinstance(name, str):
            raise InvalidParameter("Name must be a string")
        check_driver(body.get("Driver"))
        labels = body.get("Labels") or {}
        if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
            raise InvalidParameter("Labels must be an object of strings")
        options = check_options(body.get("DriverOpts"))
        if not name:
            name = new_id()  # Docker's own: a 64-hex name, like an anonymous volume's
        validate_name(name)
        with self.refs.lock:
            made = self._ensure(name, options, labels)
        if made:
            self._publish("create", name)
        return self.inspect(name)

    def inspect(self, name: str) -> dict[str, Any]:
        meta = self.store.meta(name)
        if meta is None:
            raise NotFound(f"get {name}: no such volume")
        return self._doc(name, meta)

    def list(self, filters: FilterArgs) -> list[dict[str, Any]]:
        filters.validate(VOLUME_FILTERS)
        dangling = _dangling_value(filters)
        result = []
        with self.refs.lock:
            names = self.store.names()
            used = {n for n in names if self.refs.users_of(self.store.data(n))}
        for name in names:
            meta = self.store.meta(name)
            if meta is None:
                continue
            if dangling is not None and (name not in used) != dangling:
                continue
            if not filters.match("name", name) or not filters.match("driver", DRIVER):
                continue
            if not filters.match_kv_list("label", meta.get("Labels") or {}):
                continue
            result.append(self._doc(name, meta))
        return result

    def remove(self, name: str, force: bool = False) -> None:
        journal = Journal(self.root)
        with self.refs.lock:
            if self.store.meta(name) is None:
                if force:
                    return  # Docker: `rm -f` of a missing volume is no error
                raise NotFound(f"get {name}: no such volume")
            users = self.refs.users_of(self.store.data(name))
            if users:
                raise Conflict(f"remove {name}: volume is in use - [{', '.join(sorted(users))}]")
            intent = journal.begin("volume-rm", Volume=name)
            trash = self.store.retire(name)
        # Out of sight now: the data is deleted without holding up every create meanwhile.
        with intent:
            intent.step()
            self.store.delete(trash)
        self._publish("destroy", name)

    def finish_remove(self, name: str) -> bool:
        """Recovery's roll forward of a `volume rm`: the volume goes unless something uses it now."""
        with self.refs.lock:
            if self.store.meta(name) is None or self.refs.users_of(self.store.data(name)):
                return False
            self.store.delete(self.store.retire(name))
        return True

    # -- `-v NAME:/path` ---------------------------------------------------------------------------

    def ensure(self, name: str) -> tuple[str, bool, bool]:
        """The data directory of volume `name`, made when missing (lock held by the caller), whether
        it holds driver options (those are not filled from the image) and whether it was made now."""
        validate_name(name)
        made = self._ensure(name, {}, {})
        if made:
            self._publish("create", name)
        meta = self.store.meta(name) or {}
        return self.store.data(name), bool(meta.get("Options")), made

    def discard_made(self, names: list[str]) -> None:
        """Take back volumes `ensure` made for a create that failed (lock held), unless used."""
        for name in names:
            if not self.refs.users_of(self.store.data(name)):
                self.store.delete(self.store.retire(name))
                self._publish("destroy", name)

    def _ensure(self, name: str, options: dict[str, str], labels: dict[str, str]) -> bool:
        if self.store.meta(name) is not None:
            return False
        if os.path.lexists(os.path.join(self.store.dir, name)):
            raise InvalidParameter(f"create {name}: a damaged volume of that name is in the way")
        with Journal(self.root).begin("volume-create", Volume=name):
            self.store.create(name, options, labels)
        return True

    # -- container hooks: mounts of volumes with options, and the mount/unmount events ------------

    def prepare_run(self, c: Container, command: Command) -> None:
        for dest, src in sorted((c.volumes or {}).items()):
            name = self._name_of(src)
            if not name:
                continue
            # On a failure the container service runs the release hooks: release_run unmounts.
            self.store.mount_for(name)
            rw = "true" if c.volumes_rw.get(dest, True) else "false"
            attributes = {"container": c.id, "destination": dest, "propagation": "", "read/write": rw}
            self._publish("mount", name, **attributes)

    def release_run(self, c: Container) -> None:
        for src in sorted(set((c.volumes or {}).values())):
            name = self._name_of(src)
            if not name:
                continue
            others = self.containers.all() if self.containers is not None else []
            used = any(o.id != c.id and o.state.running and src in (o.volumes or {}).values() for o in others)
            self.store.unmount_unless(name, used)
            self._publish("unmount", name, container=c.id)

    def _name_of(self, host_path: str) -> str:
        head, tail = os.path.split(host_path.rstrip("/"))
        parent, name = os.path.split(head)
        return name if tail == "_data" and parent == self.store.dir and self.store.meta(name) else ""

    # -- helpers -----------------------------------------------------------------------------------

    def _doc(self, name: str, meta: dict[str, Any]) -> dict[str, Any]:
        named = bool(meta.get(NAMED))
        return {
            "Name": name,
            "Driver": DRIVER,
            "Mountpoint": self.store.data(name),
            # Docker keeps no labels nor options for a volume it made for a container: null.
            "Labels": (meta.get("Labels") or {}) if named else None,
            "Scope": "local",
            "Options": (meta.get("Options") or {}) if named else None,
        }

    def _publish(self, action: str, name: str, **attributes: str) -> None:
        if self.events is not None:
            self.events.publish(action, name, type="volume", driver=DRIVER, **attributes)


def _dangling_value(filters: FilterArgs) -> bool | None:
    values = filters.get("dangling")
    if not values:
        return None
    wanted = set()
    for value in values:
        if value.lower() in ("true", "1"):
            wanted.add(True)
        elif value.lower() in ("false", "0"):
            wanted.add(False)
        else:
            raise InvalidParameter(f"Invalid filter 'dangling={value}'")
    return wanted.pop() if len(wanted) == 1 else None


def wire(volumes: NamedVolumes, hooks: Any) -> NamedVolumes:
    """Join the container lifecycle: mounts and events at start, unmounts and events at stop."""
    hooks.prepare_run.append(volumes.prepare_run)
    hooks.release_run.append(volumes.release_run)
    return volumes
