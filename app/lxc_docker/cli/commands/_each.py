"""One API call per named container, as `stop`, `kill` and `restart` make: report each, fail at the end."""

from __future__ import annotations

from ...client.api import ApiError
from ..main import CommandError


def post_each(cli, names: list[str], action: str, query: dict) -> int:
    failed = False
    for name in names:
        try:
            cli.client.call("POST", f"/containers/{name}/{action}", query).close()
        except ApiError as e:
            cli.err.write(f"Error: {e}\n")
            failed = True
            continue
        cli.out.write(name + "\n")
    if failed:
        raise CommandError(f"failed to {action} one or more containers")
    return 0
