"""`docker push` over the v2 protocol: each layer as a gzip blob, the image config, a schema-2 manifest.

A layer is compressed once into a temporary file (its diff_id and blob digest computed on the way),
then the registry is asked whether it has the blob (HEAD), whether it can mount it from another
repository we pushed it to (`?mount=&from=`), and only otherwise sent. The manifest is the one
Docker 20.10 pushes, so Docker 20.10 pulls it.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, BinaryIO
from urllib.parse import urljoin

from ..image import v2config
from ..image.graph import Graph
from ..image.image import Image
from . import manifest
from .progress import Reporter
from .session import RegistryError, Session

# Speed over ratio: a push is usually to a registry nearby, and any level is the same format.
GZIP_LEVEL = 1
WORKERS = 3

Mounts = Callable[[str], list[str]]
"""Repositories of this registry that we pushed a blob to (candidates for a cross-repo mount)."""


class _Hashing:
    """A file-like sink that hashes what it is given before passing it on."""

    def __init__(self, out: Any) -> None:
        self.out = out
        self.sha = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.sha.update(data)
        self.size += len(data)
        self.out.write(data)
        return len(data)

    def flush(self) -> None:
        pass


class _Upload:
    """A body for requests that reports how much has been read; sized so it goes with Content-Length."""

    def __init__(self, f: BinaryIO, size: int, report: Callable[[int], None]) -> None:
        self.f, self.size, self.report, self.done = f, size, report, 0

    def __len__(self) -> int:
        return self.size

    def read(self, n: int = -1) -> bytes:
        data = self.f.read(1 << 20 if n is None or n < 0 else n)
        self.done += len(data)
        self.report(self.done)
        return data

    def seek(self, pos: int) -> None:
        self.f.seek(pos)
        self.done = pos


def compress_layer(graph: Graph, image: Image, tmp_dir: str) -> tuple[str, str, int, str]:
    """(path of the gzip blob, blob digest, blob size, diff_id) of `image`'s layer."""
    fd, path = tempfile.mkstemp(prefix="push-", dir=tmp_dir)
    try:
        with os.fdopen(fd, "wb") as raw:
            blob = _Hashing(raw)
            with gzip.GzipFile(fileobj=blob, mode="wb", compresslevel=GZIP_LEVEL, mtime=0) as gz:  # type: ignore[arg-type]
                tar = _Hashing(gz)
                graph.layer_tar(image.id, tar)  # type: ignore[arg-type]
        return path, "sha256:" + blob.sha.hexdigest(), blob.size, "sha256:" + tar.sha.hexdigest()
    except BaseException:
        os.unlink(path)
        raise


def push(
    session: Session, graph: Graph, image: Image, repo: str, tag: str, report: Reporter, mounts: Mounts
) -> tuple[str, int, list[str]]:
    """Push `image` as `repo:tag`; returns (manifest digest, manifest size, layer digests)."""
    chain = list(reversed(graph.history(image.id)))
    for img in chain:
        report.status("Preparing", img.id[:12])
    tmp_dir = os.path.join(os.path.dirname(graph.root), "tmp")
    os.makedirs(tmp_dir, exist_ok=True)
    scopes = [f"repository:{repo}:pull,push"]

    def one(img: Image) -> tuple[str, int, str]:
        short = img.id[:12]
        path, digest, size, diff_id = compress_layer(graph, img, tmp_dir)
        try:
            with open(path, "rb") as f:
                _push_blob(session, repo, scopes, digest, size, f, report, short, mounts)
        finally:
            os.unlink(path)
        return digest, size, diff_id

    # Layers are compressed and sent a few at a time, as Docker does; the manifest keeps their order.
    with ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="push") as pool:
        done = list(pool.map(one, chain))
    layers = [(digest, size) for digest, size, _ in done]
    diff_ids = [diff_id for _, _, diff_id in done]
    config = json.dumps(v2config.config_for(chain, diff_ids), separators=(",", ":")).encode()
    config_digest = "sha256:" + hashlib.sha256(config).hexdigest()
    import io

    _push_blob(session, repo, scopes, config_digest, len(config), io.BytesIO(config), None, "", mounts)
    body = manifest.schema2(config_digest, len(config), layers)
    resp = session.request(
        "PUT",
        f"/v2/{repo}/manifests/{tag}",
        scopes=scopes,
        data=body,
        headers={"Content-Type": manifest.SCHEMA2},
    )
    resp.close()
    if resp.status_code not in (200, 201):
        raise RegistryError(f"put manifest {repo}:{tag}: HTTP status {resp.status_code}")
    digest = "sha256:" + hashlib.sha256(body).hexdigest()
    report.status(f"{tag}: digest: {digest} size: {len(body)}")
    return digest, len(body), [d for d, _ in layers]


def _push_blob(
    session: Session,
    repo: str,
    scopes: list[str],
    digest: str,
    size: int,
    f: BinaryIO,
    report: Reporter | None,
    short: str,
    mounts: Mounts,
) -> None:
    head = session.request("HEAD", f"/v2/{repo}/blobs/{digest}", scopes=scopes, ok_404=True)
    head.close()
    if head.status_code == 200:
        if report:
            report.status("Layer already exists", short)
        return
    location = ""
    for source in mounts(digest):
        if source == repo:
            continue
        resp = session.request(
            "POST",
            f"/v2/{repo}/blobs/uploads/?mount={digest}&from={source}",
            scopes=scopes + [f"repository:{source}:pull"],
        )
        resp.close()
        if resp.status_code == 201:
            if report:
                report.status(f"Mounted from {source}", short)
            return
        if resp.status_code == 202:  # not mountable after all: the registry started an upload
            location = resp.headers.get("Location", "")
            break
    if not location:
        resp = session.request("POST", f"/v2/{repo}/blobs/uploads/", scopes=scopes)
        resp.close()
        if resp.status_code != 202:
            raise RegistryError(f"start upload to {repo}: HTTP status {resp.status_code}")
        location = resp.headers.get("Location", "")
    if not location:
        raise RegistryError(f"start upload to {repo}: the registry gave no upload location")
    url = urljoin(session.base + "/", location)
    url += ("&" if "?" in url else "?") + f"digest={digest}"
    if report:
        report.transfer("Pushing", short, 0, size, force=True)
    body = _Upload(
        f, size, (lambda n: report.transfer("Pushing", short, n, size)) if report else (lambda n: None)
    )
    resp = session.request(
        "PUT",
        url,
        scopes=scopes,
        data=body,
        headers={"Content-Type": "application/octet-stream", "Content-Length": str(size)},
    )
    resp.close()
    if resp.status_code not in (201, 204):
        raise RegistryError(f"upload blob {digest} to {repo}: HTTP status {resp.status_code}")
    if report:
        report.status("Pushed", short)
