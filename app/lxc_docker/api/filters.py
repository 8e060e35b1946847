"""The `filters` query parameter of `/containers/json`, `/images/json` and `/events`, parsed.

Two JSON shapes arrive, as Docker 1.12's `filters.FromParam` reads them: a map of lists
(`{"label": ["a=b"]}`, what clients below API 1.22 and the docker SDK for Python send) and a map of
maps to booleans (`{"label": {"a=b": true}}`, what the docker CLI 28 sends at 1.22 and later). A value
set to false in the second shape is not a filter value.
"""

from __future__ import annotations

from typing import Any

from ..daemon.filtering import FilterArgs
from ..errors import InvalidParameter
from .http import Request


def parse(raw: Any) -> FilterArgs:
    """A decoded `filters` value → FilterArgs; anything but the two shapes is a 400."""
    if raw is None or raw == "":
        return FilterArgs()
    if not isinstance(raw, dict):
        raise InvalidParameter("Invalid filters: expected a JSON object of filter names")
    fields: dict[str, list[str]] = {}
    for key, values in raw.items():
        if isinstance(values, dict):
            fields[key] = [str(v) for v, on in values.items() if on is True]
        elif isinstance(values, list) and all(isinstance(v, str) for v in values):
            fields[key] = list(values)
        elif isinstance(values, str):
            fields[key] = [values]  # hand-written clients send a bare string; its meaning is plain
        else:
            raise InvalidParameter(f"Invalid filters: the values of '{key}' must be a list of strings")
    return FilterArgs(fields)


def from_request(req: Request) -> FilterArgs:
    return parse(req.q_json("filters"))
