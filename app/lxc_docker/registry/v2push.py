"""`docker push` over the v2 protocol: each layer as a gzip blob, the image config, a schema-2 manifest.

A layer whose blob we know (`metadata.py`: pulled from, or pushed to, some registry before) is first
asked for by digest (HEAD), then mounted from another repository of this registry we pushed it to;
only otherwise is it sent. Sending streams, as Docker does: a thread makes the layer's tar and
compresses it into a small bounded queue while the upload (`PATCH`, chunked) reads from it, the
diff_id and blob digest are hashed on the way, and `PUT ?digest=` closes the upload. So a layer is
read and compressed once and never written to disk. A few layers go at a time. The manifest is the
one Docker 20.10 pushes, so Docker 20.10 pulls it.
"""

from __future__ import annotations

import hashlib
import io
import json
import queue
import threading
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urljoin

from ..image import v2config
from ..image.graph import Graph
from ..image.image import Image
from . import manifest
from .metadata import DistributionMetadata
from .progress import Reporter
from .session import RegistryError, Session

# Speed over ratio: a push is usually to a registry nearby, and any level is the same format.
GZIP_LEVEL = 1
WORKERS = 3
CHUNK = 1 << 20  # compressed bytes handed to the upload at a time
QUEUE_CHUNKS = 4  # how far compression may run ahead of the upload
IN_BATCH = 256 << 10  # tar bytes compressed at a time

Mounts = Callable[[str], list[str]]
"""Repositories of this registry that we pushed a blob to (candidates for a cross-repo mount)."""


class _Compressor:
    """A sink for the layer's tar: hashes it (the diff_id), gzips it (zlib's gzip framing), hashes
    the compressed bytes (the blob digest) and hands them on in CHUNK pieces."""

    def __init__(self, emit: Callable[[bytes], None], progress: Callable[[int], None]) -> None:
        self.emit, self.progress = emit, progress
        self.tar_sha, self.blob_sha = hashlib.sha256(), hashlib.sha256()
        self.tar_size = self.blob_size = 0
        self._z = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)
        self._pending: list[bytes] = []
        self._in = bytearray()
        self._pending_size = 0

    def write(self, data: bytes) -> int:
        # Tar headers come 512 bytes at a time: gathered, so that hashing, zlib and the progress
        # report each run on pieces large enough to release the GIL and cost little per byte.
        self._in += data
        if len(self._in) >= IN_BATCH:
            self._take()
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self._take()
        self._add(self._z.flush())
        self._send()

    def _take(self) -> None:
        if not self._in:
            return
        data = bytes(self._in)
        self._in.clear()
        self.tar_sha.update(data)
        self.tar_size += len(data)
        self._add(self._z.compress(data))
        self.progress(self.tar_size)

    def _add(self, out: bytes) -> None:
        if not out:
            return
        self.blob_sha.update(out)
        self.blob_size += len(out)
        self._pending.append(out)
        self._pending_size += len(out)
        if self._pending_size >= CHUNK:
            self._send()

    def _send(self) -> None:
        if self._pending:
            self.emit(b"".join(self._pending))
            self._pending, self._pending_size = [], 0


class _Stream:
    """The compressed layer as an iterator of chunks for a chunked upload, made by a thread."""

    _END = object()

    def __init__(self, graph: Graph, image: Image, progress: Callable[[int], None]) -> None:
        self.q: queue.Queue[Any] = queue.Queue(QUEUE_CHUNKS)
        self.cancelled = threading.Event()
        self.error: BaseException | None = None
        self.comp = _Compressor(self._put, progress)
        self.thread = threading.Thread(target=self._run, args=(graph, image), name="push-gzip", daemon=True)
        self.thread.start()

    def _put(self, chunk: bytes) -> None:
        while not self.cancelled.is_set():
            try:
                self.q.put(chunk, timeout=0.5)
                return
            except queue.Full:
                continue
        raise _Cancelled()

    def _run(self, graph: Graph, image: Image) -> None:
        try:
            graph.layer_tar(image.id, self.comp)  # type: ignore[arg-type]
            self.comp.close()
        except _Cancelled:
            return
        except BaseException as e:  # handed to the reading side, which raises it
            self.error = e
        try:
            self.q.put(self._END, timeout=5)
        except queue.Full:
            pass

    def __iter__(self) -> Iterator[bytes]:
        while True:
            item = self.q.get()
            if item is self._END:
                if self.error is not None:
                    raise self.error
                return
            yield item

    def close(self) -> None:
        self.cancelled.set()
        while self.thread.is_alive():
            try:
                self.q.get(timeout=0.1)
            except queue.Empty:
                pass
        self.thread.join()


class _Cancelled(Exception):
    pass


def push(
    session: Session,
    graph: Graph,
    image: Image,
    repo: str,
    tag: str,
    report: Reporter,
    mounts: Mounts,
    meta: DistributionMetadata | None = None,
) -> tuple[str, int, list[str]]:
    """Push `image` as `repo:tag`; returns (manifest digest, manifest size, layer digests)."""
    chain = list(reversed(graph.history(image.id)))
    for img in chain:
        report.status("Preparing", img.id[:12])
    scopes = [f"repository:{repo}:pull,push"]

    def one(img: Image) -> tuple[str, int, str]:
        short = img.id[:12]
        known = meta.layer(img.id) if meta is not None else None
        if known is not None:
            diff_id, digest, size = known
            if _exists_or_mount(session, repo, scopes, digest, report, short, mounts):
                return digest, size, diff_id
        digest, size, diff_id = _stream_layer(session, graph, img, repo, scopes, report, short)
        if meta is not None:
            meta.set_layer(img.id, diff_id, digest, size)
        return digest, size, diff_id

    # Layers are sent a few at a time, as Docker does; the manifest keeps their order.
    with ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="push") as pool:
        done = list(pool.map(one, chain))
    layers = [(digest, size) for digest, size, _ in done]
    diff_ids = [diff_id for _, _, diff_id in done]
    config = json.dumps(v2config.config_for(chain, diff_ids), separators=(",", ":")).encode()
    config_digest = "sha256:" + hashlib.sha256(config).hexdigest()
    if not _exists_or_mount(session, repo, scopes, config_digest, None, "", mounts):
        _upload_whole(session, repo, scopes, config_digest, config)
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


def _exists_or_mount(
    session: Session,
    repo: str,
    scopes: list[str],
    digest: str,
    report: Reporter | None,
    short: str,
    mounts: Mounts,
) -> bool:
    """Whether the repository has the blob now: it had it (HEAD), or it was mounted from another
    repository of the registry. A mount the registry turns into an upload is cancelled."""
    head = session.request("HEAD", f"/v2/{repo}/blobs/{digest}", scopes=scopes, ok_404=True)
    head.close()
    if head.status_code == 200:
        if report:
            report.status("Layer already exists", short)
        return True
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
            return True
        if resp.status_code == 202 and resp.headers.get("Location"):
            # Not mountable after all: the registry started an upload we do not want.
            url = urljoin(session.base + "/", resp.headers["Location"])
            session.request("DELETE", url, scopes=scopes, ok_404=True).close()
            break
    return False


def _start_upload(session: Session, repo: str, scopes: list[str]) -> str:
    resp = session.request("POST", f"/v2/{repo}/blobs/uploads/", scopes=scopes)
    resp.close()
    if resp.status_code != 202:
        raise RegistryError(f"start upload to {repo}: HTTP status {resp.status_code}")
    location = resp.headers.get("Location", "")
    if not location:
        raise RegistryError(f"start upload to {repo}: the registry gave no upload location")
    return urljoin(session.base + "/", location)


def _with_digest(url: str, digest: str) -> str:
    return url + ("&" if "?" in url else "?") + f"digest={digest}"


def _upload_whole(session: Session, repo: str, scopes: list[str], digest: str, data: bytes) -> None:
    url = _start_upload(session, repo, scopes)
    resp = session.request(
        "PUT",
        _with_digest(url, digest),
        scopes=scopes,
        data=io.BytesIO(data),
        headers={"Content-Type": "application/octet-stream", "Content-Length": str(len(data))},
    )
    resp.close()
    if resp.status_code not in (201, 204):
        raise RegistryError(f"upload blob {digest} to {repo}: HTTP status {resp.status_code}")


def _stream_layer(
    session: Session, graph: Graph, img: Image, repo: str, scopes: list[str], report: Reporter, short: str
) -> tuple[str, int, str]:
    """Upload the layer compressed while it is read; (blob digest, blob size, diff_id)."""
    url = _start_upload(session, repo, scopes)
    total = img.size if img.size > 0 else 0
    report.transfer("Pushing", short, 0, total, force=True)
    stream = _Stream(graph, img, lambda n: report.transfer("Pushing", short, n, max(total, n)))
    try:
        resp = session.request(
            "PATCH",
            url,
            scopes=scopes,
            data=iter(stream),
            headers={"Content-Type": "application/octet-stream"},
        )
        resp.close()
    except Exception:
        # A failure to read the layer surfaces in the HTTP library as a broken upload: say which.
        if stream.error is not None:
            raise stream.error from None
        raise
    finally:
        stream.close()
    if stream.error is not None:
        raise stream.error
    if resp.status_code != 202:
        raise RegistryError(f"upload layer {short} to {repo}: PATCH answered HTTP status {resp.status_code}")
    comp = stream.comp
    digest = "sha256:" + comp.blob_sha.hexdigest()
    url = urljoin(url, resp.headers.get("Location") or url)
    resp = session.request(
        "PUT",
        _with_digest(url, digest),
        scopes=scopes,
        data=b"",
        headers={"Content-Type": "application/octet-stream", "Content-Length": "0"},
    )
    resp.close()
    if resp.status_code not in (201, 204):
        raise RegistryError(f"upload blob {digest} to {repo}: HTTP status {resp.status_code}")
    report.status("Pushed", short)
    return digest, comp.blob_size, "sha256:" + comp.tar_sha.hexdigest()
