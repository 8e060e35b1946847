"""`docker stop [OPTIONS] CONTAINER [CONTAINER...]`: SIGTERM, then SIGKILL after a grace period."""

from __future__ import annotations

from ._each import post_each


def flags(cli):
    fs = cli.flags(
        "stop",
        "[OPTIONS] CONTAINER [CONTAINER...]",
        "Stop a running container (Send SIGTERM, and then SIGKILL after grace period)",
    )
    fs.int(["t", "-time"], 10, "Number of seconds to wait for the container to stop before killing it.")
    return fs


def run(cli, args: list[str]) -> int:
    opts, rest = cli.parse(flags(cli), args, 1)
    return post_each(cli, rest, "stop", {"t": opts.time})
