"""Tar archives built in memory for tests: entries of every kind, deep trees, single-file layers."""

from __future__ import annotations

import io
import os
import tarfile

MTIME = 1_500_000_000


def entry(
    name: str,
    kind: bytes = tarfile.REGTYPE,
    data: bytes = b"",
    mode: int = 0o644,
    mtime: int = MTIME,
    **fields,
):
    """A (TarInfo, data) pair; any other TarInfo field (linkname, uid, pax_headers...) by keyword."""
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.mtime = mtime
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    for key, value in fields.items():
        setattr(info, key, value)
    return info, data


def build(*entries, fmt: int = tarfile.PAX_FORMAT) -> bytes:
    """The bytes of a tar holding `entries`, in order, exactly as given (no name checks)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tf:
        for info, data in entries:
            tf.addfile(info, io.BytesIO(data) if info.size else None)
    return buf.getvalue()


def tar_of(files: dict[str, bytes], mtime: int = MTIME) -> bytes:
    """A tar of regular files, name -> content."""
    return build(*(entry(name, data=data, mtime=mtime) for name, data in files.items()))


def make_deep(top, name: str, depth: int) -> None:
    """top/name/name/... `depth` levels down, made relative to open directories: os.makedirs
    recurses once per level, and long paths cost a lookup per component."""
    fd = os.open(top, os.O_RDONLY)
    try:
        for _ in range(depth):
            os.mkdir(name, dir_fd=fd)
            sub = os.open(name, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = sub
    finally:
        os.close(fd)
