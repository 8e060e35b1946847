"""The build cache: a step is skipped when an image made by the same step already exists.

"The same step" means the same parent image and the same container config for that step: the
command (RUN's command, or `#(nop) CMD [...]` for a metadata step, or `#(nop) ADD file:<checksum>
in /dest` for ADD, which puts the added content's checksum in the key) and everything the step
ran with (Env, User, WorkingDir, Entrypoint, Volumes, ExposedPorts, OnBuild) plus the author.
Docker 0.9 compared fewer fields (not WorkingDir, for one); comparing more only costs misses
where the result could differ.
"""

from __future__ import annotations

import json
from typing import Any

from ..image.image import Image
from .interfaces import ImageStore

KEY_FIELDS = (
    "Cmd",
    "Entrypoint",
    "Env",
    "ExposedPorts",
    "Volumes",
    "User",
    "WorkingDir",
    "OnBuild",
    "PortSpecs",
    "Memory",
    "MemorySwap",
    "CpuShares",
    "Tty",
    "OpenStdin",
    # Docker 1.x's image keys: a step made under other ones is another step.
    "Labels",
    "StopSignal",
    "Shell",
    "Healthcheck",
)


def cache_key(config: dict[str, Any] | None, author: str = "") -> str:
    """A canonical text of what decides a step's result; empty values of any type compare equal."""
    config = config or {}
    doc = {name: config.get(name) or None for name in KEY_FIELDS}
    doc["author"] = author or None
    return json.dumps(doc, sort_keys=True)


class BuildCache:
    """Lookups for one build: the parent → children index is made once, then kept up to date."""

    def __init__(self, images: ImageStore) -> None:
        self.images = images
        self._children: dict[str, list[Image]] | None = None

    def _index(self) -> dict[str, list[Image]]:
        if self._children is None:
            index: dict[str, list[Image]] = {}
            for image in self.images.all():
                # Images without a parent are under "": what a step after `FROM scratch` made.
                index.setdefault(image.parent or "", []).append(image)
            self._children = index
        return self._children

    def lookup(self, parent: str, container_config: dict[str, Any], author: str = "") -> Image | None:
        """The newest existing image made from `parent` by this step, or None."""
        key = cache_key(container_config, author)
        best: Image | None = None
        for image in self._index().get(parent, ()):
            # An image removed since the index was made (rmi during the build) is no hit.
            if not self.images.exists(image.id):
                continue
            if cache_key(image.container_config, image.author) != key:
                continue
            if best is None or image.created_epoch > best.created_epoch:
                best = image
        return best

    def add(self, image: Image) -> None:
        """Record an image this build made, so a later identical step (another FROM) finds it."""
        if self._children is not None:
            self._children.setdefault(image.parent or "", []).append(image)
