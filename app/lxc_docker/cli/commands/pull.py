"""`docker pull [-a] [-t TAG] NAME[:TAG]`: pull an image or a repository from its registry."""

from __future__ import annotations

from ... import reference
from ..authconfig import header_for
from ..main import CommandError
from ..progress import display


def flags(cli):
    fs = cli.flags("pull", "NAME[:TAG]", "Pull an image or a repository from the registry")
    fs.bool(["a", "-all-tags"], False, "Download all tagged images in the repository")
    fs.string(["t", "-tag"], "", "Download tagged image in a repository")
    return fs


def run(cli, args: list[str]) -> int:
    opts, rest = cli.parse(flags(cli), args, 1, 1)
    name, _, digest = rest[0].partition("@")
    try:
        repo, tag = reference.parse(name, default_tag=None)
        if opts.tag:  # Docker 0.9's `pull -t TAG NAME`
            if tag or digest:
                raise ValueError(f"a tag is given twice: {rest[0]} and -t {opts.tag}")
            reference.validate_tag(opts.tag)
            tag = opts.tag
        if digest:  # NAME@sha256:...: sent as the tag, as today's CLI does
            if tag:
                raise ValueError(f"invalid reference format: {rest[0]}")
            tag = digest
    except ValueError as e:
        raise CommandError(str(e)) from None
    if opts.all_tags:
        if tag:
            raise CommandError("tag can't be used with --all-tags/-a")
        # No tag at all: the daemon pulls every tag of the repository (as later Docker's CLI asks).
        display(
            cli.client.stream("POST", "/images/create", {"fromImage": repo}, headers=header_for(repo)),
            cli.out,
        )
        return 0
    pull(cli, repo, tag or reference.DEFAULT_TAG, cli.out)
    return 0


def pull(cli, repo: str, tag: str, out) -> None:
    query = {"fromImage": repo, "tag": tag}
    display(cli.client.stream("POST", "/images/create", query, headers=header_for(repo)), out)
