"""`docker push NAME[:TAG]`: push an image (or every tag of a repository) to its registry."""

from __future__ import annotations

from ... import reference
from ..authconfig import header_for
from ..main import CommandError
from ..progress import display


def flags(cli):
    return cli.flags("push", "NAME[:TAG]", "Push an image or a repository to the registry")


def run(cli, args: list[str]) -> int:
    _, rest = cli.parse(flags(cli), args, 1, 1)
    try:
        repo, tag = reference.parse(rest[0], default_tag=None)
    except ValueError as e:
        raise CommandError(str(e)) from None
    query = {"tag": tag or None}
    display(
        cli.client.stream("POST", f"/images/{repo}/push", query, headers=header_for(repo)),
        cli.out,
    )
    return 0
