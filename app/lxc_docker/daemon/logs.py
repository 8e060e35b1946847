"""The per-container JSON log (`<id>-json.log`), as `docker logs` reads it: the json-file driver's
files (rotated ones too), read in order and optionally followed. The drivers are `logdrivers/`.
"""

from __future__ import annotations

from .logdrivers.base import Copier
from .logdrivers.jsonfile import JsonFileDriver, log_files, read

__all__ = ["LogWriter", "log_files", "read"]


def LogWriter(path: str) -> Copier:  # noqa: N802 - the name the streams used before drivers
    """A plain json-file log at `path` (no rotation): what a run writes when no driver is chosen."""
    return Copier(JsonFileDriver(path))
