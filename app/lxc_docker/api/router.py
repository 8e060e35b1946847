"""Routes `(method, path)` to handlers; strips the `/vX.Y` prefix and records the API version."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial
from typing import Any, NamedTuple

from .. import ADVERTISED_API_VERSION, API_VERSION
from ..errors import InvalidParameter, NotFound

Handler = Callable[..., Any]


class Route(NamedTuple):
    """One endpoint: a handler module lists its own in `ROUTES`; the handler is a plain function
    called as `handler(backend, request, response, **path_params)`."""

    method: str
    pattern: str
    handler: Handler


_VERSION_RE = re.compile(r"^/v(\d+)\.(\d+)(/.*)$")
MIN_VERSION = (1, 0)
MAX_VERSION = tuple(int(p) for p in ADVERTISED_API_VERSION.split("."))
DEFAULT_VERSION = tuple(int(p) for p in API_VERSION.split("."))


def _compile(pattern: str) -> re.Pattern[str]:
    # `{name}` matches one path segment, `{name:.*}` anything (image names hold slashes).
    def repl(m: re.Match[str]) -> str:
        name, _, rx = m.group(1).partition(":")
        return f"(?P<{name}>{rx or '[^/]+'})"

    return re.compile("^" + re.sub(r"\{([^}]+)\}", repl, pattern) + "$")


class Router:
    def __init__(self) -> None:
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []

    def add(self, method: str, pattern: str, handler: Handler) -> None:
        self._routes.append((method, _compile(pattern), handler))

    def add_routes(self, routes: list[Route], backend: Any) -> None:
        """Register a handler module's table; its handlers see `backend` and nothing else."""
        for route in routes:
            self.add(route.method, route.pattern, partial(route.handler, backend))

    def split_version(self, path: str) -> tuple[tuple[int, int], str]:
        m = _VERSION_RE.match(path)
        if not m:
            return DEFAULT_VERSION, path
        version = (int(m.group(1)), int(m.group(2)))
        if version > MAX_VERSION:
            raise InvalidParameter(
                f"client version {version[0]}.{version[1]} is too new. "
                f"Maximum supported API version is {ADVERTISED_API_VERSION}"
            )
        return version, m.group(3)

    def match(self, method: str, path: str) -> tuple[Handler, dict[str, str]]:
        allowed = False
        for route_method, rx, handler in self._routes:
            m = rx.match(path)
            if not m:
                continue
            if route_method == method or (method == "HEAD" and route_method == "GET"):
                return handler, m.groupdict()
            allowed = True
        if allowed:
            raise MethodNotAllowed(f"{method} not allowed on {path}")
        raise NotFound(f"page not found: {path}")


class MethodNotAllowed(InvalidParameter):
    status = 405
