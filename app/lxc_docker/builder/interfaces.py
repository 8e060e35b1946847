"""What the builder needs of the rest of the engine, as three small interfaces: the images it starts
from and makes, the storage driver calls that mount a new layer, and a runner for RUN's containers.

The daemon implements them over its own objects (`daemon/buildrunner.py`); the unit tests implement
them in memory. Configs handed across are partial: keys the builder never set take the run-config
defaults on the other side, so the builder needs no copy of that table.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from ..image.image import Image

Output = Callable[[str], None]
"""Where build output goes, as text (the API handler streams it to the client)."""

LayerFill = Callable[[str], int]
"""Writes a new layer given its id; returns the layer's size in bytes."""


class ImageStore(Protocol):
    """The graph as the builder sees it: find an image, list them for the cache, add new ones."""

    def lookup(self, name: str) -> Image:
        """The image named `name` (an id, an id prefix or `repo[:tag]`); NotFound if there is none."""
        ...

    def pull(self, name: str, out: Output, auth_config: dict[str, Any]) -> None:
        """Fetch `name` from its registry, reporting progress to `out`; NotFound where unavailable."""
        ...

    def all(self) -> list[Image]: ...

    def exists(self, image_id: str) -> bool: ...

    def create(
        self,
        *,
        parent: str,
        author: str,
        config: dict[str, Any],
        container_config: dict[str, Any],
        fill: LayerFill | None = None,
    ) -> Image:
        """A new child of `parent`: an empty layer, or the one `fill` writes (all or nothing)."""
        ...


class LayerDriver(Protocol):
    """The storage driver calls ADD needs: mount a layer (refcounted) and let it go."""

    def get(self, layer_id: str) -> str:
        """The host path of the layer's root, mounted."""
        ...

    def put(self, layer_id: str) -> None: ...


class ContainerRef(Protocol):
    """A container the runner made; the builder only names it."""

    @property
    def id(self) -> str: ...


class ContainerRunner(Protocol):
    """Runs RUN's command in a container from the current image and turns its changes into an image."""

    def create(self, config: dict[str, Any]) -> tuple[ContainerRef, list[str]]:
        """A container from `config["Image"]` that runs `config["Cmd"]` itself (never as arguments
        of the image's ENTRYPOINT); returns it with the warnings the daemon gave."""
        ...

    def run(self, container: ContainerRef, out: Output | None, err: Output | None = None) -> int:
        """Start it, send what it prints to `out` (None: discard; its standard error to `err`
        when given), wait; return its exit code."""
        ...

    def remove(self, container: ContainerRef) -> None:
        """Remove it, even if still running, with its volumes."""
        ...

    def commit(
        self,
        container: ContainerRef,
        *,
        parent: str,
        author: str,
        config: dict[str, Any],
        container_config: dict[str, Any],
    ) -> Image:
        """A new child of `parent` whose layer is what the container changed."""
        ...
