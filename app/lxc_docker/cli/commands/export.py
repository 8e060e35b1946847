"""`docker export CONTAINER > file.tar`: a container's filesystem as a tar archive."""

from __future__ import annotations

from ..tarout import refuse_terminal, write_body


def flags(cli):
    fs = cli.flags("export", "CONTAINER", "Export the contents of a filesystem as a tar archive to STDOUT")
    fs.string(["o", "-output"], "", "Write to a file, instead of STDOUT")
    return fs


def run(cli, args: list[str]) -> int:
    opts, rest = cli.parse(flags(cli), args, 1, 1)
    refuse_terminal(opts.output)
    with cli.client.call("GET", f"/containers/{rest[0]}/export") as resp:
        write_body(resp, opts.output)
    return 0
