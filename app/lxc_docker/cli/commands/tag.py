"""`docker tag [OPTIONS] IMAGE REPOSITORY[:TAG]`."""

from __future__ import annotations

from ... import reference
from ..main import CommandError


def flags(cli):
    fs = cli.flags("tag", "[OPTIONS] IMAGE REPOSITORY[:TAG]", "Tag an image into a repository")
    fs.bool(["f", "#force", "-force"], False, "Force")
    return fs


def run(cli, args: list[str]) -> int:
    opts, rest = cli.parse(flags(cli), args, 2, 2)
    repo, tag = reference.split_tag(rest[1])
    try:
        reference.parse(rest[1])
    except ValueError as e:
        raise CommandError(str(e))
    query = {"repo": repo, "tag": tag or None, "force": opts.force or None}
    cli.client.call("POST", f"/images/{rest[0]}/tag", query).close()
    return 0
