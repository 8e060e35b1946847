"""`/networks`: list, inspect, create, remove, connect and disconnect (Remote API 1.24, bridge driver).

Network names may hold spaces: the path parameter arrives %-encoded and is decoded here."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import unquote

from .. import filters
from ..http import Request
from ..router import Route

if TYPE_CHECKING:
    from ...daemon.filtering import FilterArgs
    from ..response import Response


class Networks(Protocol):
    def list(self, filters: FilterArgs) -> list[dict[str, Any]]: ...

    def inspect(self, ref: str) -> dict[str, Any]: ...

    def create(self, body: Any) -> tuple[str, str]: ...

    def remove(self, ref: str) -> None: ...

    def connect(self, ref: str, body: Any) -> None: ...

    def disconnect(self, ref: str, body: Any) -> None: ...


class NetworksBackend(Protocol):
    """What these endpoints need of the daemon."""

    networks: Networks


def list_networks(backend: NetworksBackend, req: Request, res: Response) -> None:
    res.json(backend.networks.list(filters.from_request(req)))


def inspect(backend: NetworksBackend, req: Request, res: Response, network_id: str) -> None:
    res.json(backend.networks.inspect(unquote(network_id)))


def create(backend: NetworksBackend, req: Request, res: Response) -> None:
    network_id, warning = backend.networks.create(req.json(required=True))
    res.json({"Id": network_id, "Warning": warning}, 201)


def remove(backend: NetworksBackend, req: Request, res: Response, network_id: str) -> None:
    backend.networks.remove(unquote(network_id))
    res.empty(204)


def connect(backend: NetworksBackend, req: Request, res: Response, network_id: str) -> None:
    backend.networks.connect(unquote(network_id), req.json(required=True))
    res.send(200, b"", "text/plain; charset=utf-8")


def disconnect(backend: NetworksBackend, req: Request, res: Response, network_id: str) -> None:
    backend.networks.disconnect(unquote(network_id), req.json(required=True))
    res.send(200, b"", "text/plain; charset=utf-8")


ROUTES = [
    Route("GET", "/networks", list_networks),
    Route("POST", "/networks/create", create),
    Route("GET", "/networks/{network_id}", inspect),
    Route("DELETE", "/networks/{network_id}", remove),
    Route("POST", "/networks/{network_id}/connect", connect),
    Route("POST", "/networks/{network_id}/disconnect", disconnect),
]
