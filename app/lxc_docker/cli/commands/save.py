"""`docker save IMAGE > file.tar`: stream images with their parents and tags as a tarball."""

from __future__ import annotations

from ..tarout import refuse_terminal, write_body


def flags(cli):
    fs = cli.flags(
        "save", "IMAGE [IMAGE...]", "Save an image to a tar archive (streamed to stdout by default)"
    )
    fs.string(["o", "-output"], "", "Write to a file, instead of STDOUT")
    return fs


def run(cli, args: list[str]) -> int:
    opts, rest = cli.parse(flags(cli), args, 1)
    refuse_terminal(opts.output)
    if len(rest) == 1:
        resp = cli.client.call("GET", f"/images/{rest[0]}/get")
    else:
        resp = cli.client.call("GET", "/images/get", {"names": rest})
    with resp:
        write_body(resp, opts.output)
    return 0
