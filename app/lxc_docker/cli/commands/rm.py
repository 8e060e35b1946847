"""`docker rm [OPTIONS] CONTAINER [CONTAINER...]`: remove containers, or only a link with --link."""

from __future__ import annotations

from ._each import call_each


def flags(cli):
    fs = cli.flags("rm", "[OPTIONS] CONTAINER [CONTAINER...]", "Remove one or more containers")
    fs.bool(["v", "-volumes"], False, "Remove the volumes associated to the container")
    fs.bool(["l", "#link", "-link"], False, "Remove the specified link and not the underlying container")
    fs.bool(["f", "-force"], False, "Force removal of running container")
    return fs


def run(cli, args: list[str]) -> int:
    opts, rest = cli.parse(flags(cli), args, 1)
    query = {"v": opts.volumes or None, "link": opts.link or None, "force": opts.force or None}
    return call_each(cli, rest, "DELETE", "", query, "remove")
