"""`docker kill [OPTIONS] CONTAINER [CONTAINER...]`: send SIGKILL, or another signal, to the main process."""

from __future__ import annotations

from ...client.api import ApiError
from ..main import CommandError


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
    failed = False
    for name in rest:
        try:
            # The daemon takes a name (KILL, SIGKILL) or a number, as Docker's does.
            cli.client.call("POST", f"/containers/{name}/kill", {"signal": opts.signal}).close()
        except ApiError as e:
            cli.err.write(f"Error: {e}\n")
            failed = True
            continue
        cli.out.write(name + "\n")
    if failed:
        raise CommandError("failed to kill one or more containers")
    return 0
