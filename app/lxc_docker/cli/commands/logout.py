"""`docker logout [SERVER]`: forget the credentials `docker login` kept for a registry."""

from __future__ import annotations

from .. import authconfig
from ..main import CommandError


def flags(cli):
    return cli.flags(
        "logout",
        "[SERVER]",
        "Log out from a Docker registry, if no server is specified "
        f'"{authconfig.INDEX_SERVER}" is the default.',
    )


def run(cli, args: list[str]) -> int:
    _, rest = cli.parse(flags(cli), args, 0, 1)
    server = rest[0] if rest else authconfig.INDEX_SERVER
    try:
        removed = authconfig.remove_entry(server)
    except OSError as e:
        raise CommandError(str(e)) from None
    if not removed:
        cli.out.write(f"Not logged in to {server}\n")
        return 0
    cli.out.write(f"Remove login credentials for {server}\n")
    return 0
