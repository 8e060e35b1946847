"""Routes `(method, path)` to handlers; strips the `/vX.Y` prefix and records the API version."""

from __future__ import annotations

import re
import threading
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
        # Loaders of route tables matched after the ones added so far, run at the first request the
        # routes added so far do not answer: the daemon serves /_ping without importing every handler
        # module (issue 14: boot time). The order of matching stays that of registration.
        self._pending: list[Callable[[Router], None]] = []
        self._lock = threading.Lock()

    def add(self, method: str, pattern: str, handler: Handler) -> None:
        self._routes.append((method, _compile(pattern), handler))

    def add_routes(self, routes: list[Route], backend: Any) -> None:
        """Register a handler module's table; its handlers see `backend` and nothing else."""
        for route in routes:
            self.add(route.method, route.pattern, partial(route.handler, backend))

    def defer(self, loader: Callable[[Router], None]) -> None:
        """Register tables later: `loader(router)` adds them (with `add_routes`) to a router of its own
        at the first request the routes registered before it do not answer; they are matched after
        those, as if added now."""
        self._pending.append(loader)

    def _load_pending(self, seen: int) -> bool:
        """Run the pending loaders; whether routes were added since `seen` of them were there."""
        with self._lock:
            if self._pending:
                extra = Router()
                for loader in self._pending:
                    loader(extra)
                # All at once and only when every loader succeeded: a failed import leaves the
                # loaders pending and the table as it was.
                self._routes.extend(extra._routes)
                self._pending = []
            return len(self._routes) != seen

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
        seen = len(self._routes)
        try:
            return self._match(method, path)
        except (NotFound, MethodNotAllowed):
            # Routes added later come after these, so a match here is the one a full table would
            # give; a miss may be answered by them.
            if not self._pending and len(self._routes) == seen:
                raise
            if not self._load_pending(seen):
                raise
        return self._match(method, path)

    def _match(self, method: str, path: str) -> tuple[Handler, dict[str, str]]:
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
