"""The one mapping between an image config of Docker 1.10+ (content-addressed, `rootfs.diff_ids`) and
our chain of v1-style images, used by `load` of a manifest-only archive and by a v2 pull.

Each layer becomes an image whose id is derived from its parent's id and the layer's diff_id, so
loading or pulling the same image twice yields the same ids; the top image carries the config. The
reverse (`config_for`) is what push sends: Docker 20.10 reads it back with the same diff_ids.
"""

from __future__ import annotations

import hashlib
from typing import Any

from .image import Image


def chain_ids(diff_ids: list[str]) -> list[str]:
    """The v1 ids of the chain of layers `diff_ids` (parents first)."""
    ids, parent = [], ""
    for diff_id in diff_ids:
        parent = hashlib.sha256(f"{parent} {diff_id}".encode()).hexdigest()
        ids.append(parent)
    return ids


def chain_images(config: dict[str, Any]) -> list[Image]:
    """Our images (parents first) for a v2 image config; ValueError when it has no usable diff_ids."""
    diff_ids = (config.get("rootfs") or {}).get("diff_ids") or []
    if not isinstance(diff_ids, list) or not all(isinstance(d, str) and d for d in diff_ids):
        raise ValueError("image config has invalid rootfs.diff_ids")
    images, parent = [], ""
    history = [h for h in config.get("history") or [] if isinstance(h, dict) and not h.get("empty_layer")]
    for i, image_id in enumerate(chain_ids(diff_ids)):
        top = i == len(diff_ids) - 1
        comment = history[i].get("comment") if i < len(history) else None
        images.append(
            Image(
                id=image_id,
                parent=parent,
                comment=comment if isinstance(comment, str) else "",
                created=config.get("created", "") or "",
                author=config.get("author", "") if top else "",
                config=config.get("config") if top else None,
                container_config=config.get("container_config") if top else None,
                docker_version=config.get("docker_version", "") or "",
                architecture=config.get("architecture", "amd64") or "amd64",
                os=config.get("os", "linux") or "linux",
            )
        )
        parent = image_id
    return images


def config_for(chain: list[Image], diff_ids: list[str]) -> dict[str, Any]:
    """The v2 image config for our chain (parents first) whose layers have `diff_ids`."""
    top = chain[-1]
    history = []
    for img in chain:
        step: dict[str, Any] = {"created": img.created}
        created_by = img.created_by()
        if created_by:
            step["created_by"] = created_by
        if img.comment:
            step["comment"] = img.comment
        if img.author:
            step["author"] = img.author
        history.append(step)
    doc: dict[str, Any] = {
        "architecture": top.architecture or "amd64",
        "os": top.os or "linux",
        "created": top.created,
        "config": top.config or {},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": history,
    }
    if top.author:
        doc["author"] = top.author
    if top.container_config:
        doc["container_config"] = top.container_config
    if top.container:
        doc["container"] = top.container
    if top.docker_version:
        doc["docker_version"] = top.docker_version
    return doc
