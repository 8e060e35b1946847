"""Volume specifications, parsed and planned without touching anything: `HostConfig.Binds` entries
(`/host:/path[:mode]`, or `NAME:/path[:mode]` for a named volume), `--volumes-from`, and which
source serves each container path (`plan`). `volumes.py` acts on what these return.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidParameter
from ..runconfig.bindmode import MODE_HINT, BindMode, parse_mode
from .volumestore import DATA, validate_name

_HEX = frozenset("0123456789abcdef")


# -- parsing (pure) ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bind:
    source: str  # absolute host path, as given, or the name of a volume (`-v NAME:/path`)
    destination: str  # clean absolute container path
    writable: bool
    propagation: str = ""  # one of runconfig.bindmode.PROPAGATIONS, "" when not given

    @property
    def named(self) -> bool:
        return not self.source.startswith("/")


def clean_destination(path: str, what: str = "volume") -> str:
    """A container path as Go's filepath.Clean leaves it; relative paths and `/` are refused."""
    if not isinstance(path, str) or not path.startswith("/"):
        raise InvalidParameter(f"Invalid {what} path {path!r}: it must be an absolute path")
    cleaned = "/" + os.path.normpath(path).lstrip("/")
    if cleaned == "/":
        raise InvalidParameter(f"Invalid {what} path {path!r}: a volume cannot be mounted on /")
    return cleaned


def parse_bind(spec: str) -> Bind:
    """`/host:/container[:MODE]` from HostConfig.Binds (MODE: runconfig/bindmode.py); rw by default."""
    parts = spec.split(":") if isinstance(spec, str) else []
    if len(parts) not in (2, 3) or not all(parts):
        raise InvalidParameter(
            f"Invalid bind specification: {spec!r} (use /host/path:/container/path[:ro|rw][,rshared...])"
        )
    source, destination = parts[0], parts[1]
    try:
        mode = parse_mode(parts[2]) if len(parts) == 3 else BindMode()
    except ValueError:
        raise InvalidParameter(f"Invalid bind mode {parts[2]!r} in {spec!r}: {MODE_HINT}") from None
    if not source.startswith("/"):
        # Not a path, so the name of a volume, as in Docker 1.9+ (the daemon's working directory
        # means nothing to the user; the client makes its relative paths absolute).
        validate_name(source)
    return Bind(source, clean_destination(destination, "bind"), mode.writable, mode.propagation)


def parse_binds(specs: Iterable[str] | None) -> list[Bind]:
    binds = [parse_bind(s) for s in specs or ()]
    seen: set[str] = set()
    for b in binds:
        if b.destination in seen:
            raise InvalidParameter(f"Duplicate bind mount {b.destination}")
        seen.add(b.destination)
    return binds


def parse_volumes_from(spec: str) -> tuple[str, bool | None]:
    """`name[:ro|:rw]` → (name, writable); None keeps each volume's mode in the source container."""
    name, sep, mode = spec.partition(":") if isinstance(spec, str) else ("", "", "")
    if not name or (sep and mode not in ("ro", "rw")):
        raise InvalidParameter(f"Malformed volumes-from specification: {spec!r} (use CONTAINER[:ro|rw])")
    return name, (mode == "rw") if mode else None


def volumes_from_specs(config: dict[str, Any], host_config: dict[str, Any]) -> list[str]:
    """HostConfig.VolumesFrom (API 1.10+) then Config.VolumesFrom (API 1.9's comma list), deduplicated."""
    specs: list[str] = []
    value = host_config.get("VolumesFrom")
    for item in [value] if isinstance(value, str) else value or ():
        specs += str(item).split(",")
    legacy = config.get("VolumesFrom")
    if isinstance(legacy, str):
        specs += legacy.split(",")
    result: list[str] = []
    for spec in (s.strip() for s in specs):
        if spec and spec not in result:
            result.append(spec)
    return result


def plan(
    paths: Iterable[str],
    binds: list[Bind],
    sources: list[tuple[dict[str, str], dict[str, bool], bool | None]],
    fixed: dict[str, tuple[str, bool]] | None = None,
    reusable: dict[str, str] | None = None,
) -> dict[str, tuple[str, bool]]:
    """Container path → (host path, writable); host path "" asks for a new volume.

    Precedence: `fixed` entries, then binds, then each `--volumes-from` source in the order given
    (the first one to offer a path wins), then a volume for each remaining path of Config.Volumes
    (`reusable` names volumes already made for this container, used again rather than replaced).
    Binds win over volumes-from because the user named that path explicitly; volumes-from wins over
    Config.Volumes as in Docker 0.9, so that an image's VOLUME is served by the data container.
    A source's read-only volume stays read-only even with `:rw`: a read-only bind must not become
    writable by going through a middleman container (Docker did the same).
    """
    result: dict[str, tuple[str, bool]] = dict(fixed or {})
    for b in binds:
        result.setdefault(b.destination, (b.source, b.writable))
    for volumes, volumes_rw, mode in sources:
        for dest, source in volumes.items():
            writable = bool(volumes_rw.get(dest, True)) and mode is not False
            result.setdefault(dest, (source, writable))
    for path in paths:
        result.setdefault(path, ((reusable or {}).get(path, ""), True))
    return result


def volume_id_of(volumes_dir: str, host_path: str) -> str | None:
    """The id of the volume whose data directory is `host_path`, or None (a bind of a host path)."""
    head, tail = os.path.split(host_path.rstrip("/"))
    parent, vid = os.path.split(head)
    if tail == DATA and parent == volumes_dir and len(vid) == 64 and set(vid) <= _HEX:
        return vid
    return None
