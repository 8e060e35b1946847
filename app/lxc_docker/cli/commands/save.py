"""`docker save IMAGE > file.tar`: stream images with their parents and tags as a tarball."""

from __future__ import annotations

import os
import sys

from ..main import CommandError


def flags(cli):
    fs = cli.flags(
        "save", "IMAGE [IMAGE...]", "Save an image to a tar archive (streamed to stdout by default)"
    )
    fs.string(["o", "-output"], "", "Write to a file, instead of STDOUT")
    return fs


def run(cli, args: list[str]) -> int:
    opts, rest = cli.parse(flags(cli), args, 1)
    if not opts.output and sys.stdout.isatty():
        raise CommandError("Cowardly refusing to save to a terminal. Use the -o flag or redirect.")
    if len(rest) == 1:
        resp = cli.client.call("GET", f"/images/{rest[0]}/get")
    else:
        resp = cli.client.call("GET", "/images/get", {"names": rest})
    with resp:
        if opts.output:
            tmp = f"{opts.output}.tmp-{os.getpid()}"
            try:
                with open(tmp, "wb") as f:
                    _copy(resp, f)
                os.replace(tmp, opts.output)
            except BaseException:
                if os.path.exists(tmp):
                    os.unlink(tmp)
                raise
        else:
            sys.stdout.flush()
            _copy(resp, sys.stdout.buffer)
    return 0


def _copy(resp, out) -> None:
    for chunk in resp.iter_chunks(1 << 20):
        out.write(chunk)
    out.flush()
