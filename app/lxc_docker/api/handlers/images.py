"""Image endpoints: list, inspect, history, import, tag, delete, save, load, insert, viz."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ... import reference
from ...errors import DockerError, InvalidParameter, NotFound
from ...image import saveload
from ...image.image import Image
from ..http import Request
from ..router import Router

if TYPE_CHECKING:
    from ...daemon.daemon import Daemon
    from ..response import Response


class _Buffered:
    """Coalesces tarfile's 10 KiB writes into large HTTP chunks."""

    def __init__(self, writer: Any, size: int = 1 << 20) -> None:
        self._writer = writer
        self._buf = bytearray()
        self._size = size

    def write(self, data: bytes) -> int:
        self._buf += data
        if len(self._buf) >= self._size:
            self.flush()
        return len(data)

    def flush(self) -> None:
        if self._buf:
            self._writer.write(bytes(self._buf))
            self._buf.clear()


def register(router: Router, daemon: Daemon) -> None:
    svc = daemon.images

    def list_images(req: Request, res: Response) -> None:
        name_filter = req.q("filter")
        filters = req.q_json("filters") or {}
        dangling = False
        if isinstance(filters, dict):
            refs = _filter_values(filters, "reference")
            if refs:
                name_filter = refs[0]
            dangling = "true" in _filter_values(filters, "dangling")
        rows = svc.list(all=req.q_bool("all"), name_filter=name_filter)
        if dangling:
            rows = [r for r in rows if r["RepoTags"] == ["<none>:<none>"]]
        if req.at_least(1, 24):
            for r in rows:
                # Since Docker 1.10 `Size` is the whole image, not the top layer.
                r.update(
                    {
                        "Size": r["VirtualSize"],
                        "RepoDigests": [],
                        "SharedSize": -1,
                        "Containers": -1,
                        "Labels": None,
                    }
                )
        res.json(rows)

    def inspect(req: Request, res: Response, name: str) -> None:
        image = svc.lookup(name)
        if not req.at_least(1, 12):
            res.json(image.to_json())
            return
        res.json(_modern_inspect(daemon, image))

    def history(req: Request, res: Response, name: str) -> None:
        rows = svc.history(name)
        if not req.at_least(1, 17):
            for r in rows:
                r.pop("Comment", None)
        res.json(rows)

    def create(req: Request, res: Response) -> None:
        src = req.q("fromSrc")
        if not src:
            image = req.q("fromImage") or "(none)"
            raise NotFound(
                f"No such image: {image} (pulling from a registry is not available in this version)"
            )
        repo, tag = req.q("repo"), req.q("tag")
        # Validate the name before reading the body: a bad name must not leave an untagged image.
        svc._check_new_name(repo, tag)
        writer = res.stream()
        image = svc.import_image(src, repo, tag, req.body, writer.write_json)
        writer.write_json({"status": image.id})

    def tag(req: Request, res: Response, name: str) -> None:
        svc.tag(name, req.q("repo"), req.q("tag"), force=req.q_bool("force"))
        res.empty(201)

    def delete(req: Request, res: Response, name: str) -> None:
        image_id = svc.lookup(name).id
        results = svc.delete(name, force=req.q_bool("force"), noprune=req.q_bool("noprune"))
        if not req.at_least(1, 20):
            # Docker 0.9 reported the untagged image's id, as the documentation shows.
            results = [{"Untagged": image_id} if "Untagged" in r else r for r in results]
        res.json(results)

    def save_one(req: Request, res: Response, name: str) -> None:
        _save(res, [name])

    def save_many(req: Request, res: Response) -> None:
        names = req.q_all("names")
        if not names:
            raise InvalidParameter("names must name at least one image")
        _save(res, names)

    def _save(res: Response, names: list[str]) -> None:
        selection = [_selection(daemon, n) for n in names]
        merged: dict[str, list[tuple[str, str]]] = {}
        for image_id, tags in selection:
            merged.setdefault(image_id, [])
            merged[image_id] += [t for t in tags if t not in merged[image_id]]
        out = _Buffered(res.stream("application/x-tar"))
        saveload.save(daemon.graph, daemon.tags, list(merged.items()), out)
        out.flush()
        for image_id in merged:
            daemon.events.publish("save", image_id, type="image")

    def load(req: Request, res: Response) -> None:
        created, names = saveload.load(daemon.graph, daemon.tags, req.body)
        for img in created:
            daemon.events.publish("load", img.id, type="image")
        if not req.at_least(1, 23):
            res.empty(200)
            return
        writer = res.stream()
        # `quiet` only silences progress bars; Docker reports what it loaded either way.
        lines = [f"Loaded image: {r}:{t}" for r, t, _ in names] or [
            f"Loaded image ID: {img.id}" for img in created
        ]
        for line in lines:
            writer.write_json({"stream": line + "\n"})

    def insert(req: Request, res: Response, name: str) -> None:
        url, path = req.q("url"), req.q("path")
        if not url or not path:
            raise InvalidParameter("insert needs both url and path")
        svc.lookup(name)
        writer = res.stream()
        image = svc.insert(name, url, path, writer.write_json)
        writer.write_json({"status": image.id[:12]})

    def viz(req: Request, res: Response) -> None:
        by_id = daemon.tags.by_id()
        lines = ["digraph docker {"]
        for image in sorted(daemon.graph.all(), key=lambda i: i.id):
            parent = image.parent[:12] if image.parent else "base"
            lines.append(f' "{parent}" -> "{image.id[:12]}"')
            if image.id in by_id:
                label = "\\n".join(by_id[image.id])
                lines.append(
                    f' "{image.id[:12]}" [label="{image.id[:12]}\\n{label}",shape=box,'
                    'fillcolor="paleturquoise",style="filled,rounded"];'
                )
        lines.append(" base [style=invisible]")
        lines.append("}")
        res.text("\n".join(lines) + "\n")

    for method, pattern, handler in (
        ("GET", "/images/json", list_images),
        ("GET", "/images/viz", viz),
        ("POST", "/images/create", create),
        ("POST", "/images/load", load),
        ("GET", "/images/get", save_many),
        ("GET", "/images/{name:.+}/json", inspect),
        ("GET", "/images/{name:.+}/history", history),
        ("GET", "/images/{name:.+}/get", save_one),
        ("POST", "/images/{name:.+}/tag", tag),
        ("POST", "/images/{name:.+}/insert", insert),
        ("DELETE", "/images/{name:.+}", delete),
    ):
        router.add(method, pattern, handler)


def _filter_values(filters: dict[str, Any], key: str) -> list[str]:
    v = filters.get(key)
    if isinstance(v, dict):
        return [k for k, on in v.items() if on]
    if isinstance(v, list):
        return [str(x) for x in v]
    return []


def _selection(daemon: Daemon, name: str) -> tuple[str, list[tuple[str, str]]]:
    """What `docker save NAME` covers: a bare repository means all its tags, as in Docker 0.9."""
    repo, tag = reference.split_tag(name)
    repo = reference.normalize_repo(repo)
    if not tag and repo in daemon.tags.repositories:
        tags = daemon.tags.repositories[repo]
        if len(set(tags.values())) == 1:
            return next(iter(tags.values())), [(repo, t) for t in sorted(tags)]
    image = daemon.images.lookup(name)
    if not tag and repo in daemon.tags.repositories:
        return image.id, [(repo, t) for t, i in daemon.tags.repositories[repo].items() if i == image.id]
    if tag or daemon.tags.get(repo, reference.DEFAULT_TAG) == image.id:
        return image.id, [(repo, tag or reference.DEFAULT_TAG)]
    return image.id, []


def _modern_inspect(daemon: Daemon, image: Image) -> dict[str, Any]:
    return {
        "Id": image.id,
        "RepoTags": daemon.tags.tags_of(image.id),
        "RepoDigests": [],
        "Parent": image.parent,
        "Comment": image.comment,
        "Created": image.created,
        "Container": image.container,
        "ContainerConfig": image.container_config,
        "DockerVersion": image.docker_version,
        "Author": image.author,
        "Config": image.config,
        "Architecture": image.architecture,
        "Os": image.os,
        "Size": daemon.graph.virtual_size(image.id),
        "VirtualSize": daemon.graph.virtual_size(image.id),
        "GraphDriver": {"Name": daemon.driver.name, "Data": None},
        "RootFS": {"Type": "layers"},
        "Metadata": {"LastTagTime": "0001-01-01T00:00:00Z"},
    }


__all__ = ["register", "DockerError"]
