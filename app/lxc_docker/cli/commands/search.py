"""`docker search [OPTIONS] TERM`: the index's repositories matching TERM, as Docker 0.9 prints them.

Docker 0.9 asks `GET /images/search?term=` and filters `--stars` and `--trusted` itself; the table is
NAME DESCRIPTION STARS OFFICIAL TRUSTED in a tabwriter of minimum width 10, with descriptions of more
than 45 bytes cut to 42 and "..." unless `--no-trunc`. `--limit` and `--filter` are later Docker's
and go to the daemon.
"""

from __future__ import annotations

from typing import Any

from ..formatting import TabWriter
from ..main import CommandError


def flags(cli):
    fs = cli.flags("search", "TERM", "Search the docker index for images")
    fs.bool(["#notrunc", "-no-trunc"], False, "Don't truncate output")
    fs.bool(["t", "#trusted", "-trusted"], False, "Only show trusted builds")
    fs.int(["s", "#stars", "-stars"], 0, "Only displays with at least xxx stars")
    fs.int(["-limit"], 0, "Max number of search results (1-100, default 25)")
    fs.list(["f", "-filter"], "Filter output based on conditions provided (is-official, is-automated, stars)")
    return fs


def shorten(description: str, no_trunc: bool) -> str:
    """Line breaks become spaces; over 45 bytes is cut to 42 and "..." (Go's utils.Trunc counts
    bytes, so a cut never splits a character here either: a partial one is dropped)."""
    desc = description.replace("\n", " ").replace("\r", " ")
    raw = desc.encode()
    if not no_trunc and len(raw) > 45:
        desc = raw[:42].decode(errors="ignore") + "..."
    return desc


def table(
    rows: list[dict[str, Any]], *, stars: int = 0, trusted: bool = False, no_trunc: bool = False
) -> str:
    """The output of Docker 0.9's CmdSearch for the daemon's rows (in the daemon's order)."""
    tw = TabWriter(minwidth=10, tabwidth=1, padding=3)
    tw.write("NAME\tDESCRIPTION\tSTARS\tOFFICIAL\tTRUSTED\n")
    for row in rows:
        is_trusted = bool(row.get("is_trusted") or row.get("is_automated"))
        count = int(row.get("star_count") or 0)
        if (trusted and not is_trusted) or stars > count:
            continue
        desc = shorten(str(row.get("description") or ""), no_trunc)
        official = "[OK]" if row.get("is_official") else ""
        tw.write(f"{row.get('name', '')}\t{desc}\t{count}\t{official}\t{'[OK]' if is_trusted else ''}\n")
    return tw.flush()


def _filters(specs: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for spec in specs:
        key, sep, value = spec.partition("=")
        if not sep:
            raise CommandError(f"bad format of filter (expected name=value): {spec}")
        out.setdefault(key.strip().lower(), []).append(value)
    return out


def run(cli, args: list[str]) -> int:
    from ... import jsonlite
    from ..authconfig import header_for

    opts, rest = cli.parse(flags(cli), args, 1, 1)
    query: dict[str, object] = {"term": rest[0]}
    if opts.limit:
        query["limit"] = opts.limit
    if opts.filter:
        query["filters"] = jsonlite.dumps(_filters(list(opts.filter)))
    rows = cli.client.json("GET", "/images/search", query, headers=header_for(rest[0])) or []
    if not isinstance(rows, list):
        raise CommandError("the daemon's search answer is not a list")
    cli.out.write(table(rows, stars=opts.stars, trusted=opts.trusted, no_trunc=opts.no_trunc))
    return 0
