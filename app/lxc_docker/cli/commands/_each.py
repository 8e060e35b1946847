"""One API call per named container (`stop`, `kill`, `restart`, `rm`): report each, fail at the end."""

from __future__ import annotations

from ...client.api import ApiError
from ..main import CommandError


def post_each(cli, names: list[str], action: str, query: dict) -> int:
    return call_each(cli, names, "POST", f"/{action}", query, action)


def call_each(cli, names: list[str], method: str, suffix: str, query: dict, verb: str) -> int:
    failed = False
    for name in names:
        try:
            cli.client.call(method, f"/containers/{name}{suffix}", query).close()
        except ApiError as e:
            cli.err.write(f"Error: {e}\n")
            failed = True
            continue
        cli.out.write(name + "\n")
    if failed:
        raise CommandError(f"failed to {verb} one or more containers")
    return 0
