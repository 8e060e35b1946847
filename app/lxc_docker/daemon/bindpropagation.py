"""Propagation of a container's binds at start (`-v /src:/dst:rshared`): which mode each bind asked
for, and Docker 1.12's start-time check that its source can give it (a shared bind needs its source
on a shared mount, a slave bind on a shared or slave one), with Docker's wording."""

from __future__ import annotations

from ..errors import SystemError_
from ..sysutil import mountprop
from .volumespec import Bind


def modes(volumes: dict[str, str], binds: list[Bind]) -> dict[str, str]:
    """Container path → the propagation its bind asked for (only those that asked one); raises
    SystemError_ (a failed start, as Docker's 500) when a source's mount cannot give it."""
    out = {}
    for b in binds:
        source = volumes.get(b.destination)
        if not b.propagation or source is None:
            continue
        problem = mountprop.check_source(source, b.propagation)
        if problem:
            raise SystemError_(f"linux mounts: {problem}")
        out[b.destination] = b.propagation
    return out
