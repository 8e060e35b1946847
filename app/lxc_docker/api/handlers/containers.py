"""Container endpoints: create, list, inspect, start/stop/kill/restart/wait, remove, top, files, commit."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Protocol

from ...daemon import filtering
from ...daemon.containers import AlreadyRunning, NotRunning, parse_signal
from ...errors import InvalidParameter, NotFound
from .. import filters, serializers
from ..http import Request
from ..router import Route
from ..streaming import Buffered, stat_header

if TYPE_CHECKING:
    from ...daemon.container import Container
    from ...image.image import Image
    from ..response import Response


class ContainerStore(Protocol):
    def all(self) -> list[Container]: ...

    def get(self, name: str) -> Container: ...

    def create(
        self, body: dict[str, Any], name: str = "", api_version: tuple[int, int] = ...
    ) -> tuple[Container, list[str]]: ...

    def start(
        self, c: Container, host_config: dict[str, Any] | None = None, api_version: tuple[int, int] = ...
    ) -> None: ...

    def stop(self, c: Container, timeout: int = 10) -> None: ...

    def restart(self, c: Container, timeout: int = 10) -> None: ...

    def kill(self, c: Container, sig: int) -> None: ...

    def wait(self, c: Container) -> int: ...

    def remove(self, c: Container, force: bool = False, volumes: bool = False) -> None: ...

    def using_image(self, image_id: str) -> list[str]: ...


class ImageLookup(Protocol):
    def lookup(self, name: str) -> Image: ...


class ProcessLister(Protocol):
    def pids(self, id: str) -> list[int]: ...


class EventPublisher(Protocol):
    def publish(self, action: str, id: str, *, from_: str = "") -> Any: ...


class ContainersBackend(Protocol):
    """What these endpoints need of the daemon.

    The file endpoints (changes, export, copy, archive, commit) still hand the backend itself to
    `daemon.containerfs`, whose functions take the whole daemon; once the daemon offers them as
    methods they belong here.
    """

    @property
    def containers(self) -> ContainerStore: ...

    @property
    def images(self) -> ImageLookup: ...

    @property
    def exec_driver(self) -> ProcessLister: ...

    @property
    def events(self) -> EventPublisher: ...

    def container_names(self, c: Container) -> list[str]: ...

    def container_sizes(self, c: Container) -> tuple[int, int]: ...

    def remove_link(self, name: str) -> None: ...


def create(backend: ContainersBackend, req: Request, res: Response) -> None:
    body = req.json(required=True)
    c, warnings = backend.containers.create(body, name=req.q("name"), api_version=req.version)
    res.json({"Id": c.id, "Warnings": warnings or None}, 201)


def list_containers(backend: ContainersBackend, req: Request, res: Response) -> None:
    svc = backend.containers
    args = filters.from_request(req)
    show_all = req.q_bool("all") or filtering.check_container_filters(args)
    limit = req.q_int("limit", -1)
    # The 0.9 parameters and the filters of the same name (Docker 1.12 reads both; one container each).
    since = req.q("since") or (args.get("since") or [""])[-1]
    before = req.q("before") or (args.get("before") or [""])[-1]
    since_id = svc.get(since).id if since else ""
    before_id = svc.get(before).id if before else ""
    containers = sorted(svc.all(), key=lambda c: (c.created, c.id), reverse=True)
    if since or before or limit > 0:
        show_all = True
    accept = filtering.container_matcher(args, _descendants(backend, args))
    out = []
    found_before = not before
    now = time.time()
    size = req.q_bool("size")
    for c in containers:
        if not found_before:
            found_before = before_id == c.id
            continue
        if since_id == c.id:
            break
        if not show_all and not c.state.running:
            continue
        if not accept(c):
            continue
        if limit > 0 and len(out) >= limit:
            break
        sizes = backend.container_sizes(c) if size else None
        out.append(
            serializers.container_summary(
                c, _image_name(backend, c), backend.container_names(c), now, sizes, req.version
            )
        )
    res.json(out)


def inspect(backend: ContainersBackend, req: Request, res: Response, name: str) -> None:
    res.json(serializers.container_inspect(backend.containers.get(name), req.version))


def start(backend: ContainersBackend, req: Request, res: Response, name: str) -> None:
    c = backend.containers.get(name)
    host_config = req.json()
    if host_config is not None and not isinstance(host_config, dict):
        raise InvalidParameter("start body must be a HostConfig object")
    try:
        backend.containers.start(c, host_config or None, api_version=req.version)
    except AlreadyRunning:
        if req.at_least(1, 24):
            res.empty(304)
            return
        raise
    res.empty(204)


def stop(backend: ContainersBackend, req: Request, res: Response, name: str) -> None:
    c = backend.containers.get(name)
    try:
        backend.containers.stop(c, req.q_int("t", 10))
    except NotRunning:
        if req.at_least(1, 24):
            res.empty(304)
            return
        raise
    res.empty(204)


def restart(backend: ContainersBackend, req: Request, res: Response, name: str) -> None:
    backend.containers.restart(backend.containers.get(name), req.q_int("t", 10))
    res.empty(204)


def kill(backend: ContainersBackend, req: Request, res: Response, name: str) -> None:
    c = backend.containers.get(name)
    backend.containers.kill(c, parse_signal(req.q("signal")))
    res.empty(204)


def wait(backend: ContainersBackend, req: Request, res: Response, name: str) -> None:
    c = backend.containers.get(name)
    res.json({"StatusCode": backend.containers.wait(c)})


def delete(backend: ContainersBackend, req: Request, res: Response, name: str) -> None:
    if req.q_bool("link"):
        backend.remove_link(name)
        res.empty(204)
        return
    svc = backend.containers
    svc.remove(svc.get(name), force=req.q_bool("force"), volumes=req.q_bool("v"))
    res.empty(204)


def top(backend: ContainersBackend, req: Request, res: Response, name: str) -> None:
    from ...daemon import top as proc_top

    c = backend.containers.get(name)
    if not c.state.running:
        raise NotRunning(f"Container {c.id[:12]} is not running")
    pids = backend.exec_driver.pids(c.id) or [c.state.pid]
    res.json(proc_top.top(pids, req.q("ps_args") or "-ef"))


def changes(backend: ContainersBackend, req: Request, res: Response, name: str) -> None:
    from ...daemon import containerfs  # on first use: archive code, tarfile, tempfile

    res.json(containerfs.changes(backend, backend.containers.get(name)))


def export(backend: ContainersBackend, req: Request, res: Response, name: str) -> None:
    from ...daemon import containerfs  # on first use: archive code, tarfile, tempfile

    c = backend.containers.get(name)
    out = Buffered(res.stream("application/x-tar"))
    containerfs.export(backend, c, out)
    out.flush()
    backend.events.publish("export", c.id, from_=c.config.get("Image", ""))


def copy(backend: ContainersBackend, req: Request, res: Response, name: str) -> None:
    from ...daemon import containerfs  # on first use: archive code, tarfile, tempfile

    c = backend.containers.get(name)
    body = req.json(required=True)
    resource = body.get("Resource") if isinstance(body, dict) else None
    if not isinstance(resource, str) or not resource:
        raise InvalidParameter("Path cannot be empty")
    containerfs.stat_path(backend, c, resource)  # a clear 404 before the stream starts
    out = Buffered(res.stream("application/x-tar"))
    containerfs.copy_out(backend, c, resource, out)
    out.flush()


def archive_head(backend: ContainersBackend, req: Request, res: Response, name: str) -> None:
    from ...daemon import containerfs  # on first use: archive code, tarfile, tempfile

    c = backend.containers.get(name)
    st = containerfs.stat_path(backend, c, req.q("path"))
    res.headers_only(200, [("X-Docker-Container-Path-Stat", stat_header(st)), ("Content-Length", "0")])


def archive_get(backend: ContainersBackend, req: Request, res: Response, name: str) -> None:
    from ...daemon import containerfs  # on first use: archive code, tarfile, tempfile

    c = backend.containers.get(name)
    st = containerfs.stat_path(backend, c, req.q("path"))
    writer = res.stream("application/x-tar", headers=[("X-Docker-Container-Path-Stat", stat_header(st))])
    out = Buffered(writer)
    containerfs.copy_out(backend, c, req.q("path"), out)
    out.flush()


def archive_put(backend: ContainersBackend, req: Request, res: Response, name: str) -> None:
    from ...daemon import containerfs  # on first use: archive code, tarfile, tempfile

    c = backend.containers.get(name)
    containerfs.copy_in(backend, c, req.q("path"), req.body)
    res.empty(200)


def resize(backend: ContainersBackend, req: Request, res: Response, name: str) -> None:
    c = backend.containers.get(name)
    c.streams.resize(req.q_int("h"), req.q_int("w"))
    res.empty(200)


def commit(backend: ContainersBackend, req: Request, res: Response) -> None:
    from ...daemon import containerfs  # on first use: archive code, tarfile, tempfile

    c = backend.containers.get(req.q("container"))
    run = req.q_json("run")
    body = req.json()
    if isinstance(body, dict) and body and run is None:
        run = {k: v for k, v in body.items() if v not in (None, "", [], {}, False, 0)}
    if run is not None and not isinstance(run, dict):
        raise InvalidParameter("run must be a JSON object")
    image = containerfs.commit(
        backend,
        c,
        repo=req.q("repo"),
        tag=req.q("tag"),
        comment=req.q("comment") or req.q("m"),
        author=req.q("author"),
        run=run,
        changes_text=req.q_all("changes"),
    )
    res.json({"Id": serializers.image_id(image.id, req.version)}, 201)


ROUTES = [
    Route("POST", "/containers/create", create),
    Route("GET", "/containers/json", list_containers),
    Route("GET", "/containers/{name}/json", inspect),
    Route("POST", "/containers/{name}/start", start),
    Route("POST", "/containers/{name}/stop", stop),
    Route("POST", "/containers/{name}/restart", restart),
    Route("POST", "/containers/{name}/kill", kill),
    Route("POST", "/containers/{name}/wait", wait),
    Route("GET", "/containers/{name}/top", top),
    Route("GET", "/containers/{name}/changes", changes),
    Route("GET", "/containers/{name}/export", export),
    Route("POST", "/containers/{name}/copy", copy),
    # Before the GET route: a HEAD would otherwise be served by GET and stream the whole tar.
    Route("HEAD", "/containers/{name}/archive", archive_head),
    Route("GET", "/containers/{name}/archive", archive_get),
    Route("PUT", "/containers/{name}/archive", archive_put),
    Route("POST", "/containers/{name}/resize", resize),
    # `rm --link /parent/alias` names a link: the one place a container name holds slashes.
    Route("DELETE", "/containers/{name:/?[^/]+(?:/[^/]+)?}", delete),
    Route("POST", "/commit", commit),
]


def _descendants(backend: ContainersBackend, args: filtering.FilterArgs) -> set[str] | None:
    """Containers an `ancestor=` filter lets through; an image that does not exist adds none (Docker
    1.12 only logs it)."""
    if not args.include("ancestor"):
        return None
    allowed: set[str] = set()
    for name in args.get("ancestor"):
        try:
            image_id = backend.images.lookup(name).id
        except NotFound:
            continue
        allowed.update(backend.containers.using_image(image_id))
    return allowed


def _image_name(backend: ContainersBackend, c: Container) -> str:
    """The IMAGE column: the name it was created from while that still names its image, else the id."""
    image_name = c.config.get("Image", "")
    try:
        if backend.images.lookup(image_name).id != c.image:
            image_name = c.image[:12]
    except NotFound:
        image_name = c.image[:12]
    return image_name
