"""`docker kill [OPTIONS] CONTAINER [CONTAINER...]`: send SIGKILL, or another signal, to the main process."""

from __future__ import annotations

from ._each import post_each


def flags(cli):
    fs = cli.flags(
        "kill",
        "[OPTIONS] CONTAINER [CONTAINER...]",
        "Kill a running container (send SIGKILL, or specified signal)",
    )
    fs.string(["s", "-signal"], "KILL", "Signal to send to the container")
    return fs


def run(cli, args: list[str]) -> int:
    opts, rest = cli.parse(flags(cli), args, 1)
    return post_each(cli, rest, "kill", {"signal": opts.signal})
