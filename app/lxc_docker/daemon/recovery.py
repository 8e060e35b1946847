"""Finish or undo, at start, the store operations a crash interrupted (the intents of
`sysutil/journal.py`).

Runs in `Daemon.__init__` once the graph, tags, containers and volumes are loaded (each has already
swept its own temporary names) and before the orphan-layer sweep, which then takes any layer an
undone operation left. Each rule is idempotent: a crash during recovery is recovered the same way.

| op                                  | rule                                                              |
|-------------------------------------|-------------------------------------------------------------------|
| `rm`                                | forward: container, its layers, with -v its unreferenced volumes  |
| `create`                            | back, unless the container got registered: its new volumes go     |
| `commit`, `import`, `insert`,       | forward when every image named arrived (the tags are set),        |
| `load`, `pull`                      | back otherwise (the images of the operation that did arrive go)   |
| `rmi`                               | forward: the tags named go, then the images named, child first    |
| `volume-rm`                         | forward, unless a container uses the volume now                   |
| `volume-create`                     | nothing to do: the volume appears by one rename, or not at all    |

`pull` is the hook for the registry (issue 10): it writes `Journal(root).begin("pull",
Images=[ids, parents first], Tags=[[repo, tag, id], ...])` before its first layer, registers the images
with `Graph.register`, sets the tags, and leaves the block; this module needs nothing more.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import DockerError, NotFound
from ..image.graph import Graph
from ..image.tags import TagStore
from ..storage.base import StorageDriver
from ..sysutil.journal import Journal
from .container import Container

if TYPE_CHECKING:
    from .namedvolumes import NamedVolumes

log = logging.getLogger(__name__)

IMAGE_OPS = ("commit", "import", "insert", "load", "pull")


class Containers(Protocol):
    def get(self, name: str) -> Container: ...

    def remove(self, c: Container, force: bool = False, volumes: bool = False) -> None: ...


class Volumes(Protocol):
    def finish_remove(self, container_id: str, host_paths: list[str], remove_volumes: bool) -> None: ...

    def discard_made_for(self, container_id: str) -> list[str]: ...

    @property
    def named(self) -> NamedVolumes: ...


@dataclass
class Store:
    root: str
    graph: Graph
    tags: TagStore
    driver: StorageDriver
    containers: Containers
    volumes: Volumes


def recover(store: Store) -> list[str]:
    """Replay every pending intent; returns one line per operation recovered (for the log)."""
    journal = Journal(store.root)
    done = []
    for path, doc in journal.pending():
        if doc is None:
            log.warning("dropping unreadable intent %s", path)
            journal.forget(path)
            continue
        op = doc["Op"]
        rule = RULES.get(op)
        if rule is None:
            # A newer daemon's operation: leave it for that daemon rather than guess.
            log.warning("intent %s: unknown operation %r left in place", path, op)
            continue
        try:
            what = rule(store, doc)
        except (DockerError, OSError, ValueError, KeyError, TypeError) as e:
            log.error("could not recover interrupted %s (%s): %s", op, path, e)
            continue
        log.warning("recovered an interrupted %s: %s", op, what)
        done.append(f"{op}: {what}")
        journal.forget(path)
    return done


def _rm(store: Store, doc: dict[str, Any]) -> str:
    cid = str(doc["Container"])
    volumes = [str(v) for v in doc.get("Volumes") or []]
    remove_volumes = bool(doc.get("RemoveVolumes"))
    try:
        c = store.containers.get(cid)
    except NotFound:
        c = None
    if c is not None and c.id == cid:
        # Killed before the container directory went: do the whole rm again.
        store.containers.remove(c, force=True, volumes=remove_volumes)
        return f"container {cid[:12]} removed"
    for layer in doc.get("Layers") or []:
        store.driver.remove(str(layer))
    store.volumes.finish_remove(cid, volumes, remove_volumes)
    return f"container {cid[:12]} removal finished" + (" with its volumes" if remove_volumes else "")


def _create(store: Store, doc: dict[str, Any]) -> str:
    cid = str(doc["Container"])
    try:
        if store.containers.get(cid).id == cid:
            return f"container {cid[:12]} was created"
    except NotFound:
        pass
    gone = store.volumes.discard_made_for(cid)
    # Its layers belong to no container now: the orphan-layer sweep right after takes them.
    return f"container {cid[:12]} not created" + (f", {len(gone)} volume(s) removed" if gone else "")


def _images(store: Store, doc: dict[str, Any]) -> str:
    ids = [str(i) for i in doc.get("Images") or []]
    tags = [(str(r), str(t), str(i)) for r, t, i in doc.get("Tags") or []]
    arrived = [i for i in ids if store.graph.exists(i)]
    if len(arrived) == len(ids):
        wanted = [t for t in tags if store.graph.exists(t[2])]
        if wanted:
            store.tags.set_many(wanted)
        return f"completed ({len(ids)} image(s), {len(wanted)} tag(s))"
    for image_id in reversed(arrived):
        _delete_image(store, image_id)
    return f"rolled back ({len(arrived)} of {len(ids)} image(s) removed)"


def _rmi(store: Store, doc: dict[str, Any]) -> str:
    untag = [(str(r), str(t)) for r, t in doc.get("Untag") or []]
    store.tags.delete_many(untag)
    deleted = 0
    for image_id in doc.get("Delete") or []:
        if store.graph.exists(str(image_id)) and _delete_image(store, str(image_id)):
            deleted += 1
    return f"{len(untag)} tag(s) removed, {deleted} image(s) deleted"


def _delete_image(store: Store, image_id: str) -> bool:
    # Something made since (a child image, a tag) keeps it: never delete what another operation uses.
    if store.tags.tags_of(image_id):
        return False
    try:
        store.graph.delete(image_id)
    except DockerError as e:
        log.warning("recovery keeps image %s: %s", image_id[:12], e)
        return False
    return True


def _volume_rm(store: Store, doc: dict[str, Any]) -> str:
    name = str(doc["Volume"])
    if store.volumes.named.finish_remove(name):
        return f"volume {name} removed"
    return f"volume {name} kept (gone already, or in use)"


def _volume_create(store: Store, doc: dict[str, Any]) -> str:
    # The volume directory is renamed into place whole; the start-up sweep took a half-made one.
    name = str(doc["Volume"])
    made = store.volumes.named.store.meta(name) is not None
    return f"volume {name} {'was created' if made else 'not created'}"


RULES: dict[str, Callable[[Store, dict[str, Any]], str]] = {
    "rm": _rm,
    "volume-rm": _volume_rm,
    "volume-create": _volume_create,
    "create": _create,
    "rmi": _rmi,
    **{op: _images for op in IMAGE_OPS},
}
