"""`docker pull` over the v2 protocol: manifest (list) -> config -> layers, into our graph.

Layers download in parallel to temporary files (verified while they stream, see blobs.py) and are
applied in parent order as soon as each one and its parents are in. The pull's intent is journaled
before the first layer is registered, so a crash leaves nothing half-made (daemon/recovery.py), and
a failure rolls back every image this pull registered: no partial image, no tag.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from typing import Any

from ..errors import NotFound
from ..image import v2config
from ..image.graph import Graph
from ..image.image import Image
from ..image.tags import TagStore
from ..sysutil.journal import Journal
from . import blobs, manifest
from .metadata import DistributionMetadata
from .progress import Reporter
from .pullwork import PullWork
from .session import Session

WORKERS = 3
_REGISTER = threading.Lock()
MAX_CONFIG = 8 << 20


def fetch_manifest(session: Session, repo: str, ref: str, name: str) -> tuple[manifest.ImageManifest, str]:
    """The image manifest for our platform and the digest of what `ref` names (Docker's `Digest:`)."""
    scopes = [f"repository:{repo}:pull"]
    try:
        resp = session.request(
            "GET",
            f"/v2/{repo}/manifests/{ref}",
            scopes=scopes,
            headers={"Accept": manifest.ACCEPT},
            stream=True,
        )
    except NotFound:
        raise NotFound(f"image {name} not found") from None
    body = _read_limited(resp)
    digest = "sha256:" + hashlib.sha256(body).hexdigest()
    kind, doc = manifest.parse(body, resp.headers.get("Content-Type", ""))
    if kind in (manifest.LIST, manifest.OCI_INDEX):
        entry = manifest.pick_platform(doc)
        resp = session.request(
            "GET",
            f"/v2/{repo}/manifests/{entry.digest}",
            scopes=scopes,
            headers={"Accept": manifest.ACCEPT},
            stream=True,
        )
        inner = _read_limited(resp)
        if "sha256:" + hashlib.sha256(inner).hexdigest() != entry.digest:
            raise manifest.ManifestError(f"manifest verification failed for digest {entry.digest}")
        kind, doc = manifest.parse(inner, resp.headers.get("Content-Type", ""))
        if kind in (manifest.LIST, manifest.OCI_INDEX):
            raise manifest.ManifestError("invalid manifest list: it names another list")
    return manifest.image_manifest(doc), digest


def _read_limited(resp: Any) -> bytes:
    try:
        body = resp.raw.read(manifest.MAX_MANIFEST + 1, decode_content=True)
    finally:
        resp.close()
    if len(body) > manifest.MAX_MANIFEST:
        raise manifest.ManifestError("manifest too large")
    return body


def pull(
    session: Session,
    graph: Graph,
    tags: TagStore,
    repo: str,
    local: str,
    tag: str,
    report: Reporter,
    meta: DistributionMetadata | None = None,
) -> tuple[Image, bool]:
    """Pull `repo:tag` from `session`'s registry as `local:tag`; returns (top image, anything new).
    A `tag` of the form `sha256:...` pulls by digest: verified against the manifest, and not tagged."""
    by_digest = tag.startswith("sha256:")
    name = f"{local}@{tag}" if by_digest else f"{local}:{tag}"
    man, digest = fetch_manifest(session, repo, tag, name)
    if by_digest and digest != tag:
        raise manifest.ManifestError(f"manifest verification failed for digest {tag}")
    # After the manifest: until here a failure (unknown image, credentials) is the response's status.
    report.status(f"Pulling from {repo}", tag)
    config_bytes = blobs.fetch_small(
        session, repo, man.config.digest, man.config.size, "image config", MAX_CONFIG
    )
    try:
        config = json.loads(config_bytes)
        chain = v2config.chain_images(config)
    except ValueError as e:
        raise manifest.ManifestError(f"invalid image config {man.config.digest}: {e}") from None
    if len(man.layers) != len(chain) or not chain:
        raise manifest.ManifestError(
            f"invalid manifest: it names {len(man.layers)} layers but the image config has "
            f"{len(chain)} diff_ids: refused"
        )
    diff_ids = config["rootfs"]["diff_ids"]
    todo = [i for i, img in enumerate(chain) if not graph.exists(img.id)]
    # A blob named twice (empty layers often are) is fetched and reported once.
    first: dict[str, int] = {}
    for i in todo:
        j = first.setdefault(man.layers[i].digest, i)
        if diff_ids[j] != diff_ids[i]:
            raise manifest.ManifestError(f"invalid config: layer {man.layers[i].digest} has two diff_ids")
    for i, layer in enumerate(man.layers):
        if i not in todo:
            report.status("Already exists", _short(layer.digest))
        elif first[layer.digest] == i:
            report.status("Pulling fs layer", _short(layer.digest))
    with PullWork(graph, "pull", WORKERS) as job:
        fetches = {
            digest: job.pool.submit(_fetch_layer, session, repo, man.layers[i], job.dir, report)
            for digest, i in first.items()
        }
        job.futures = {i: fetches[man.layers[i].digest] for i in todo}
        top = chain[-1]
        old = top.id if by_digest else tags.get(local, tag)
        for i in todo:
            path = job.futures[i].result()
            if job.intent is None:
                new_tags = [] if by_digest else [[local, tag, top.id]]
                job.intent = Journal(os.path.dirname(graph.root)).begin(
                    "pull", Images=[chain[j].id for j in todo], Tags=new_tags
                )
            short = _short(man.layers[i].digest)
            # Graph.register is not safe against itself for one id (both would write the layer);
            # pulls sharing layers take turns, and the later one finds the layer there.
            with _REGISTER:
                if graph.exists(chain[i].id):
                    report.status("Already exists", short)
                    continue
                report.status("Extracting", short)
                with open(path, "rb") as f:
                    layer = blobs.LayerReader(f)
                    job.created.append(graph.register(chain[i], layer))
                    got = layer.diff_id()
                if got != diff_ids[i]:  # the image just registered goes with the rollback below
                    raise blobs.VerificationError(
                        f"layer {man.layers[i].digest}: its content ({got}) does not match the image "
                        f"config's diff_id {diff_ids[i]}"
                    )
            if job.intent is not None:
                job.intent.step()
            report.status("Pull complete", short)
        if old != top.id:
            tags.set(local, tag, top.id, force=True)
        if job.intent is not None:
            job.intent.step()
    if meta is not None:  # a later push asks for these blobs first; `name@digest` finds the image
        # Only gzip blobs: a push names every layer as gzip, so an uncompressed one is sent anew.
        known = [
            (img.id, diff_ids[i], man.layers[i].digest, man.layers[i].size)
            for i, img in enumerate(chain)
            if man.layers[i].media_type.endswith("gzip")
        ]
        meta.record_pull(local, digest, top.id, known)
    report.status(f"Digest: {digest}")
    new = bool(job.created) or old != top.id
    report.status(f"Status: {'Downloaded newer image' if new else 'Image is up to date'} for {name}")
    return graph.get(top.id), new


def _fetch_layer(session: Session, repo: str, layer: manifest.Descriptor, work: str, report: Reporter) -> str:
    short = _short(layer.digest)
    path = os.path.join(work, layer.digest[7:] + f"-{os.urandom(4).hex()}")
    with open(path, "wb") as out:
        blobs.download(
            session,
            repo,
            layer.digest,
            layer.size,
            out,
            lambda n: report.transfer("Downloading", short, n, layer.size),
            "layer",
        )
    report.transfer("Downloading", short, layer.size, layer.size, force=True)
    report.status("Verifying Checksum", short)
    report.status("Download complete", short)
    return path


def _short(digest: str) -> str:
    return digest.split(":", 1)[-1][:12]
