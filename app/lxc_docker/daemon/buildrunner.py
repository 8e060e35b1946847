"""The daemon side of `docker build`: the builder's interfaces (`builder/interfaces.py`) over the
daemon's graph, storage driver and containers, and the little else the build endpoint needs
(naming and tagging the result, a place for the context).

The builder hands over partial configs; the run-config defaults are filled in here, so that a built
image's `Config` and `ContainerConfig` carry Docker 0.9's full key set, as `docker inspect` shows.
"""

from __future__ import annotations

import codecs
import copy
import os
import tempfile
from typing import TYPE_CHECKING, Any

from .. import reference
from ..builder.interfaces import ContainerRef, LayerDriver, LayerFill, Output
from ..errors import DockerError, InvalidParameter, NotFound
from ..image.image import Image
from ..runconfig.schema import CONFIG_DEFAULTS
from .container import Container

if TYPE_CHECKING:
    from .daemon import Daemon


def full_config(config: dict[str, Any]) -> dict[str, Any]:
    """`config` over the run-config defaults (a copy; `config`'s keys win, extra keys are kept)."""
    result = copy.deepcopy(CONFIG_DEFAULTS)
    result.update(copy.deepcopy(config))
    return result


class DaemonImages:
    """The builder's ImageStore: the daemon's graph, with names resolved through its tags."""

    def __init__(self, daemon: Daemon) -> None:
        self._daemon = daemon

    def lookup(self, name: str) -> Image:
        return self._daemon.images.lookup(name)

    def pull(self, name: str, out: Output, auth_config: dict[str, Any]) -> None:
        try:
            self._daemon.pull_image(name, out=out, auth_config=auth_config)
        except DockerError as e:
            # FROM names an image: say it is missing here, and why the registry did not supply it.
            raise NotFound(f"No such image: {name} (pulling it failed: {e})") from None

    def all(self) -> list[Image]:
        return self._daemon.graph.all()

    def exists(self, image_id: str) -> bool:
        return self._daemon.graph.exists(image_id)

    def create(
        self,
        *,
        parent: str,
        author: str,
        config: dict[str, Any],
        container_config: dict[str, Any],
        fill: LayerFill | None = None,
    ) -> Image:
        return self._daemon.graph.create(
            None,
            parent=parent,
            author=author,
            config=full_config(config),
            container_config=full_config(container_config),
            fill=fill,
        )


class DaemonRunner:
    """The builder's ContainerRunner: RUN's containers are ordinary containers of the daemon (they
    show in `docker ps -a` until removed), started with the build output as their one client."""

    def __init__(self, daemon: Daemon) -> None:
        self._daemon = daemon

    def create(self, config: dict[str, Any]) -> tuple[ContainerRef, list[str]]:
        c, warnings = self._daemon.containers.create(copy.deepcopy(config))
        # RUN runs its own command, not the image's ENTRYPOINT with it as arguments.
        cmd = config["Cmd"]
        c.path, c.args = cmd[0], list(cmd[1:])
        c.save()
        return c, warnings

    def run(self, container: ContainerRef, out: Output | None, err: Output | None = None) -> int:
        c = _ours(container)
        containers = self._daemon.containers
        subs = []
        if out is not None:
            # One subscriber for both streams, or one each when standard error goes elsewhere.
            wanted = [(out, True, True)] if err is None else [(out, True, False), (err, False, True)]
            for sink, stdout, stderr in wanted:
                sub = c.streams.subscribe(_OutputSink(sink), stdout, stderr)  # type: ignore[arg-type]
                sub.multiplex = False  # the sink wants the bytes, not attach's framing
                subs.append(sub)
        try:
            containers.start(c)
            return containers.wait(c)
        finally:
            for sub in subs:
                c.streams.unsubscribe(sub)

    def remove(self, container: ContainerRef) -> None:
        self._daemon.containers.remove(_ours(container), force=True, volumes=True)

    def commit(
        self,
        container: ContainerRef,
        *,
        parent: str,
        author: str,
        config: dict[str, Any],
        container_config: dict[str, Any],
    ) -> Image:
        c = _ours(container)
        daemon = self._daemon
        # Spooled to disk: a layer can be larger than memory.
        with tempfile.TemporaryFile(dir=tmp_root(daemon)) as spool:
            daemon.driver.diff(c.id, c.init_id, spool)
            spool.seek(0)
            return daemon.graph.create(
                spool,
                parent=parent,
                author=author,
                config=full_config(config),
                container=c.id,
                container_config=full_config(container_config),
            )


class DaemonBuildBackend:
    """What `POST /build` needs of the daemon: the builder's three interfaces plus naming."""

    def __init__(self, daemon: Daemon) -> None:
        self._daemon = daemon
        self.images = DaemonImages(daemon)
        self.layers: LayerDriver = daemon.driver
        self.runner = DaemonRunner(daemon)

    @property
    def tmp_root(self) -> str:
        """Where build contexts are unpacked: under the daemon's root, cleaned at start-up."""
        return tmp_root(self._daemon)

    def check_new_name(self, name: str) -> tuple[str, str]:
        """`name` (`repo[:tag]`) as the repository and tag a new image would get; InvalidParameter
        if it is not a valid new name."""
        repo, tag = reference.split_tag(name)
        repo, tag = self._daemon.images._check_new_name(repo, tag)
        if not repo:
            raise InvalidParameter(f"invalid repository name: {name!r}")
        return repo, tag

    def tag(self, repo: str, tag: str, image_id: str) -> None:
        """Point `repo:tag` at `image_id` (moving it if it exists) and tell the event listeners."""
        daemon = self._daemon
        daemon.tags.set(repo, tag, image_id, force=True)
        daemon.events.publish("tag", image_id, type="image", name=f"{repo}:{tag}")


def tmp_root(daemon: Daemon) -> str:
    return os.path.join(daemon.config.root, "tmp")


def _ours(container: ContainerRef) -> Container:
    if not isinstance(container, Container):
        raise TypeError(f"not a container of this daemon: {container!r}")
    return container


class _OutputSink:
    """Stands in for an attached client's socket: a RUN container's output joins the build output."""

    def __init__(self, out: Output) -> None:
        self.out = out
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")

    def sendall(self, data: bytes) -> None:
        try:
            text = self._decoder.decode(data)
            if text:
                self.out(text)
        except OSError:
            raise
        except Exception as e:
            # The streams layer drops a subscriber on OSError; anything else would kill its pump.
            raise OSError(str(e)) from e
