"""`docker logs [OPTIONS] CONTAINER`: the output a container has produced, optionally followed."""

from __future__ import annotations

from .. import attach
from ..formatting import parse_time
from ..main import CommandError


def flags(cli):
    fs = cli.flags("logs", "[OPTIONS] CONTAINER", "Fetch the logs of a container")
    fs.bool(["f", "-follow"], False, "Follow log output")
    fs.bool(["t", "-timestamps"], False, "Show timestamps")
    fs.string(["-since"], "", "Show logs since timestamp (seconds since the epoch or a date)")
    fs.string(["-tail"], "all", "Number of lines to show from the end of the logs")
    return fs


def run(cli, args: list[str]) -> int:
    opts, rest = cli.parse(flags(cli), args, 1, 1)
    since = None
    if opts.since:
        try:
            since = f"{parse_time(opts.since):.9f}".rstrip("0").rstrip(".")
        except ValueError as e:
            raise CommandError(str(e)) from None
    info = cli.client.json("GET", f"/containers/{rest[0]}/json") or {}
    tty = bool((info.get("Config") or {}).get("Tty"))
    query = {
        "stdout": 1,
        "stderr": 1,
        "follow": 1 if opts.follow else None,
        "timestamps": 1 if opts.timestamps else None,
        "since": since,
        "tail": opts.tail if opts.tail != "all" else None,
    }
    out = attach.byte_writer(cli.out)
    sink = attach.RawSink(out) if tty else attach.Demuxer(out, attach.byte_writer(cli.err))
    with cli.client.call("GET", f"/containers/{info.get('Id') or rest[0]}/logs", query) as resp:
        for chunk in resp.iter_chunks():
            sink.feed(chunk)
    sink.close()
    return 0
