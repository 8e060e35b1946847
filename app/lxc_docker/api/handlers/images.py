"""Image endpoints: list, inspect, history, import, tag, delete, save, load, insert, viz."""

from __future__ import annotations

import builtins
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol

from ... import reference
from ...daemon import filtering
from ...daemon.commitchanges import import_config
from ...errors import DockerError, InvalidParameter
from .. import filters, serializers
from ..http import Request
from ..router import Route
from ..streaming import Buffered, LazyJSONStream

if TYPE_CHECKING:
    from ...image.graph import Graph
    from ...image.image import Image
    from ...image.tags import TagStore
    from ..response import Response

Progress = Callable[[dict[str, Any]], None]


class ImageStore(Protocol):
    # Inside this class `list` names the method below, hence builtins.list in the annotations.
    def lookup(self, name: str) -> Image: ...

    def list(self, all: bool = False, name_filter: str = "") -> builtins.list[dict[str, Any]]: ...

    def history(self, name: str) -> builtins.list[dict[str, Any]]: ...

    def digests_of(self, image_id: str) -> builtins.list[str]: ...

    def import_image(
        self,
        src: str,
        repo: str,
        tag: str,
        body: BinaryIO,
        progress: Progress,
        changes: builtins.list[str] | None = None,
        message: str = "",
    ) -> Image: ...

    def tag(self, name: str, repo: str, tag: str, force: bool = False) -> None: ...

    def delete(
        self, name: str, force: bool = False, noprune: bool = False
    ) -> builtins.list[dict[str, str]]: ...

    def insert(self, name: str, url: str, path: str, progress: Progress) -> Image: ...

    # Private on the image service today; import checks the name before it reads the body.
    def _check_new_name(self, repo: str, tag: str) -> tuple[str, str]: ...


class StorageDriverName(Protocol):
    @property
    def name(self) -> str: ...


class EventPublisher(Protocol):
    def publish(self, action: str, id: str, *, type: str = "container") -> Any: ...


class Distribution(Protocol):
    def pull(self, name: str, tag: str, auth_config: dict[str, Any], sink: Progress) -> str: ...


class ImagesBackend(Protocol):
    """What these endpoints need of the daemon. `graph` and `tags` go to `image.saveload` as they are."""

    @property
    def images(self) -> ImageStore: ...

    @property
    def graph(self) -> Graph: ...

    @property
    def tags(self) -> TagStore: ...

    @property
    def driver(self) -> StorageDriverName: ...

    @property
    def events(self) -> EventPublisher: ...

    @property
    def distribution(self) -> Distribution: ...


def list_images(backend: ImagesBackend, req: Request, res: Response) -> None:
    args = filters.from_request(req)
    dangling = filtering.check_image_filters(args)
    accept = filtering.image_matcher(args, lambda name: int(backend.images.lookup(name).created_epoch))
    rows = backend.images.list(all=req.q_bool("all"), name_filter=req.q("filter"))
    if args.include("reference"):
        rows = [r for r in rows if r["RepoTags"] != ["<none>:<none>"]]
    if dangling is not None:
        rows = [r for r in rows if (r["RepoTags"] == ["<none>:<none>"]) == dangling]
    rows = [r for r in rows if accept(r, r.get("Labels"))]
    res.json(serializers.image_rows(rows, req.version))


def inspect(backend: ImagesBackend, req: Request, res: Response, name: str) -> None:
    image = backend.images.lookup(name)
    doc = serializers.image_inspect(
        image,
        req.version,
        repo_tags=backend.tags.tags_of(image.id),
        virtual_size=backend.graph.virtual_size(image.id),
        driver_name=backend.driver.name,
        repo_digests=backend.images.digests_of(image.id),
    )
    res.json(doc)


def history(backend: ImagesBackend, req: Request, res: Response, name: str) -> None:
    res.json(serializers.image_history(backend.images.history(name), req.version))


def create(backend: ImagesBackend, req: Request, res: Response) -> None:
    src = req.q("fromSrc")
    if not src:
        _pull(backend, req, res)
        return
    repo, tag = req.q("repo"), req.q("tag")
    # Validate the name before reading the body: a bad name must not leave an untagged image.
    backend.images._check_new_name(repo, tag)
    import_config(req.q_all("changes"))  # a bad change is a 400, before the stream starts
    writer = res.stream()
    image = backend.images.import_image(
        src, repo, tag, req.body, writer.write_json, changes=req.q_all("changes"), message=req.q("message")
    )
    writer.write_json({"status": serializers.image_id(image.id, req.version)})


def _pull(backend: ImagesBackend, req: Request, res: Response) -> None:
    """`fromImage`: a pull from the image's registry, its progress streamed (issue 10)."""
    from ...registry.auth import decode_header

    name = req.q("fromImage")
    if not name:
        raise InvalidParameter("fromImage or fromSrc must be given")
    auth = decode_header(req.headers.get("X-Registry-Auth", ""))
    out = LazyJSONStream(res)
    try:
        backend.distribution.pull(name, req.q("tag"), auth, out.write)
    except DockerError as e:
        if not out.started:
            raise
        out.error(str(e))


def tag(backend: ImagesBackend, req: Request, res: Response, name: str) -> None:
    backend.images.tag(name, req.q("repo"), req.q("tag"), force=req.q_bool("force"))
    res.empty(201)


def delete(backend: ImagesBackend, req: Request, res: Response, name: str) -> None:
    image_id = backend.images.lookup(name).id
    results = backend.images.delete(name, force=req.q_bool("force"), noprune=req.q_bool("noprune"))
    res.json(serializers.image_delete(results, image_id, req.version))


def save_one(backend: ImagesBackend, req: Request, res: Response, name: str) -> None:
    _save(backend, res, [name])


def save_many(backend: ImagesBackend, req: Request, res: Response) -> None:
    names = req.q_all("names")
    if not names:
        raise InvalidParameter("names must name at least one image")
    _save(backend, res, names)


def load(backend: ImagesBackend, req: Request, res: Response) -> None:
    from ...image import saveload  # on first use: tarfile and the archive code

    if not req.at_least(1, 23):
        # API 1.9: an empty 200 once loaded, an error as the HTTP status.
        for img in saveload.load(backend.graph, backend.tags, req.body)[0]:
            backend.events.publish("load", img.id, type="image")
        res.empty(200)
        return
    # Docker 1.13+ (and the docker SDK for Python, which decodes every line): a JSON stream whose
    # headers go first, so a bad archive is an `errorDetail` line inside it, not an HTTP status.
    # `quiet` only silences progress bars, which a local load has none of.
    writer = res.stream()
    try:
        created, names = saveload.load(backend.graph, backend.tags, req.body)
    except DockerError as e:
        writer.write_json({"errorDetail": {"message": str(e)}, "error": str(e)})
        return
    for img in created:
        backend.events.publish("load", img.id, type="image")
    lines = [f"Loaded image: {r}:{t}" for r, t, _ in names] or [
        f"Loaded image ID: {serializers.image_id(img.id, req.version)}" for img in created
    ]
    for line in lines:
        writer.write_json({"stream": line + "\n"})


def insert(backend: ImagesBackend, req: Request, res: Response, name: str) -> None:
    url, path = req.q("url"), req.q("path")
    if not url or not path:
        raise InvalidParameter("insert needs both url and path")
    backend.images.lookup(name)
    writer = res.stream()
    image = backend.images.insert(name, url, path, writer.write_json)
    writer.write_json({"status": image.id[:12]})


def viz(backend: ImagesBackend, req: Request, res: Response) -> None:
    by_id = backend.tags.by_id()
    lines = ["digraph docker {"]
    for image in sorted(backend.graph.all(), key=lambda i: i.id):
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


ROUTES = [
    Route("GET", "/images/json", list_images),
    Route("GET", "/images/viz", viz),
    Route("POST", "/images/create", create),
    Route("POST", "/images/load", load),
    Route("GET", "/images/get", save_many),
    Route("GET", "/images/{name:.+}/json", inspect),
    Route("GET", "/images/{name:.+}/history", history),
    Route("GET", "/images/{name:.+}/get", save_one),
    Route("POST", "/images/{name:.+}/tag", tag),
    Route("POST", "/images/{name:.+}/insert", insert),
    Route("DELETE", "/images/{name:.+}", delete),
]


def _save(backend: ImagesBackend, res: Response, names: list[str]) -> None:
    from ...image import saveload  # on first use: tarfile and the archive code

    selection = [_selection(backend, n) for n in names]
    merged: dict[str, list[tuple[str, str]]] = {}
    for image_id, tags in selection:
        merged.setdefault(image_id, [])
        merged[image_id] += [t for t in tags if t not in merged[image_id]]
    out = Buffered(res.stream("application/x-tar"))
    saveload.save(backend.graph, backend.tags, list(merged.items()), out)
    out.flush()
    for image_id in merged:
        backend.events.publish("save", image_id, type="image")


def _selection(backend: ImagesBackend, name: str) -> tuple[str, list[tuple[str, str]]]:
    """What `docker save NAME` covers: a bare repository means all its tags, as in Docker 0.9."""
    repo, tag = reference.split_tag(name)
    repo = reference.normalize_repo(repo)
    if not tag and repo in backend.tags.repositories:
        tags = backend.tags.repositories[repo]
        if len(set(tags.values())) == 1:
            return next(iter(tags.values())), [(repo, t) for t in sorted(tags)]
    image = backend.images.lookup(name)
    if not tag and repo in backend.tags.repositories:
        return image.id, [(repo, t) for t, i in backend.tags.repositories[repo].items() if i == image.id]
    if tag or backend.tags.get(repo, reference.DEFAULT_TAG) == image.id:
        return image.id, [(repo, tag or reference.DEFAULT_TAG)]
    return image.id, []
