"""Container verbs of API 1.24: pause, unpause, rename, update, stats."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Protocol

from ..http import Request
from ..router import Route

if TYPE_CHECKING:
    from ...daemon.container import Container
    from ..response import Response


class ContainerLookup(Protocol):
    def get(self, name: str) -> Container: ...


class Verbs(Protocol):
    def pause(self, c: Container) -> None: ...

    def unpause(self, c: Container) -> None: ...

    def rename(self, c: Container, new_name: str) -> None: ...

    def update(self, c: Container, body: Any) -> list[str]: ...


class Stats(Protocol):
    def stream(
        self, c: Container, stream: bool = True, stopping: Callable[[], bool] = ...
    ) -> Iterator[dict[str, Any]]: ...


class VerbsBackend(Protocol):
    @property
    def containers(self) -> ContainerLookup: ...

    @property
    def verbs(self) -> Verbs: ...

    @property
    def stats(self) -> Stats: ...

    @property
    def stopping(self) -> bool: ...


def pause(backend: VerbsBackend, req: Request, res: Response, name: str) -> None:
    backend.verbs.pause(backend.containers.get(name))
    res.empty(204)


def unpause(backend: VerbsBackend, req: Request, res: Response, name: str) -> None:
    backend.verbs.unpause(backend.containers.get(name))
    res.empty(204)


def rename(backend: VerbsBackend, req: Request, res: Response, name: str) -> None:
    backend.verbs.rename(backend.containers.get(name), req.q("name"))
    res.empty(204)


def update(backend: VerbsBackend, req: Request, res: Response, name: str) -> None:
    c = backend.containers.get(name)
    warnings = backend.verbs.update(c, req.json(required=True))
    res.json({"Warnings": warnings})


def stats(backend: VerbsBackend, req: Request, res: Response, name: str) -> None:
    c = backend.containers.get(name)
    samples = backend.stats.stream(c, req.q_bool("stream", True), lambda: backend.stopping)
    if not req.q_bool("stream", True):
        for doc in samples:
            res.json(doc)
            return
        return
    writer = res.stream()
    for doc in samples:
        writer.write_json(doc)


ROUTES = [
    Route("POST", "/containers/{name}/pause", pause),
    Route("POST", "/containers/{name}/unpause", unpause),
    Route("POST", "/containers/{name}/rename", rename),
    Route("POST", "/containers/{name}/update", update),
    Route("GET", "/containers/{name}/stats", stats),
]
