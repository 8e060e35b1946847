"""The graph: every image layer the daemon knows, its metadata under `graph/<id>/`, its files in the
storage driver.

Crash safety: a layer is first written by the storage driver, then its metadata directory is built
under a temporary name and renamed into place. An image exists once `graph/<id>` exists; anything
else found at start-up (temporary directories, driver layers nobody owns) is debris and removed.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
from collections.abc import Callable, Iterable
from typing import Any, BinaryIO

from .. import __version__
from ..errors import Conflict, InvalidParameter, NotFound
from ..storage.base import StorageDriver
from ..sysutil import atomic
from .image import Image, new_id

log = logging.getLogger(__name__)


class Graph:
    def __init__(self, root: str, driver: StorageDriver) -> None:
        self.root = os.path.join(root, "graph")
        self.driver = driver
        self._images: dict[str, Image] = {}
        self._lock = threading.RLock()
        os.makedirs(self.root, mode=0o700, exist_ok=True)
        self._restore()

    # -- start-up ------------------------------------------------------------------------------------

    def _restore(self) -> None:
        for name in os.listdir(self.root):
            path = os.path.join(self.root, name)
            if atomic.is_temp_name(name):
                shutil.rmtree(path, ignore_errors=True)
                continue
            try:
                image = Image.from_json(atomic.read_json(os.path.join(path, "json")))
                if image.id != name:
                    raise ValueError(f"id {image.id} does not match directory")
                image.size = _read_layersize(path, image.size)
            except (OSError, ValueError) as e:
                log.warning("removing unreadable image %s: %s", name, e)
                self._discard_dir(name)
                continue
            self._images[image.id] = image
        # An image whose layer or parent vanished cannot be used; drop it (and so its children).
        changed = True
        while changed:
            changed = False
            for image in list(self._images.values()):
                if (image.parent and image.parent not in self._images) or not self.driver.exists(image.id):
                    log.warning("removing image %s: its layer or parent is missing", image.id)
                    del self._images[image.id]
                    self._discard_dir(image.id)
                    changed = True

    def remove_orphan_layers(self, keep: Iterable[str] = ()) -> list[str]:
        """Remove driver layers that belong to no image and to nothing in `keep` (containers)."""
        wanted = set(self._images) | set(keep)
        removed = []
        for layer in self.driver.list_ids():
            if layer not in wanted:
                log.info("removing orphan layer %s", layer)
                self.driver.remove(layer)
                removed.append(layer)
        return removed

    # -- queries -------------------------------------------------------------------------------------

    def get(self, image_id: str) -> Image:
        image = self._images.get(image_id)
        if image is None:
            raise NotFound(f"No such image: {image_id}")
        return image

    def exists(self, image_id: str) -> bool:
        return image_id in self._images

    def all(self) -> list[Image]:
        with self._lock:
            return list(self._images.values())

    def __len__(self) -> int:
        return len(self._images)

    def resolve_prefix(self, prefix: str) -> str | None:
        """Full id for an unambiguous id prefix; None when nothing matches."""
        if prefix in self._images:
            return prefix
        if not prefix or any(c not in "0123456789abcdef" for c in prefix):
            return None
        with self._lock:
            matches = [i for i in self._images if i.startswith(prefix)]
        if len(matches) > 1:
            raise InvalidParameter(f"Multiple IDs found with provided prefix: {prefix}")
        return matches[0] if matches else None

    def children(self) -> dict[str, list[str]]:
        result: dict[str, list[str]] = {}
        with self._lock:
            for image in self._images.values():
                result.setdefault(image.parent, []).append(image.id)
        return result

    def has_children(self, image_id: str) -> bool:
        with self._lock:
            return any(img.parent == image_id for img in self._images.values())

    def history(self, image_id: str) -> list[Image]:
        """The image and its ancestors, newest first."""
        chain = []
        current: str = image_id
        while current:
            image = self.get(current)
            chain.append(image)
            current = image.parent
        return chain

    def virtual_size(self, image_id: str) -> int:
        return sum(img.size for img in self.history(image_id))

    # -- changes -------------------------------------------------------------------------------------

    def create(
        self,
        layer: BinaryIO | None,
        *,
        parent: str = "",
        comment: str = "",
        author: str = "",
        config: dict[str, Any] | None = None,
        container: str = "",
        container_config: dict[str, Any] | None = None,
        fill: Callable[[str], int] | None = None,
        image_id: str = "",
    ) -> Image:
        """Make a new image from a layer tar stream (or, with `fill`, a callback given the new layer id
        that writes the layer and returns its size). `image_id`: an id chosen beforehand (see
        `new_image_id`), so that an intent journal can name the image before it exists."""
        image = Image(
            id=image_id or new_id(),
            parent=parent,
            comment=comment,
            author=author,
            config=config,
            container=container,
            container_config=container_config,
            docker_version=__version__,
        )
        return self.register(image, layer, fill=fill)

    def register(
        self, image: Image, layer: BinaryIO | None, *, fill: Callable[[str], int] | None = None
    ) -> Image:
        """Store `image` with its layer; all or nothing."""
        with self._lock:
            if image.id in self._images:
                raise Conflict(f"Image {image.id} already exists")
            if image.parent and image.parent not in self._images:
                raise NotFound(f"No such image: {image.parent} (parent of {image.id})")
            # A layer left by an earlier crash under the same id is debris, never data.
            if self.driver.exists(image.id):
                self.driver.remove(image.id)
        try:
            self.driver.create(image.id, image.parent or None)
            if fill is not None:
                image.size = fill(image.id)
            elif layer is not None:
                image.size = self.driver.apply_diff(image.id, layer)
            else:
                image.size = 0
            self._write_metadata(image)
        except BaseException:
            self.driver.remove(image.id)
            raise
        with self._lock:
            self._images[image.id] = image
        return image

    @staticmethod
    def new_image_id() -> str:
        return new_id()

    def _write_metadata(self, image: Image) -> None:
        tmp = os.path.join(self.root, f".tmp-{image.id}")
        shutil.rmtree(tmp, ignore_errors=True)
        os.mkdir(tmp, 0o700)
        try:
            atomic.write_json(os.path.join(tmp, "json"), image.to_json())
            atomic.write_bytes(os.path.join(tmp, "layersize"), str(image.size).encode())
            os.rename(tmp, os.path.join(self.root, image.id))
            atomic.fsync_dir(self.root)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    def delete(self, image_id: str) -> None:
        with self._lock:
            if image_id not in self._images:
                raise NotFound(f"No such image: {image_id}")
            if self.has_children(image_id):
                raise Conflict(f"Conflict, cannot delete {image_id[:12]}: image has dependent child images")
            del self._images[image_id]
            self._discard_dir(image_id)
        self.driver.remove(image_id)

    def roll_back(self, created: list[Image]) -> None:
        """Delete the images a failed pull or load registered, children first. A failure is logged
        and the rest still deleted: the caller is already raising the error that matters."""
        for img in reversed(created):
            try:
                self.delete(img.id)
            except Exception:
                log.exception("rollback of %s failed", img.id)

    def _discard_dir(self, name: str) -> None:
        # Renaming first makes the removal atomic: a crash mid-rmtree leaves only a temp name.
        path = os.path.join(self.root, name)
        trash = os.path.join(self.root, f".tmp-del-{name}")
        try:
            os.rename(path, trash)
        except FileNotFoundError:
            return
        atomic.fsync_dir(self.root)
        shutil.rmtree(trash, ignore_errors=True)

    def layer_tar(self, image_id: str, out: BinaryIO) -> None:
        image = self.get(image_id)
        self.driver.diff(image.id, image.parent or None, out)


def _read_layersize(path: str, fallback: int) -> int:
    try:
        with open(os.path.join(path, "layersize"), "rb") as f:
            return int(f.read().strip() or fallback)
    except (OSError, ValueError):
        return fallback
