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

    def search(
        self, term: str, limit: int, filters: dict[str, list[str]], auth_config: dict[str, Any]
    ) -> list[dict[str, Any]]: ...


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
    """The index's answer (`registry/search.py`), cut to `limit` (25 unless given, as later Docker)
    and filtered by `is-official`, `is-automated` and `stars`."""
    from ...registry.search import DEFAULT_LIMIT
    from ..filters import from_request

    term = req.q("term")
    if not term:
        raise InvalidParameter("search needs a term")
    raw = req.q("limit")
    try:
        limit = int(raw) if raw else DEFAULT_LIMIT
    except ValueError:
        raise InvalidParameter(f"invalid limit {raw!r}: not an integer") from None
    filters = {k: sorted(v) for k, v in from_request(req).fields.items()}
    auth = decode_header(req.headers.get("X-Registry-Auth", ""))
    res.json(backend.distribution.search(term, limit, filters, auth))


ROUTES = [
    Route("POST", "/images/{name:.+}/push", push),
    Route("POST", "/auth", auth),
    Route("GET", "/images/search", search),
]
