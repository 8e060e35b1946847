"""`docker events [--since T] [--until T]`: the daemon's events, live."""

from __future__ import annotations

from ..filterflag import add_filter_flag, filters_query
from ..formatting import format_event_time, parse_time
from ..main import CommandError


def flags(cli):
    fs = cli.flags("events", "[OPTIONS]", "Get real time events from the server")
    fs.string(["#since", "-since"], "", "Show previously created events and then stream.")
    fs.string(["-until"], "", "Stream events until this timestamp")
    add_filter_flag(fs, "Filter output based on conditions provided (e.g. container=x, event=die)")
    return fs


def run(cli, args: list[str]) -> int:
    opts, _ = cli.parse(flags(cli), args, 0, 0)
    query: dict[str, object] = {}
    for name in ("since", "until"):
        value = getattr(opts, name)
        if value:
            try:
                query[name] = str(int(parse_time(value)))
            except ValueError as e:
                raise CommandError(str(e))
    filters = filters_query(opts.filter)
    if filters:
        query["filters"] = filters
    out = cli.out
    for event in cli.client.stream("GET", "/events", query):
        origin = f"(from {event['from']}) " if event.get("from") else ""
        ident = event.get("id", "")
        ident = ident[:12] if len(ident) == 64 else ident
        out.write(f"[{format_event_time(event.get('time', 0))}] {ident}: {origin}{event.get('status', '')}\n")
        out.flush()
    return 0
