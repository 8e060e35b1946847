"""`docker unpause CONTAINER [CONTAINER...]`: thaw the processes of each paused container."""

from __future__ import annotations

from ._each import post_each


def flags(cli):
    return cli.flags(
        "unpause", "CONTAINER [CONTAINER...]", "Unpause all processes within one or more containers"
    )


def run(cli, args: list[str]) -> int:
    _, rest = cli.parse(flags(cli), args, 1)
    return post_each(cli, rest, "unpause", {})
