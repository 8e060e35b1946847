"""Crash-safe file writes: everything the daemon records under its root goes through here."""

from __future__ import annotations

import json
import os
from typing import Any


def write_bytes(path: str, data: bytes, mode: int = 0o600) -> None:
    """Replace `path` with `data` so that a crash at any moment leaves either the old or the new file."""
    directory = os.path.dirname(path) or "."
    tmp = os.path.join(directory, f".tmp-{os.path.basename(path)}-{os.getpid()}-{id(data):x}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode)
    try:
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            view = view[n:]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        _unlink_quietly(tmp)
        raise
    os.close(fd)
    try:
        os.replace(tmp, path)
    except BaseException:
        _unlink_quietly(tmp)
        raise
    fsync_dir(directory)


def write_json(path: str, obj: Any, mode: int = 0o600) -> None:
    write_bytes(path, json.dumps(obj, separators=(",", ":")).encode(), mode)


def read_json(path: str) -> Any:
    with open(path, "rb") as f:
        return json.loads(f.read())


def fsync_dir(directory: str) -> None:
    # The rename is durable only once the directory entry itself reaches the disk.
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def is_temp_name(name: str) -> bool:
    return name.startswith(".tmp-")


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
