"""`docker pull` over the v1 protocol (Docker 0.9's Registry & Index spec), into our graph.

Index: the repository's image list and checksums, a read token, the registry endpoints. Registry: the
tags, the ancestry of each wanted image, then the json and layer of every image the graph lacks,
fetched a few at a time into temporary files and checked against the payload checksum, sha256 of
`json + "\\n" + layer` (Docker 0.9's push computes it as `X-Docker-Checksum-Payload`; the index's
checksum wins over the registry's header, since the index is the trusted party). Images keep their
v1 ids and parents, so `save` writes them as Docker 0.9 wrote them. As in v2pull, the pull's intent
is journaled before the first image is registered and a failure rolls back every image it made.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass
from typing import Any

from ..archive.compression import decompressed
from ..errors import ArchiveError, NotFound
from ..image.graph import Graph
from ..image.image import Image
from ..image.tags import TagStore
from ..sysutil.journal import Journal
from . import blobs, tarsum
from .progress import Reporter
from .pullwork import PullWork
from .session import RegistryError, Session
from .v1session import V1Session, check, valid_id
from .v2pull import _REGISTER  # one lock for both protocols: pulls sharing an image take turns

log = logging.getLogger(__name__)

WORKERS = 3
# Small enough that a connection cut mid-chunk loses little: urllib3 drops a short last read.
CHUNK = 64 << 10
MAX_JSON = 4 << 20


@dataclass
class Fetched:
    image: Image
    path: str  # the layer, as the registry sent it (any compression)


def payload_checksum_of(json_raw: bytes) -> Any:
    """A running payload checksum: sha256 over the image json, a newline, then the layer's bytes."""
    h = hashlib.sha256(json_raw)
    h.update(b"\n")
    return h


def expected_checksum(index_sum: str, header_sum: str, client_sum: str = "") -> str:
    """The payload checksum a layer must match: the index's when it lists one in that form, else the
    registry's `X-Docker-Checksum-Payload`, else its `X-Docker-Checksum` when that is one too; ""
    when none is (a tarsum is checked apart, see `expected_tarsum`)."""
    for value in (index_sum, header_sum, client_sum):
        if value.startswith("sha256:") and len(value) == 71:
            return value
    return ""


def expected_tarsum(index_sum: str, client_sum: str, payload_known: bool) -> str:
    """The tarsum to check too: the index's whenever it lists one (the trusted party's word is
    worth a second pass), else the registry's when no payload checksum is known; "" for none."""
    for value in (index_sum, "" if payload_known else client_sum):
        try:
            tarsum.split_label(value)
            return value
        except ValueError:
            continue
    return ""


def pull(
    session: Session, graph: Graph, tags: TagStore, repo: str, local: str, tag: str, report: Reporter
) -> tuple[dict[str, str], bool]:
    """Pull `repo:tag` (every tag when `tag` is "") as `local:tag`; returns (tag -> image id of what
    was pulled, anything new)."""
    name = f"{local}:{tag}" if tag else local
    v1 = V1Session(session, repo)
    try:
        listed = v1.repository_images()
    except NotFound:
        raise NotFound(f"image {name} not found") from None
    remote_tags, endpoint = _tags(v1, name)
    if tag:
        if tag not in remote_tags:
            raise NotFound(f"image {name} not found")
        wanted = {tag: remote_tags[tag]}
    else:
        wanted = dict(remote_tags)
        if not wanted:
            raise NotFound(f"image {name} not found")
    for t in wanted:
        report.status(f"Pulling from {repo}", t)
    # Every image the wanted tags need, parents first; a chain is read from its top image.
    order: list[str] = []
    parent_of: dict[str, str] = {}
    for top in dict.fromkeys(wanted.values()):
        chain = v1.ancestry(endpoint, top)
        for i, image_id in enumerate(chain):
            want_parent = chain[i + 1] if i + 1 < len(chain) else ""
            if parent_of.setdefault(image_id, want_parent) != want_parent:
                raise RegistryError(f"the registry gave image {image_id} two different parents")
        order += [i for i in reversed(chain) if i not in order]
    todo = [i for i in order if not graph.exists(i)]
    for image_id in order:
        report.status("Pulling fs layer" if image_id in todo else "Already exists", image_id[:12])
    olds = {t: tags.get(local, t) for t in wanted}
    with PullWork(graph, "pull1", WORKERS) as job:
        for image_id in todo:
            job.futures[image_id] = job.pool.submit(
                _fetch,
                v1,
                endpoint,
                image_id,
                parent_of[image_id],
                (listed or {}).get(image_id, ""),
                job.dir,
                report,
            )
        for image_id in todo:
            got = job.futures[image_id].result()
            if job.intent is None:
                job.intent = Journal(os.path.dirname(graph.root)).begin(
                    "pull", Images=list(todo), Tags=[[local, t, i] for t, i in wanted.items()]
                )
            short = image_id[:12]
            with _REGISTER:
                if graph.exists(image_id):  # another pull brought it meanwhile
                    report.status("Already exists", short)
                    continue
                report.status("Extracting", short)
                with open(got.path, "rb") as f:
                    job.created.append(graph.register(got.image, blobs.LayerReader(f)))
            job.intent.step()
            report.status("Pull complete", short)
        for t, image_id in wanted.items():
            if olds[t] != image_id:
                tags.set(local, t, image_id, force=True)
        if job.intent is not None:
            job.intent.step()
    new = bool(job.created) or any(olds[t] != i for t, i in wanted.items())
    report.status(f"Status: {'Downloaded newer image' if new else 'Image is up to date'} for {name}")
    return wanted, new


def list_tags(session: Session, repo: str, name: str) -> list[str]:
    """The repository's tags on a v1 registry (for `pull -a`)."""
    v1 = V1Session(session, repo)
    try:
        v1.repository_images()
    except NotFound:
        raise NotFound(f"image {name} not found") from None
    return sorted(_tags(v1, name)[0])


def _tags(v1: V1Session, name: str) -> tuple[dict[str, str], str]:
    """The tag map from the first endpoint that has the repository, and that endpoint."""
    last: Exception | None = None
    for endpoint in v1.endpoints:
        try:
            return v1.tags(endpoint), endpoint
        except NotFound:
            raise NotFound(f"image {name} not found") from None
        except RegistryError as e:  # an endpoint down: the next may serve the repository
            last = e
    raise last or NotFound(f"image {name} not found")


def _fetch(
    v1: V1Session, endpoint: str, image_id: str, parent: str, index_sum: str, work: str, report: Reporter
) -> Fetched:
    short = image_id[:12]
    resp = v1.send("GET", f"{endpoint}/v1/images/{image_id}/json", stream=True)
    try:
        check(resp, f"image {image_id} json")
        raw = resp.raw.read(MAX_JSON + 1, decode_content=True)
        header_sum = resp.headers.get("X-Docker-Checksum-Payload", "")
        client_sum = resp.headers.get("X-Docker-Checksum", "")
        size_header = resp.headers.get("X-Docker-Size", "")
    finally:
        resp.close()
    if len(raw) > MAX_JSON:
        raise RegistryError(f"image {image_id}: its json is too large")
    try:
        doc = json.loads(raw)
        image = Image.from_json(doc)
    except ValueError as e:
        raise RegistryError(f"image {image_id}: invalid json: {e}") from None
    if image.id != image_id or image.parent != parent:
        raise RegistryError(f"image {image_id}: its json names another id or parent than its ancestry")
    if image.parent:
        valid_id(image.parent, f"the json of {image_id}")
    size = int(size_header) if size_header.isdigit() else -1
    want = expected_checksum(index_sum, header_sum, client_sum)
    want_tarsum = expected_tarsum(index_sum, client_sum, bool(want))
    path = os.path.join(work, f"{image_id}-{os.urandom(4).hex()}")
    with open(path, "wb") as out:
        got = _download(v1, f"{endpoint}/v1/images/{image_id}/layer", raw, size, out, report, short)
    report.status("Verifying Checksum", short)
    if want and got != want:
        raise blobs.VerificationError(
            f"layer {image_id}: checksum mismatch: the registry sent content whose payload checksum is "
            f"{got}, the {'index' if want == index_sum else 'registry'} lists {want}: refused"
        )
    if want_tarsum:
        _check_tarsum(path, raw, want_tarsum, image_id, "index" if want_tarsum == index_sum else "registry")
    if not want and not want_tarsum:
        log.warning("image %s: no checksum from the index or the registry; not verified", image_id)
    report.status("Download complete", short)
    return Fetched(image, path)


def _check_tarsum(path: str, json_raw: bytes, want: str, image_id: str, who: str) -> None:
    version, _ = tarsum.split_label(want)
    try:
        with open(path, "rb") as f:
            got = tarsum.compute(decompressed(f), json_raw, version)
    except (tarsum.TarSumError, ArchiveError, OSError, EOFError) as e:
        raise blobs.VerificationError(f"layer {image_id}: unreadable layer: {e}") from None
    if got != want:
        raise blobs.VerificationError(
            f"layer {image_id}: checksum mismatch: its tarsum is {got}, the {who} lists {want}: refused"
        )


def _download(
    v1: V1Session, url: str, json_raw: bytes, size: int, out: Any, report: Reporter, short: str
) -> str:
    """The layer into `out`; returns its payload checksum. A dropped connection is resumed once with
    a Range request (a registry that ignores it is read again from the start)."""
    h, got, size = blobs.resumable_get(
        lambda headers: v1.send("GET", url, stream=True, headers=headers),
        out,
        size,
        lambda: payload_checksum_of(json_raw),
        lambda resp: check(resp, f"layer of {short}"),
        lambda got, size: report.transfer("Downloading", short, got, max(size, got)),
        f"layer {short}",
        chunk_size=CHUNK,
    )
    report.transfer("Downloading", short, got, max(size, got), force=True)
    return "sha256:" + h.hexdigest()
