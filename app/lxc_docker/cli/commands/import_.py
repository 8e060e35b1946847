"""`docker import URL|- [REPOSITORY[:TAG]]`: a new image from a root filesystem tarball."""

from __future__ import annotations

import sys

from ... import reference
from ..main import CommandError
from ..progress import display


def flags(cli):
    return cli.flags(
        "import",
        "URL|- [REPOSITORY[:TAG]]",
        "Create an empty filesystem image and import the contents of the tarball "
        "(.tar, .tar.gz, .tgz, .bzip, .tar.xz, .txz) into it, then optionally tag it.",
    )


def run(cli, args: list[str]) -> int:
    _, rest = cli.parse(flags(cli), args, 1, 2)
    src = rest[0]
    repo, tag = "", ""
    if len(rest) == 2:
        repo, tag = reference.split_tag(rest[1])
        try:
            reference.parse(rest[1])
        except ValueError as e:
            raise CommandError(str(e))
    body = None
    if src == "-":
        body = sys.stdin.buffer
    elif not src.startswith(("http://", "https://")):
        raise CommandError(f"invalid source {src!r}: give an http(s) URL or - for standard input")
    query = {"fromSrc": src, "repo": repo or None, "tag": tag or None}
    display(cli.client.stream("POST", "/images/create", query, body=body), cli.out)
    return 0
