"""`docker import file|URL|- [REPOSITORY[:TAG]]`: a new image from a root filesystem tarball.

A local file is sent as the request body, as standard input is (`fromSrc=-`), the way later
Docker clients read one; a URL is fetched by the daemon.
"""

from __future__ import annotations

import sys

from ... import reference
from ..main import CommandError
from ..progress import display


def flags(cli):
    fs = cli.flags(
        "import",
        "[OPTIONS] file|URL|- [REPOSITORY[:TAG]]",
        "Create an empty filesystem image and import the contents of the tarball "
        "(.tar, .tar.gz, .tgz, .bzip, .tar.xz, .txz) into it, then optionally tag it.",
    )
    fs.list(["c", "-change"], "Apply Dockerfile instruction to the created image")
    fs.string(["m", "-message"], "", "Set commit message for imported image")
    return fs


def run(cli, args: list[str]) -> int:
    opts, rest = cli.parse(flags(cli), args, 1, 2)
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
        try:
            body = open(src, "rb")
        except OSError as e:
            raise CommandError(f"open {src}: {(e.strerror or str(e)).lower()}") from None
        src = "-"
    query = {
        "fromSrc": src,
        "repo": repo or None,
        "tag": tag or None,
        "changes": opts.change or None,
        "message": opts.message or None,
    }
    try:
        display(cli.client.stream("POST", "/images/create", query, body=body), cli.out)
    finally:
        if body is not None and body is not sys.stdin.buffer:
            body.close()
    return 0
