"""The mode of a bind (`/host:/path:MODE`, `-v` and HostConfig.Binds), as Docker 1.12 reads it: a
comma list with at most one of each kind: `ro|rw`, an SELinux label `z|Z`, a propagation
(`shared|rshared|slave|rslave|private|rprivate`).

The label is accepted and has no effect: this engine runs without SELinux, where Docker ignores it too.
"""

from __future__ import annotations

from dataclasses import dataclass

PROPAGATIONS = ("shared", "rshared", "slave", "rslave", "private", "rprivate")
MODE_HINT = "use a comma list of ro|rw, z|Z, " + "|".join(PROPAGATIONS)
_KINDS = {"ro": "rw", "rw": "rw", "z": "label", "Z": "label", **{p: "propagation" for p in PROPAGATIONS}}


@dataclass(frozen=True)
class BindMode:
    writable: bool = True
    propagation: str = ""  # "" when not given (Docker then uses rprivate)


def parse_mode(mode: str) -> BindMode:
    """`mode` → BindMode; ValueError("invalid mode: MODE") as Docker words it for anything else."""
    seen: dict[str, str] = {}
    for option in mode.split(","):
        kind = _KINDS.get(option)
        if kind is None or kind in seen:
            raise ValueError(f"invalid mode: {mode}")
        seen[kind] = option
    return BindMode(seen.get("rw", "rw") == "rw", seen.get("propagation", ""))
