"""`docker pause CONTAINER [CONTAINER...]`: freeze every process of each container."""

from __future__ import annotations

from ._each import post_each


def flags(cli):
    return cli.flags("pause", "CONTAINER [CONTAINER...]", "Pause all processes within one or more containers")


def run(cli, args: list[str]) -> int:
    _, rest = cli.parse(flags(cli), args, 1)
    return post_each(cli, rest, "pause", {})
