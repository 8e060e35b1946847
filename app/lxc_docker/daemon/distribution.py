"""Pull, push and login against registries: the daemon's side of `docker pull/push/login`.

Names: `host[:port]/path` goes to that registry; a name without a registry host goes to the default
index (`registry/session.py`'s DEFAULT_REGISTRY), under `library/` when it has no namespace, as
Docker does. Our tags keep the name as the user wrote it (`127.0.0.1:5000/ns/img`).

The registry package (and `requests`) is imported on first use only: a daemon that never pulls
does not pay for it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

from .. import reference
from ..errors import DockerError, InvalidParameter, NotFound
from ..image.graph import Graph
from ..image.tags import TagStore
from ..registry.metadata import DistributionMetadata
from ..sysutil import atomic
from .events import EventBus

Sink = Callable[[dict[str, Any]], None]


def split_name(name: str) -> tuple[str, str]:
    """(registry host, repository path on it) for our repository name."""
    from ..registry.session import DEFAULT_REGISTRY

    host = reference.registry_host(name)
    if host:
        return host, name[len(host) + 1 :]
    return DEFAULT_REGISTRY, name if "/" in name else f"library/{name}"


class DistributionService:
    def __init__(
        self, root: str, graph: Graph, tags: TagStore, events: EventBus, insecure: list[str] | None = None
    ) -> None:
        from ..registry import insecure as insecure_registries

        insecure_registries.configure(insecure or [])
        self.graph = graph
        self.tags = tags
        self.metadata = DistributionMetadata(root)  # layer blobs and repo digests we have seen
        self.events = events
        self._mounts_path = os.path.join(root, "distribution", "pushed.json")
        self._lock = threading.Lock()
        self._pulling: dict[str, threading.Lock] = {}
        try:
            self._pushed: dict[str, dict[str, list[str]]] = atomic.read_json(self._mounts_path)
        except (OSError, ValueError):
            self._pushed = {}

    # -- pull ----------------------------------------------------------------------------------------

    def pull(self, name: str, tag: str, auth_config: dict[str, Any], sink: Sink) -> str:
        """Pull `name[:tag]`; progress goes to `sink`. Returns the pulled image id. No tag in either
        `name` or `tag` means every tag of the repository (Docker's API rule; `pull -a`)."""
        from ..registry.auth import credentials
        from ..registry.progress import Reporter
        from ..registry.session import Session

        repo, tag = self._parse(name, tag, all_tags=True)
        host, path = split_name(repo)
        with self._lock:
            # The same name pulled twice at once: the second waits and finds the first's images.
            busy = self._pulling.setdefault(f"{repo}:{tag or '*'}", threading.Lock())
        session = Session(host, credentials(auth_config))
        report = Reporter(sink)
        try:
            with busy:
                pulled = _pull(session, self.graph, self.tags, path, repo, tag, report, self.metadata)
        finally:
            session.close()
        for t, image_id in pulled.items():
            self.events.publish("pull", image_id, type="image", name=f"{repo}:{t}")
        return pulled.get(tag) or pulled.get(reference.DEFAULT_TAG) or pulled[sorted(pulled)[-1]]

    def pull_text(self, name: str, out: Callable[[str], None], auth_config: dict[str, Any]) -> None:
        """A pull whose progress is plain text lines (the builder's FROM)."""
        repo, sep, tag = name.partition("@")  # FROM name@sha256:...
        if not sep:
            repo, tag = reference.split_tag(name)
        auth = _auth_for(split_name(reference.normalize_repo(repo))[0], auth_config)
        self.pull(
            repo,
            tag or reference.DEFAULT_TAG,
            auth,
            lambda m: out(_text(m)) if "progressDetail" not in m else None,
        )

    # -- push ----------------------------------------------------------------------------------------

    def push(self, name: str, tag: str, auth_config: dict[str, Any], sink: Sink) -> None:
        from ..registry import v2push
        from ..registry.auth import credentials
        from ..registry.progress import Reporter
        from ..registry.session import Session

        repo, _ = self._parse(name, "")
        if tag:
            try:
                reference.validate_tag(tag)
            except ValueError as e:
                raise InvalidParameter(str(e)) from None
        tagged = self.tags.repositories.get(repo) or {}
        wanted = [tag] if tag else sorted(tagged)
        if not wanted or any(t not in tagged for t in wanted):
            shown = f"{repo}:{tag}" if tag else repo
            raise NotFound(f"An image does not exist locally with the tag: {shown}")
        host, path = split_name(repo)
        session = Session(host, credentials(auth_config))
        report = Reporter(sink)
        try:
            protocol = session.ping()  # before the first message: an unreachable registry is a status
            report.status(f"The push refers to a repository [{repo}]")
            if protocol == "v1":
                from ..registry import v1push

                images = {t: self.graph.get(tagged[t]) for t in wanted}
                v1push.push(session, self.graph, path, images, report)
                for t, image in images.items():
                    self.events.publish("push", image.id, type="image", name=f"{repo}:{t}")
                return
            for t in wanted:
                image = self.graph.get(tagged[t])
                digest, size, layers = v2push.push(
                    session,
                    self.graph,
                    image,
                    path,
                    t,
                    report,
                    lambda d: self._pushed_to(host, d),
                    meta=self.metadata,
                )
                self.metadata.set_repo_digest(repo, digest, image.id)
                sink({"progressDetail": {}, "aux": {"Tag": t, "Digest": digest, "Size": size}})
                self._remember(host, path, layers)
                self.events.publish("push", image.id, type="image", name=f"{repo}:{t}")
        finally:
            session.close()

    def _pushed_to(self, host: str, digest: str) -> list[str]:
        with self._lock:
            return list(self._pushed.get(host, {}).get(digest, []))

    def _remember(self, host: str, path: str, digests: list[str]) -> None:
        # Which repositories of a registry hold a blob we sent: the next push of it to another
        # repository there can be a cross-repository mount instead of an upload.
        with self._lock:
            by_digest = self._pushed.setdefault(host, {})
            for d in digests:
                repos = by_digest.setdefault(d, [])
                if path not in repos:
                    repos.append(path)
                    del repos[:-5]
            os.makedirs(os.path.dirname(self._mounts_path), mode=0o700, exist_ok=True)
            atomic.write_json(self._mounts_path, self._pushed)

    # -- login ---------------------------------------------------------------------------------------

    def login(self, auth_config: dict[str, Any]) -> dict[str, str]:
        from ..registry.auth import credentials
        from ..registry.session import DEFAULT_REGISTRY, Session

        creds = credentials(auth_config)
        server = creds.serveraddress or DEFAULT_REGISTRY
        host = server.split("://", 1)[-1].split("/", 1)[0]
        if host in ("index.docker.io", "docker.io"):
            host = DEFAULT_REGISTRY
        if not creds.username and not creds.identitytoken:
            raise InvalidParameter("login needs a username")
        session = Session(host, creds)
        try:
            if session.ping() == "v1":  # a v1 index: Docker 0.9's POST /v1/users/ (registry/v1login.py)
                from ..registry import v1login

                return {"Status": v1login.login(session, creds, str(auth_config.get("email") or ""))}
            session.login()
        finally:
            session.close()
        return {"Status": "Login Succeeded"}

    # -- search --------------------------------------------------------------------------------------

    def search(
        self, term: str, limit: int, filters: dict[str, list[str]], auth_config: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """`GET /images/search`: the index of the term's registry (`registry/search.py`)."""
        from ..registry import search
        from ..registry.auth import credentials
        from ..registry.session import DEFAULT_REGISTRY

        if not term:
            raise InvalidParameter("search needs a term")
        host, query = search.split_term(term, DEFAULT_REGISTRY)
        return search.search(host, query, credentials(auth_config), limit, filters)

    def _parse(self, name: str, tag: str, all_tags: bool = False) -> tuple[str, str]:
        if "@" in name and not tag:
            name, _, tag = name.partition("@")
        if tag.startswith("sha256:"):  # a digest reference (CLI 28 sends it as the tag)
            if len(tag) != 71 or not reference.is_id(tag[7:]):
                raise InvalidParameter(f"invalid digest {tag!r}")
            try:
                return reference.parse(name, default_tag=None)[0], tag
            except ValueError as e:
                raise InvalidParameter(str(e)) from None
        if not tag:
            name, tag = reference.split_tag(name)
        try:
            repo, parsed = reference.parse(f"{name}:{tag}" if tag else name, default_tag=None)
        except ValueError as e:
            raise InvalidParameter(str(e)) from None
        return repo, parsed or ("" if all_tags else reference.DEFAULT_TAG)


def _pull(
    session: Any,
    graph: Graph,
    tags: TagStore,
    path: str,
    repo: str,
    tag: str,
    report: Any,
    meta: DistributionMetadata,
) -> dict[str, str]:
    """Pull over whichever protocol the registry speaks; returns tag -> image id. A v2 registry that
    does not know the repository is asked over v1 too when it answers `/v1/_ping` (Docker 1.x's
    fallback): our own registry serves both, and images pushed to it by Docker 0.9 exist only in v1."""
    from ..registry import tagslist, v2pull

    if session.ping() == "v1":
        return _pull_v1(session, graph, tags, path, repo, tag, report)
    if not tag:
        try:
            found = tagslist.list_tags(session, path, repo)
        except NotFound:
            if not _speaks_v1(session):
                raise
            return _pull_v1(session, graph, tags, path, repo, tag, report)
        if not found:
            raise NotFound(f"image {repo} not found")
        # v2 knows the repository: no fallback from here on (Docker's "confirmed v2").
        return {t: v2pull.pull(session, graph, tags, path, repo, t, report, meta=meta)[0].id for t in found}
    try:
        return {tag: v2pull.pull(session, graph, tags, path, repo, tag, report, meta=meta)[0].id}
    except NotFound as v2_error:
        if tag.startswith("sha256:") or not _speaks_v1(session):
            raise
        try:
            return _pull_v1(session, graph, tags, path, repo, tag, report)
        except NotFound:
            raise v2_error from None  # unknown to both: v2's words (a missing blob stays named)


def _pull_v1(
    session: Any, graph: Graph, tags: TagStore, path: str, repo: str, tag: str, report: Any
) -> dict[str, str]:
    from ..registry import v1pull

    if tag.startswith("sha256:"):
        raise NotFound(f"image {repo}@{tag} not found: a v1 registry has no digests")
    return v1pull.pull(session, graph, tags, path, repo, tag, report)[0]


def _speaks_v1(session: Any) -> bool:
    try:
        resp = session.request("GET", "/v1/_ping", scopes=[], ok_404=True)
    except DockerError:
        return False
    resp.close()
    return resp.status_code == 200


def _auth_for(host: str, config: dict[str, Any]) -> dict[str, Any]:
    """One registry's credentials: `config` is either them or, as the build endpoint's
    X-Registry-Config, a map of server address to credentials."""
    if any(k in config for k in ("username", "identitytoken", "auth")):
        return config
    for key, entry in config.items():
        if isinstance(entry, dict) and key.split("://", 1)[-1].split("/", 1)[0] == host:
            return entry
    return {}


def _text(msg: dict[str, Any]) -> str:
    prefix = f"{msg['id']}: " if msg.get("id") else ""
    return f"{prefix}{msg.get('status', '')}\n"
