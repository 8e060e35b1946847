"""`docker restart [OPTIONS] CONTAINER [CONTAINER...]`: stop (with a grace period), then start again."""

from __future__ import annotations

from ._each import post_each


def flags(cli):
    fs = cli.flags("restart", "[OPTIONS] CONTAINER [CONTAINER...]", "Restart a running container")
    fs.int(
        ["t", "-time"],
        10,
        "Number of seconds to try to stop for before killing the container. "
        "Once killed it will then be restarted. Default=10",
    )
    return fs


def run(cli, args: list[str]) -> int:
    opts, rest = cli.parse(flags(cli), args, 1)
    return post_each(cli, rest, "restart", {"t": opts.time})
