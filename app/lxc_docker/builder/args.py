"""Build arguments: `ARG name[=default]` in the Dockerfile, `--build-arg name=value` (the
`buildargs` query of `POST /build`) from the client.

An argument is in effect from its ARG line on, with the client's value or else its default; it is
seen by `$NAME` substitution and as an environment variable of RUN commands, an ENV of the same
name winning in both. It is never written into the image's Env. RUN's cache key carries the values
in effect (Docker's `|N name=value` prefix of the recorded command), so changing a value a RUN
could see misses the cache from that RUN on.

The proxy variables are predefined: they can be given without an ARG line. A value given for an
argument no ARG declares fails the build at API 1.24 (Docker 1.12: "One or more build-args [x]
were not consumed, failing build.") and is only a warning from API 1.25 (Docker 1.13).
"""

from __future__ import annotations

from typing import Any

from ..errors import InvalidParameter

PREDEFINED = (
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
)


def parse_query(text: str) -> dict[str, str | None]:
    """The `buildargs` query: a JSON object of names to strings (null: declared, no value)."""
    import json

    try:
        doc: Any = json.loads(text)
    except ValueError as e:
        raise InvalidParameter(f"buildargs: invalid JSON: {e}") from None
    if not isinstance(doc, dict) or not all(v is None or isinstance(v, str) for v in doc.values()):
        raise InvalidParameter("buildargs: expected a JSON object of names to strings")
    return doc


class BuildArgs:
    def __init__(self, given: dict[str, str | None] | None = None) -> None:
        self.given = dict(given or {})
        self.declared: dict[str, str | None] = {}  # name → default, in ARG order

    def declare(self, name: str, default: str | None) -> None:
        self.declared.pop(name, None)
        self.declared[name] = default

    def values(self, env: list[str] | None = None) -> dict[str, str]:
        """The arguments in effect with a value, less those an ENV of `env` sets."""
        set_by_env = {e.split("=", 1)[0] for e in env or ()}
        result: dict[str, str] = {}
        for name, default in self.declared.items():
            value = self.given.get(name)
            if value is None:
                value = default
            if value is not None and name not in set_by_env:
                result[name] = value
        for name in PREDEFINED:
            value = self.given.get(name)
            if value is not None and name not in result and name not in set_by_env:
                result[name] = value
        return result

    def run_prefix(self, env: list[str] | None) -> list[str]:
        """`["|2", "a=1", "b=2"]` for RUN's recorded command ([] with no argument in effect)."""
        values = self.values(env)
        if not values:
            return []
        return [f"|{len(values)}", *sorted(f"{k}={v}" for k, v in values.items())]

    def unconsumed(self) -> list[str]:
        """Names the client gave that no ARG declares (and that are not predefined)."""
        return sorted(n for n in self.given if n not in self.declared and n not in PREDEFINED)
