"""`docker restart [OPTIONS] CONTAINER [CONTAINER...]`: stop (with a grace period), then start again."""

from __future__ import annotations

from ...client.api import ApiError
from ..main import CommandError


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
    failed = False
    for name in rest:
        try:
            cli.client.call("POST", f"/containers/{name}/restart", {"t": opts.time}).close()
        except ApiError as e:
            cli.err.write(f"Error: {e}\n")
            failed = True
            continue
        cli.out.write(name + "\n")
    if failed:
        raise CommandError("failed to restart one or more containers")
    return 0
