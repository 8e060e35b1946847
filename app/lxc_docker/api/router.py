"""Routes `(method, path)` to handlers; strips the `/vX.Y` prefix and records the API version."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from .. import ADVERTISED_API_VERSION, API_VERSION
from ..errors import InvalidParameter, NotFound

Handler = Callable[..., Any]
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
