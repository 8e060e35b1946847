"""`--filter`/`-f KEY=VALUE` on `ps`, `images` and `events`: the option and the `filters` query it makes."""

from __future__ import annotations

import json

from .main import CommandError


def add_filter_flag(fs, help_text: str) -> None:
    fs.list(["f", "-filter"], help_text)


def filters_query(values: list[str]) -> str | None:
    """`-f label=a -f status=exited` → `{"label": ["a"], "status": ["exited"]}` as JSON (None without -f).

    The map-of-lists shape is the one every daemon version reads; repeating a key adds a value.
    """
    if not values:
        return None
    fields: dict[str, list[str]] = {}
    for value in values:
        key, eq, wanted = value.partition("=")
        if not eq or not key.strip():
            raise CommandError(f"bad format of filter (expected name=value): {value}")
        key, wanted = key.strip().lower(), wanted.strip()  # as the docker CLI reads -f
        if wanted not in fields.setdefault(key, []):
            fields[key].append(wanted)
    return json.dumps(fields, separators=(",", ":"))
