"""Where `save` and `export` put a tar stream: a file (written whole or not at all) or stdout."""

from __future__ import annotations

import os
import sys

from .main import CommandError


def refuse_terminal(output: str) -> None:
    if not output and sys.stdout.isatty():
        raise CommandError("Cowardly refusing to save to a terminal. Use the -o flag or redirect.")


def write_body(resp, output: str) -> None:
    """Copy the response body to `output` (atomically, via a temporary name) or to stdout."""
    if not output:
        sys.stdout.flush()
        _copy(resp, sys.stdout.buffer)
        return
    tmp = f"{output}.tmp-{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            _copy(resp, f)
        os.replace(tmp, output)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _copy(resp, out) -> None:
    for chunk in resp.iter_chunks(1 << 20):
        out.write(chunk)
    out.flush()
