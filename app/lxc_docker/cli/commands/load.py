"""`docker load < file.tar`: images and tags from a tarball written by `docker save`."""

from __future__ import annotations

import sys

from ..progress import display


def flags(cli):
    fs = cli.flags("load", "", "Load an image from a tar archive on STDIN")
    fs.string(["i", "-input"], "", "Read from a tar archive file, instead of STDIN")
    fs.bool(["q", "-quiet"], False, "Suppress the load output")
    return fs


def run(cli, args: list[str]) -> int:
    opts, _ = cli.parse(flags(cli), args, 0, 0)
    source = open(opts.input, "rb") if opts.input else sys.stdin.buffer
    with source:
        resp = cli.client.call("POST", "/images/load", {"quiet": opts.quiet or None}, body=source)
    with resp:
        if "json" in resp.headers.get("content-type", ""):
            from ... import jsonlite

            display((jsonlite.loads(line) for line in resp.iter_lines() if line.strip()), cli.out)
        else:
            resp.read()
    return 0
