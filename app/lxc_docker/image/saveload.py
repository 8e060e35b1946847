"""`docker save` and `docker load`: image tarballs in Docker's legacy layout.

The layout is `repositories` plus `<id>/{VERSION,json,layer.tar}` per layer. `load` also reads what
Docker 1.10 and later write (`manifest.json`, a layer.tar that is a symlink to another layer's, or
only a manifest with content-addressed configs).
"""

from __future__ import annotations

import json
import os
import shutil
import tarfile
import tempfile
import time
from typing import Any, BinaryIO

from .. import reference
from ..archive.extract import extract
from ..errors import ArchiveError, InvalidParameter
from ..sysutil.journal import Journal
from . import v2config
from .graph import Graph
from .image import Image
from .tags import TagStore


def save(
    graph: Graph, tags: TagStore, images: list[tuple[str, list[tuple[str, str]]]], out: BinaryIO
) -> None:
    """Write `images` [(image id, [(repo, tag), ...])] with all their ancestors to `out` as a tar."""
    layers: list[Image] = []
    seen: set[str] = set()
    for image_id, _ in images:
        for img in reversed(graph.history(image_id)):
            if img.id not in seen:
                seen.add(img.id)
                layers.append(img)
    repositories: dict[str, dict[str, str]] = {}
    for image_id, names in images:
        for repo, tag in names:
            repositories.setdefault(repo, {})[tag] = image_id
    spool_dir = os.path.join(os.path.dirname(graph.root), "tmp")
    os.makedirs(spool_dir, exist_ok=True)
    now = int(time.time())
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tw:
        for img in layers:
            _add_bytes(tw, f"{img.id}/", None, now)
            _add_bytes(tw, f"{img.id}/VERSION", b"1.0", now)
            _add_bytes(tw, f"{img.id}/json", json.dumps(img.to_json()).encode(), now)
            # A tar header needs the member's size up front, so each layer is spooled first.
            with tempfile.TemporaryFile(dir=spool_dir) as spool:
                graph.layer_tar(img.id, spool)
                size = spool.tell()
                spool.seek(0)
                info = tarfile.TarInfo(f"{img.id}/layer.tar")
                info.size, info.mode, info.mtime = size, 0o644, now
                tw.addfile(info, spool)
        if repositories:
            _add_bytes(tw, "repositories", json.dumps(repositories).encode(), now)


def _add_bytes(tw: tarfile.TarFile, name: str, data: bytes | None, mtime: int) -> None:
    import io

    info = tarfile.TarInfo(name)
    info.mtime = mtime
    if data is None:
        info.type, info.mode = tarfile.DIRTYPE, 0o755
        tw.addfile(info)
    else:
        info.size, info.mode = len(data), 0o644
        tw.addfile(info, io.BytesIO(data))


def load(graph: Graph, tags: TagStore, stream: BinaryIO) -> tuple[list[Image], list[tuple[str, str, str]]]:
    """Load an image tarball; returns the new images and the (repo, tag, id) tags set. All or nothing."""
    tmp_root = os.path.join(os.path.dirname(graph.root), "tmp")
    os.makedirs(tmp_root, exist_ok=True)
    work = tempfile.mkdtemp(prefix="load-", dir=tmp_root)
    try:
        extract(stream, work, whiteouts="keep", same_owner=False)
        chain = _legacy_images(work)
        if chain:
            manifest = _manifest(work)
            _comments_from_history(work, manifest, {img.id: img for img, _ in chain})
            tops = [(e.get("RepoTags") or [], _legacy_top(e)) for e in manifest]
        else:
            chain, tops = _manifest_images(work)
        if not chain:
            raise ArchiveError("invalid image archive: no image metadata (json or manifest.json) found")
        names = _tags(work, tops)
        created: list[Image] = []
        todo = [
            (img, layer_path) for img, layer_path in _parents_first(chain, graph) if not graph.exists(img.id)
        ]
        # Checked before anything is stored, so that recovery never has a tag to drop.
        coming = {img.id for img, _ in todo}
        missing = [(r, t, i) for r, t, i in names if i not in coming and not graph.exists(i)]
        if missing:
            raise ArchiveError(
                f"invalid image archive: tag {missing[0][0]}:{missing[0][1]} names a missing image"
            )
        # The intent names every image to register and every tag before the first layer: after a
        # crash, recovery sets the tags if all the images arrived and removes them otherwise.
        intent = Journal(os.path.dirname(graph.root)).begin(
            "load", Images=[img.id for img, _ in todo], Tags=[list(n) for n in names]
        )
        try:
            for img, layer_path in todo:
                with open(layer_path, "rb") if layer_path else _empty() as layer:
                    created.append(graph.register(img, layer))
                intent.step()
            if names:
                tags.set_many(names)
                intent.step()
        except BaseException:
            graph.roll_back(created)
            raise
        finally:
            intent.done()
        return created, names
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _empty() -> BinaryIO:
    import io

    buf = io.BytesIO()
    tarfile.open(fileobj=buf, mode="w").close()
    buf.seek(0)
    return buf


def _inside(work: str, rel: str) -> str:
    # layer.tar may be a symlink to another layer's (Docker 1.10+ saves shared layers once); follow it
    # only while it stays inside the archive.
    path = os.path.realpath(os.path.join(work, rel))
    if not path.startswith(os.path.realpath(work) + os.sep):
        raise ArchiveError(f"invalid image archive: {rel} points outside the archive")
    return path


def _read_json(path: str, what: str) -> Any:
    try:
        with open(path, "rb") as f:
            return json.loads(f.read())
    except (OSError, ValueError) as e:
        raise ArchiveError(f"invalid image archive: cannot read {what}: {e}")


def _legacy_images(work: str) -> list[tuple[Image, str | None]]:
    chain = []
    for name in sorted(os.listdir(work)):
        meta = os.path.join(work, name, "json")
        if not reference.is_id(name) or not os.path.isfile(meta):
            continue
        try:
            img = Image.from_json(_read_json(meta, f"{name}/json"))
        except ValueError as e:
            raise ArchiveError(f"invalid image archive: {name}/json: {e}")
        if img.id != name:
            raise ArchiveError(f"invalid image archive: {name}/json describes image {img.id}")
        layer = os.path.join(name, "layer.tar")
        chain.append((img, _inside(work, layer) if os.path.lexists(os.path.join(work, layer)) else None))
    return chain


def _manifest(work: str) -> list[dict[str, Any]]:
    path = os.path.join(work, "manifest.json")
    if not os.path.isfile(path):
        return []
    manifest = _read_json(path, "manifest.json")
    if not isinstance(manifest, list) or not all(isinstance(e, dict) for e in manifest):
        raise ArchiveError("invalid image archive: manifest.json is not a list of objects")
    return manifest


def _manifest_images(work: str) -> tuple[list[tuple[Image, str | None]], list[tuple[list[str], str]]]:
    chain: list[tuple[Image, str | None]] = []
    tops: list[tuple[list[str], str]] = []
    for entry in _manifest(work):
        if not isinstance(entry, dict) or not isinstance(entry.get("Config"), str):
            raise ArchiveError("invalid image archive: manifest entry without Config")
        config = _read_json(_inside(work, entry["Config"]), entry["Config"])
        layers = entry.get("Layers") or []
        diff_ids = (config.get("rootfs") or {}).get("diff_ids") or []
        if len(diff_ids) != len(layers):
            raise ArchiveError("invalid image archive: layer count differs from rootfs.diff_ids")
        try:
            images = v2config.chain_images(config)
        except ValueError as e:
            raise ArchiveError(f"invalid image archive: {e}")
        # Commit messages come back from the history in _comments_from_history, as for legacy dirs.
        for img, layer in zip(images, layers, strict=True):
            img.comment = ""
            chain.append((img, _inside(work, layer)))
        parent = images[-1].id if images else ""
        tops.append((entry.get("RepoTags") or [], parent))
    return chain, tops


def _tags(work: str, tops: list[tuple[list[str], str]]) -> list[tuple[str, str, str]]:
    result: list[tuple[str, str, str]] = []
    repos_path = os.path.join(work, "repositories")
    if os.path.isfile(repos_path):
        repos = _read_json(repos_path, "repositories")
        if not isinstance(repos, dict):
            raise ArchiveError("invalid image archive: repositories is not an object")
        for repo, tagmap in repos.items():
            if not isinstance(tagmap, dict):
                raise ArchiveError(f"invalid image archive: repositories[{repo!r}] is not an object")
            for tag, image_id in tagmap.items():
                result.append(_checked_tag(repo, tag, image_id))
        return result
    for repo_tags, top in tops:
        for name in repo_tags:
            repo, tag = reference.split_tag(name)
            result.append(_checked_tag(repo, tag or reference.DEFAULT_TAG, top))
    return result


def _comments_from_history(work: str, manifest: list[dict[str, Any]], images: dict[str, Image]) -> None:
    """Docker 1.10+ keeps commit messages only in the config's history; put them back on the layers."""
    for entry in manifest:
        config_name = entry.get("Config")
        if not isinstance(config_name, str):
            continue
        config = _read_json(_inside(work, config_name), config_name)
        history = [h for h in config.get("history") or [] if isinstance(h, dict) and not h.get("empty_layer")]
        layers = entry.get("Layers") or []
        for layer, step in zip(layers, history, strict=False):
            img = images.get(os.path.dirname(layer)) if isinstance(layer, str) else None
            if img is not None and not img.comment and isinstance(step.get("comment"), str):
                img.comment = step["comment"]


def _legacy_top(entry: dict[str, Any]) -> str:
    # With legacy directories present, a manifest entry's last layer sits in its top image's dir.
    layers = entry.get("Layers") or []
    if not layers:
        raise ArchiveError("invalid image archive: manifest entry without layers")
    return os.path.dirname(layers[-1])


def _checked_tag(repo: str, tag: str, image_id: Any) -> tuple[str, str, str]:
    try:
        repo, parsed = reference.parse(f"{repo}:{tag}")
    except ValueError as e:
        raise ArchiveError(f"invalid image archive: {e}")
    if not isinstance(image_id, str) or not reference.is_id(image_id):
        raise ArchiveError(f"invalid image archive: tag {repo}:{tag} names invalid id {image_id!r}")
    return repo, parsed or tag, image_id


def _parents_first(chain: list[tuple[Image, str | None]], graph: Graph) -> list[tuple[Image, str | None]]:
    by_id = {img.id: (img, path) for img, path in chain}
    ordered: list[tuple[Image, str | None]] = []
    done: set[str] = set()

    def visit(image_id: str, depth: int) -> None:
        if image_id in done:
            return
        if depth > len(by_id):
            raise ArchiveError("invalid image archive: parent chain has a cycle")
        img, path = by_id[image_id]
        if img.parent:
            if img.parent in by_id:
                visit(img.parent, depth + 1)
            elif not graph.exists(img.parent):
                raise ArchiveError(
                    f"invalid image archive: parent {img.parent[:12]} of {img.id[:12]} is missing"
                )
        done.add(image_id)
        ordered.append((img, path))

    for image_id in by_id:
        visit(image_id, 0)
    if not ordered:
        raise InvalidParameter("no images in archive")
    return ordered
