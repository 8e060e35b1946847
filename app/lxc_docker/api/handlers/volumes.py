"""Volume endpoints (API 1.21+): list with filters, create, inspect, remove; the `local` driver only."""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any, Protocol

from .. import filters
from ..http import Request
from ..router import Route

if TYPE_CHECKING:
    from ...daemon.filtering import FilterArgs
    from ..response import Response


class VolumeStore(Protocol):
    # Inside this class `list` names the method below, hence builtins.list in the annotations.
    def create(self, body: Any) -> dict[str, Any]: ...

    def inspect(self, name: str) -> dict[str, Any]: ...

    def list(self, filters: FilterArgs) -> builtins.list[dict[str, Any]]: ...

    def remove(self, name: str, force: bool = False) -> None: ...


class VolumesBackend(Protocol):
    """What these endpoints need of the daemon: its volumes, named and anonymous."""

    @property
    def named_volumes(self) -> VolumeStore: ...


def list_volumes(backend: VolumesBackend, req: Request, res: Response) -> None:
    volumes = backend.named_volumes.list(filters.from_request(req))
    res.json({"Volumes": volumes, "Warnings": None})


def create(backend: VolumesBackend, req: Request, res: Response) -> None:
    res.json(backend.named_volumes.create(req.json()), 201)


def inspect(backend: VolumesBackend, req: Request, res: Response, name: str) -> None:
    res.json(backend.named_volumes.inspect(name))


def remove(backend: VolumesBackend, req: Request, res: Response, name: str) -> None:
    backend.named_volumes.remove(name, force=req.q_bool("force"))
    res.empty(204)


ROUTES = [
    Route("GET", "/volumes", list_volumes),
    Route("POST", "/volumes/create", create),
    Route("GET", "/volumes/{name}", inspect),
    Route("DELETE", "/volumes/{name}", remove),
]
