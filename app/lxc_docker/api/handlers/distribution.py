"""Registry endpoints besides pull (which is `POST /images/create?fromImage=`, in images.py): push,
login (`/auth`) and search."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from ...errors import DockerError, InvalidParameter
from ...registry.auth import decode_header
from ..http import Request
from ..router import Route
from ..streaming import LazyJSONStream

if TYPE_CHECKING:
    from ..response import Response

Sink = Callable[[dict[str, Any]], None]


class Distribution(Protocol):
    def push(self, name: str, tag: str, auth_config: dict[str, Any], sink: Sink) -> None: ...

    def login(self, auth_config: dict[str, Any]) -> dict[str, str]: ...


class DistributionBackend(Protocol):
    @property
    def distribution(self) -> Distribution: ...


def push(backend: DistributionBackend, req: Request, res: Response, name: str) -> None:
    auth = decode_header(req.headers.get("X-Registry-Auth", ""))
    out = LazyJSONStream(res)
    try:
        backend.distribution.push(name, req.q("tag"), auth, out.write)
    except DockerError as e:
        if not out.started:
            raise
        out.error(str(e))


def auth(backend: DistributionBackend, req: Request, res: Response) -> None:
    doc = req.json(required=True)
    if not isinstance(doc, dict):
        raise InvalidParameter("the login body must be a JSON object")
    res.json(backend.distribution.login(doc))


def search(backend: DistributionBackend, req: Request, res: Response) -> None:
    # v2 registries have no search endpoint (the v1 index's search comes with the v1 client).
    if not req.q("term"):
        raise InvalidParameter("search needs a term")
    res.json([])


ROUTES = [
    Route("POST", "/images/{name:.+}/push", push),
    Route("POST", "/auth", auth),
    Route("GET", "/images/search", search),
]
