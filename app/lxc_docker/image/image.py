"""An image's metadata: the legacy JSON document Docker keeps in `graph/<id>/json`."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from .. import timeutil

# The order Docker 0.9 wrote the fields in; kept so that our json files read like Docker's.
_FIELDS = (
    "id",
    "parent",
    "comment",
    "created",
    "container",
    "container_config",
    "docker_version",
    "author",
    "config",
    "architecture",
    "os",
)


def new_id() -> str:
    return os.urandom(32).hex()


@dataclass
class Image:
    id: str
    parent: str = ""
    comment: str = ""
    created: str = field(default_factory=timeutil.now_rfc3339)
    container: str = ""
    container_config: dict[str, Any] | None = None
    docker_version: str = ""
    author: str = ""
    config: dict[str, Any] | None = None
    architecture: str = "amd64"
    os: str = "linux"
    size: int = 0

    @property
    def created_epoch(self) -> float:
        try:
            return timeutil.parse_rfc3339(self.created)
        except ValueError:
            return 0.0

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {}
        for name in _FIELDS:
            value = getattr(self, name)
            # Docker omits empty optional strings (omitempty) but always writes config objects.
            if value in ("", None) and name in ("parent", "comment", "container", "author"):
                continue
            doc[name] = value
        doc["Size"] = self.size
        return doc

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Image:
        if not isinstance(doc, dict):
            raise ValueError("image metadata is not a JSON object")
        image_id = doc.get("id")
        if not isinstance(image_id, str) or len(image_id) != 64 or not _is_hex(image_id):
            raise ValueError(f"invalid image id {image_id!r}")
        parent = doc.get("parent") or ""
        if parent and (not isinstance(parent, str) or len(parent) != 64 or not _is_hex(parent)):
            raise ValueError(f"invalid parent id {parent!r}")
        kwargs: dict[str, Any] = {"id": image_id, "parent": parent}
        for name in _FIELDS[2:]:
            value = doc.get(name)
            if value is None:
                continue
            if name in ("container_config", "config"):
                if not isinstance(value, dict):
                    raise ValueError(f"image field {name} must be an object")
            elif not isinstance(value, str):
                raise ValueError(f"image field {name} must be a string")
            kwargs[name] = value
        size = doc.get("Size", 0)
        kwargs["size"] = size if isinstance(size, int) and size >= 0 else 0
        if "created" not in kwargs:
            kwargs["created"] = timeutil.now_rfc3339()
        return cls(**kwargs)

    def created_by(self) -> str:
        cmd = (self.container_config or {}).get("Cmd") or []
        return " ".join(str(c) for c in cmd) if isinstance(cmd, list) else str(cmd)


def _is_hex(text: str) -> bool:
    return all(c in "0123456789abcdef" for c in text)
