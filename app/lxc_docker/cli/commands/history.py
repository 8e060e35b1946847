"""`docker history IMAGE`: the layers an image is made of, newest first."""

from __future__ import annotations

import time

from ...timeutil import human_duration
from ..formatting import TabWriter, human_size


def flags(cli):
    fs = cli.flags("history", "[OPTIONS] IMAGE", "Show the history of an image")
    fs.bool(["#notrunc", "-no-trunc"], False, "Don't truncate output")
    fs.bool(["q", "-quiet"], False, "Only show numeric IDs")
    return fs


def run(cli, args: list[str]) -> int:
    opts, rest = cli.parse(flags(cli), args, 1, 1)
    rows = cli.client.json("GET", f"/images/{rest[0]}/history")
    if opts.quiet:
        for r in rows:
            cli.out.write((r["Id"] if opts.no_trunc else r["Id"][:12]) + "\n")
        return 0
    now = time.time()
    tw = TabWriter()
    tw.write("IMAGE\tCREATED\tCREATED BY\tSIZE\n")
    for r in rows:
        image_id = r["Id"] if opts.no_trunc else r["Id"][:12]
        created_by = r.get("CreatedBy", "")
        if not opts.no_trunc and len(created_by) > 45:
            created_by = created_by[:45]
        created = human_duration(now - r.get("Created", 0)) + " ago"
        tw.write(f"{image_id}\t{created}\t{created_by}\t{human_size(r.get('Size', 0))}\n")
    cli.out.write(tw.flush())
    return 0
