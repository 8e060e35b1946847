"""`docker stop [OPTIONS] CONTAINER [CONTAINER...]`: SIGTERM, then SIGKILL after a grace period."""

from __future__ import annotations

from ...client.api import ApiError
from ..main import CommandError


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
    failed = False
    for name in rest:
        try:
            cli.client.call("POST", f"/containers/{name}/stop", {"t": opts.time}).close()
        except ApiError as e:
            cli.err.write(f"Error: {e}\n")
            failed = True
            continue
        cli.out.write(name + "\n")
    if failed:
        raise CommandError("failed to stop one or more containers")
    return 0
