"""`docker pull [-a] NAME[:TAG]`: pull an image or a repository from its registry."""

from __future__ import annotations

from ... import reference
from ..authconfig import header_for
from ..main import CommandError
from ..progress import display


def flags(cli):
    fs = cli.flags("pull", "NAME[:TAG]", "Pull an image or a repository from the registry")
    fs.bool(["a", "-all-tags"], False, "Download all tagged images in the repository")
    return fs


def run(cli, args: list[str]) -> int:
    opts, rest = cli.parse(flags(cli), args, 1, 1)
    name, _, digest = rest[0].partition("@")
    try:
        repo, tag = reference.parse(name, default_tag=None)
        if digest:  # NAME@sha256:...: sent as the tag, as today's CLI does
            if tag:
                raise ValueError(f"invalid reference format: {rest[0]}")
            tag = digest
    except ValueError as e:
        raise CommandError(str(e)) from None
    if opts.all_tags:
        raise CommandError("pull -a (all tags) is not supported by v2 registries here yet")
    pull(cli, repo, tag or reference.DEFAULT_TAG, cli.out)
    return 0


def pull(cli, repo: str, tag: str, out) -> None:
    query = {"fromImage": repo, "tag": tag}
    display(cli.client.stream("POST", "/images/create", query, headers=header_for(repo)), out)
