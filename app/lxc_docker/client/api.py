"""The Remote API as the CLI uses it: one call per request, errors turned into ApiError."""

from __future__ import annotations

import os
import sys

from .. import API_VERSION, jsonlite
from ..hosts import DEFAULT_HOST, DEFAULT_TCP_HOST, DEFAULT_TCP_PORT, DEFAULT_TLS_PORT, parse_host
from . import transport

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping
    from typing import Any

    from .tls import TLSOptions


class ApiError(Exception):
    """The daemon answered with an error status; str() is its message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

    def __str__(self) -> str:
        return self.message


def default_host() -> str:
    """The daemon address without -H: $DOCKER_HOST, else the unix socket, or on Windows (which has no
    unix sockets) tcp://127.0.0.1:4243, where boot2docker forwards its VM's daemon. macOS keeps the
    socket default as Docker's client did; boot2docker's `shellinit` sets DOCKER_HOST there."""
    # An empty DOCKER_HOST counts as unset, as in Docker.
    if os.environ.get("DOCKER_HOST"):
        return os.environ["DOCKER_HOST"]
    if sys.platform == "win32":
        return f"tcp://{DEFAULT_TCP_HOST}:{DEFAULT_TCP_PORT}"
    return DEFAULT_HOST


class Client:
    def __init__(self, host: str, version: str = API_VERSION, tls: TLSOptions | None = None) -> None:
        """`tls` applies to tcp addresses (a unix socket ignores it, as Docker's client does)."""
        parsed = parse_host(host, default_port=DEFAULT_TLS_PORT if tls else DEFAULT_TCP_PORT)
        if tls is not None and parsed.proto == "tcp":
            from .tls import Endpoint

            self.host: Any = Endpoint(parsed, tls)
        else:
            self.host = parsed
        self.version = version

    def path(self, path: str, query: Mapping[str, object] | None = None) -> str:
        return transport.api_path(self.version, path, query)

    def call(
        self,
        method: str,
        path: str,
        query: Mapping[str, object] | None = None,
        *,
        body: Any = None,
        json_body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> transport.Response:
        hdrs = dict(headers or {})
        if json_body is not None:
            body = jsonlite.dumps(json_body).encode()
            hdrs["Content-Type"] = "application/json"
        elif body is not None and not isinstance(body, bytes | bytearray):
            hdrs.setdefault("Content-Type", "application/x-tar")
        resp = transport.request(self.host, method, self.path(path, query), headers=hdrs, body=body)
        if resp.status >= 400:
            raise error_from(resp)
        return resp

    def json(self, method: str, path: str, query: Mapping[str, object] | None = None, **kw: Any) -> Any:
        with self.call(method, path, query, **kw) as resp:
            data = resp.read()
        return jsonlite.loads(data) if data.strip() else None

    def stream(
        self, method: str, path: str, query: Mapping[str, object] | None = None, **kw: Any
    ) -> Iterator[dict[str, Any]]:
        """The JSON messages of a progress or event stream, each as soon as it arrives."""
        resp = self.call(method, path, query, **kw)
        with resp:
            for line in resp.iter_lines():
                line = line.strip()
                if line:
                    yield jsonlite.loads(line)


def error_from(resp: transport.Response) -> ApiError:
    data = resp.read().decode("utf-8", "replace")
    resp.close()
    message = data.strip()
    if message.startswith("{"):
        try:
            doc = jsonlite.loads(message)
            message = str(doc.get("message", message))
        except (ValueError, AttributeError):
            pass
    return ApiError(resp.status, message or f"HTTP {resp.status}")
