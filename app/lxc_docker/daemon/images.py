"""Image operations behind the API: lookup, list, import, tag, delete, history, insert.

Every operation validates its input before it changes anything and rolls back what it did when a
later step fails, so a bad request never leaves a half-made image or a dangling tag.
"""

from __future__ import annotations

import fnmatch
import io
import os
import stat
import time
from collections.abc import Callable
from typing import Any, BinaryIO

from .. import reference
from ..archive import safepath
from ..errors import Conflict, DockerError, InvalidParameter, NotFound
from ..image.graph import Graph
from ..image.image import Image
from ..image.tags import TagStore
from ..sysutil.journal import Journal
from .events import EventBus

Progress = Callable[[dict[str, Any]], None]


def _no_progress(_: dict[str, Any]) -> None:
    pass


class ImageService:
    def __init__(
        self,
        graph: Graph,
        tags: TagStore,
        events: EventBus,
        containers_using: Callable[[str], list[str]] = lambda _id: [],
    ) -> None:
        self.graph = graph
        self.tags = tags
        self.events = events
        self.journal = Journal(os.path.dirname(graph.root))
        # Which containers use an image (directly or through a child image); set by the daemon.
        self.containers_using = containers_using
        # `repo@sha256:...` -> image id, from what pulls and pushes saw; set by the daemon.
        self.by_digest: Callable[[str], str | None] = lambda _ref: None
        self.digests_of: Callable[[str], list[str]] = lambda _id: []  # the reverse, for RepoDigests

    # -- lookup --------------------------------------------------------------------------------------

    def lookup(self, name: str) -> Image:
        if not name:
            raise NotFound("No such image: ")
        if name.startswith("sha256:"):  # how clients of API 1.22+ name an image by id
            full = self.graph.resolve_prefix(name[len("sha256:") :])
            if full:
                return self.graph.get(full)
            raise NotFound(f"No such image: {name}")
        if "@" in name:  # repo@sha256:... names what a pull or push of that manifest gave
            repo, _, digest = name.partition("@")
            image_id = self.by_digest(f"{reference.normalize_repo(repo)}@{digest}")
            if image_id and self.graph.exists(image_id):
                return self.graph.get(image_id)
            raise NotFound(f"No such image: {name}")
        repo, tag = reference.split_tag(name)
        image_id = self.tags.get(reference.normalize_repo(repo), tag or reference.DEFAULT_TAG)
        if image_id and self.graph.exists(image_id):
            return self.graph.get(image_id)
        full = self.graph.resolve_prefix(name)
        if full:
            return self.graph.get(full)
        raise NotFound(f"No such image: {name}")

    def list(self, all: bool = False, name_filter: str = "") -> list[dict[str, Any]]:
        by_id = self.tags.by_id()
        children = self.graph.children()
        rows = []
        for image in self.graph.all():
            repo_tags = by_id.get(image.id, [])
            if name_filter:
                repo_tags = [rt for rt in repo_tags if _repo_matches(rt, name_filter)]
                if not repo_tags:
                    continue
            elif not all and not repo_tags and image.id in children:
                # Untagged images that are parents of others are intermediate build layers.
                continue
            rows.append(
                {
                    "Id": image.id,
                    "ParentId": image.parent,
                    "RepoTags": repo_tags or ["<none>:<none>"],
                    "Created": int(image.created_epoch),
                    "Size": image.size,
                    "VirtualSize": self.graph.virtual_size(image.id),
                    "Labels": (image.config or {}).get("Labels") or None,
                    "RepoDigests": self.digests_of(image.id),
                }
            )
        rows.sort(key=lambda r: (r["Created"], r["Id"]), reverse=True)
        return rows

    def history(self, name: str) -> list[dict[str, Any]]:
        by_id = self.tags.by_id()
        return [
            {
                "Id": img.id,
                "Created": int(img.created_epoch),
                "CreatedBy": img.created_by(),
                "Tags": by_id.get(img.id) or None,
                "Size": img.size,
                "Comment": img.comment,
            }
            for img in self.graph.history(self.lookup(name).id)
        ]

    # -- changes -------------------------------------------------------------------------------------

    def import_image(
        self,
        src: str,
        repo: str,
        tag: str,
        body: BinaryIO,
        progress: Progress = _no_progress,
        changes: list[str] | None = None,
        message: str = "",
    ) -> Image:
        repo, tag = self._check_new_name(repo, tag)
        # `import -c`: checked before the layer is read, so a bad change leaves nothing behind.
        from .commitchanges import import_config  # and the builder's parser: not at start (issue 14)

        config = import_config(changes) if changes else None
        if src == "-":
            stream: BinaryIO = body
        else:
            stream = _download(src, progress)
        try:
            comment = message or f"Imported from {src}"
            image = self.create_tagged("import", stream, repo, tag, comment=comment, config=config)
        finally:
            if stream is not body:
                stream.close()
        self.events.publish("import", image.id, type="image", name=f"{repo}:{tag}" if repo else image.id)
        return image

    def create_tagged(self, op: str, layer: BinaryIO | None, repo: str, tag: str, **kwargs: Any) -> Image:
        """A new image (graph.create's keywords) tagged `repo:tag` when `repo` is given: both or neither,
        also across a crash. The intent names the image and the tag before the layer is written;
        recovery sets the tag when the image is complete, and the orphan sweep takes a partial layer."""
        image_id = self.graph.new_image_id()
        tags = [[repo, tag, image_id]] if repo else []
        with self.journal.begin(op, Images=[image_id], Tags=tags) as intent:
            image = self.graph.create(layer, image_id=image_id, **kwargs)
            intent.step()
            if repo:
                try:
                    self.tags.set(repo, tag, image.id, force=True)
                except BaseException:
                    self.graph.delete(image.id)
                    raise
                intent.step()
        return image

    def tag(self, name: str, repo: str, tag: str, force: bool = False) -> None:
        image = self.lookup(name)
        repo, tag = self._check_new_name(repo, tag)
        if not repo:
            raise InvalidParameter("repository name must not be empty")
        self.tags.set(repo, tag or reference.DEFAULT_TAG, image.id, force=force)
        self.events.publish("tag", image.id, type="image", name=f"{repo}:{tag}")

    def _check_new_name(self, repo: str, tag: str) -> tuple[str, str]:
        if not repo:
            return "", ""
        if not tag:
            repo, tag = reference.split_tag(repo)
        try:
            repo, parsed = reference.parse(repo if not tag else f"{repo}:{tag}")
        except ValueError as e:
            raise InvalidParameter(str(e))
        return repo, parsed or reference.DEFAULT_TAG

    def delete(self, name: str, force: bool = False, noprune: bool = False) -> list[dict[str, str]]:
        image = self.lookup(name)
        if name.startswith("sha256:"):  # an id as API 1.22+ clients write it: delete by id
            name = name[len("sha256:") :]
        results: list[dict[str, str]] = []
        named_tags = self.tags.by_id().get(image.id, [])
        if image.id.startswith(name) and name not in named_tags and f"{name}:latest" not in named_tags:
            # Deleting by id: untag it everywhere, but only if that is one repository (Docker 0.9's
            # rule, kept by every later Docker): the id alone does not say which of them the user meant.
            repos = {reference.split_tag(rt)[0] for rt in named_tags}
            if len(repos) > 1 and not force:
                raise Conflict(
                    f"conflict: unable to delete {image.id[:12]} (must be forced) - "
                    "image is referenced in multiple repositories"
                )
            if not named_tags and self.graph.has_children(image.id):
                raise Conflict(
                    f"Conflict, cannot delete {image.id[:12]} because it has dependent child images"
                )
            to_untag = [reference.split_tag(rt) for rt in named_tags]
        else:
            repo, tag = reference.split_tag(name)
            to_untag = [(reference.normalize_repo(repo), tag or reference.DEFAULT_TAG)]
        remaining = set(named_tags) - {f"{r}:{t}" for r, t in to_untag}
        would_delete = not remaining and not self.graph.has_children(image.id)
        using = self.containers_using(image.id) if would_delete else []
        if using and not force:
            raise Conflict(
                f"Conflict, cannot delete {image.id[:12]} because the container {using[0][:12]} is using it"
            )
        doomed = [] if not would_delete or using else self._chain(image, prune=not noprune)
        # One intent for the whole rmi: the untagging is one atomic write, and a crash among the
        # deletions is finished at the next start (rolled forward: the tags are already gone).
        with self.journal.begin("rmi", Untag=[list(rt) for rt in to_untag], Delete=doomed) as intent:
            for repo, tag in self.tags.delete_many(to_untag):
                results.append({"Untagged": f"{repo}:{tag}"})
                self.events.publish("untag", image.id, type="image", name=f"{repo}:{tag}")
            intent.step()
            for image_id in doomed:
                self.graph.delete(image_id)
                results.append({"Deleted": image_id})
                self.events.publish("delete", image_id, type="image")
                intent.step()
        return results

    def _chain(self, image: Image, prune: bool) -> list[str]:
        """The image and, with `prune`, the untagged parents nothing else needs (as Docker 0.9 did),
        child first: decided before anything is deleted, so the intent can name them all."""
        chain = [image.id]
        current = image
        while prune and current.parent and self.graph.exists(current.parent):
            parent = current.parent
            children = set(self.graph.children().get(parent, []))
            if self.tags.tags_of(parent) or children - {current.id} or self.containers_using(parent):
                break
            chain.append(parent)
            current = self.graph.get(parent)
        return chain

    def insert(self, name: str, url: str, path: str, progress: Progress = _no_progress) -> Image:
        parent = self.lookup(name)
        if not path.startswith("/") or any(p in ("..",) for p in path.split("/")):
            raise InvalidParameter(f"insert path must be absolute and must not contain '..': {path!r}")
        if path.endswith("/"):
            raise InvalidParameter(f"insert path must name a file, not a directory: {path!r}")
        source = _download(url, progress)
        try:
            data = source.read()
        finally:
            source.close()
        rootfs = self.graph.driver.get(parent.id)
        try:
            layer = _single_file_layer(rootfs, path, data)
        finally:
            self.graph.driver.put(parent.id)
        config = dict(parent.config) if parent.config else None
        image = self.create_tagged(
            "insert",
            layer,
            "",
            "",
            parent=parent.id,
            comment=f"Inserted {url} at {path}",
            config=config,
            container_config={"Cmd": ["/bin/sh", "-c", f"#(nop) ADD {url} in {path}"]},
        )
        self.events.publish("insert", image.id, type="image", name=path)
        return image


def _repo_matches(repo_tag: str, pattern: str) -> bool:
    repo, tag = reference.split_tag(repo_tag)
    if ":" in pattern.rsplit("/", 1)[-1]:
        return fnmatch.fnmatchcase(repo_tag, pattern)
    return fnmatch.fnmatchcase(repo, reference.normalize_repo(pattern))


def _download(url: str, progress: Progress) -> BinaryIO:
    if not url.startswith(("http://", "https://")):
        raise InvalidParameter(f"invalid URL {url!r}: it must start with http:// or https://")
    import requests

    progress({"status": f"Downloading from {url}"})
    try:
        resp = requests.get(url, stream=True, timeout=30)
    except requests.RequestException as e:
        raise DockerError(f"Get {url}: {e}")
    if resp.status_code >= 400:
        resp.close()
        raise DockerError(f"Get {url}: HTTP status {resp.status_code}")
    resp.raw.decode_content = True
    return resp.raw


def _single_file_layer(rootfs: str, path: str, data: bytes) -> BinaryIO:
    import tarfile  # here, not at the daemon's start: only `docker insert` needs it

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        parts = path.strip("/").split("/")
        for i in range(1, len(parts)):
            rel = "/".join(parts[:i])
            info = tarfile.TarInfo(rel + "/")
            info.type = tarfile.DIRTYPE
            info.mode, info.mtime = 0o755, int(time.time())
            # A layer's directory entry replaces the parent's metadata (overlay shows the upper dir),
            # so existing directories keep their mode and owner.
            try:
                st = safepath.lstat(rootfs, rel)  # the image's links never lead to the host's files
            except OSError:
                st = None
            if st is not None and stat.S_ISDIR(st.st_mode):
                info.mode, info.uid, info.gid, info.mtime = (
                    stat.S_IMODE(st.st_mode),
                    st.st_uid,
                    st.st_gid,
                    int(st.st_mtime),
                )
            tar.addfile(info)
        info = tarfile.TarInfo("/".join(parts))
        info.size = len(data)
        # Docker 0.9's insert wrote the file with mode 0755.
        info.mode = 0o755
        info.mtime = int(time.time())
        tar.addfile(info, io.BytesIO(data))
    buf.seek(0)
    return buf
