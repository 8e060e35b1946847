"""`docker wait CONTAINER [CONTAINER...]`: block until each container stops, then print its exit code."""

from __future__ import annotations

from ...client.api import ApiError
from ..main import CommandError


def flags(cli):
    return cli.flags(
        "wait", "CONTAINER [CONTAINER...]", "Block until a container stops, then print its exit code."
    )


def run(cli, args: list[str]) -> int:
    _, rest = cli.parse(flags(cli), args, 1)
    failed = False
    for name in rest:
        try:
            result = cli.client.json("POST", f"/containers/{name}/wait") or {}
        except ApiError as e:
            cli.err.write(f"Error: {e}\n")
            failed = True
            continue
        cli.out.write(f"{result.get('StatusCode', 0)}\n")
        cli.out.flush()
    if failed:
        raise CommandError("failed to wait one or more containers")
    return 0
