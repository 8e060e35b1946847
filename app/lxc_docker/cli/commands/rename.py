"""`docker rename OLD_NAME NEW_NAME`: give a container another name."""

from __future__ import annotations

from ..main import CommandError


def flags(cli):
    return cli.flags("rename", "OLD_NAME NEW_NAME", "Rename a container")


def run(cli, args: list[str]) -> int:
    _, rest = cli.parse(flags(cli), args, 2, 2)
    old, new = rest
    if not old.strip() or not new.strip():
        raise CommandError("Error: Neither old nor new names may be empty")
    cli.client.call("POST", f"/containers/{old}/rename", {"name": new}).close()
    return 0
