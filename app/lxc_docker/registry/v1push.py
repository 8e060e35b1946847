"""`docker push` over the v1 protocol, in the order Docker 0.9's Registry & Index spec gives:

1. PUT the repository on the index with the list of images (`X-Docker-Token: true`): a write token
   and the registry endpoints come back;
2. for each image, parents first, that the registry lacks (GET json is not 200): PUT json, PUT layer
   (an uncompressed tar, as 0.9 sent it), PUT checksum (`X-Docker-Checksum-Payload`: sha256 of
   `json + "\\n" + layer`);
3. PUT each tag; 4. PUT the image list with the checksums to the index.

Our image ids are v1 ids already (64 hex, the engine began as Docker 0.9), and an image's json is the
document the graph keeps (`Image.to_json`), so what Docker 0.9 pulls is what we have.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, BinaryIO

from ..image.graph import Graph
from ..image.image import Image
from .progress import Reporter
from .session import Session
from .v1session import V1Session, check

WORKERS = 3


def image_json(image: Image) -> bytes:
    """The json a v1 registry stores for `image`: the graph's document without our `Size` (Docker
    0.9 kept the size apart, in `layersize`), in a stable encoding so its checksum can be re-made."""
    doc = image.to_json()
    doc.pop("Size", None)
    return json.dumps(doc, separators=(",", ":")).encode()


class _Hashing:
    def __init__(self, out: BinaryIO, h: Any) -> None:
        self.out, self.h, self.size = out, h, 0

    def write(self, data: bytes) -> int:
        self.h.update(data)
        self.size += len(data)
        return self.out.write(data)

    def flush(self) -> None:
        pass


class _Upload:
    """A sized request body that reports its progress."""

    def __init__(self, f: BinaryIO, size: int, report: Callable[[int], None]) -> None:
        self.f, self.size, self.report, self.done = f, size, report, 0

    def __len__(self) -> int:
        return self.size

    def read(self, n: int = -1) -> bytes:
        data = self.f.read(1 << 20 if n is None or n < 0 else n)
        self.done += len(data)
        self.report(self.done)
        return data


def push(
    session: Session, graph: Graph, repo: str, wanted: dict[str, Image], report: Reporter
) -> dict[str, str]:
    """Push the images `wanted` names (tag -> image) as `repo`; returns id -> payload checksum of the
    images sent."""
    order: list[Image] = []
    for image in wanted.values():
        for img in reversed(graph.history(image.id)):
            if all(o.id != img.id for o in order):
                order.append(img)
    tag_of = {image.id: t for t, image in wanted.items()}
    v1 = V1Session(session, repo)
    v1.put_repository([{"id": i.id, **({"Tag": tag_of[i.id]} if i.id in tag_of else {})} for i in order])
    report.status(f"Sending image list to {v1.endpoints[0].split('://', 1)[1]}")
    tmp_dir = os.path.join(os.path.dirname(graph.root), "tmp")
    os.makedirs(tmp_dir, exist_ok=True)
    sums: dict[str, str] = {}
    for endpoint in v1.endpoints:
        report.status(f"Pushing repository {repo} to {endpoint.split('://', 1)[1]} ({len(wanted)} tags)")
        missing = [img for img in order if not _has(v1, endpoint, img.id)]
        for img in order:
            if img not in missing:
                report.status("Image already pushed, skipping", img.id[:12])
        # The json PUTs go parents first (the registry builds each ancestry from the parent's);
        # layers then travel a few at a time, each finished by its checksum.
        for img in missing:
            _put(v1, "PUT", f"{endpoint}/v1/images/{img.id}/json", f"json of {img.id}", data=image_json(img))

        def one(img: Image, endpoint: str = endpoint) -> tuple[str, str]:
            return img.id, _push_layer(v1, endpoint, graph, img, tmp_dir, report)

        with ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="push1") as pool:
            sums.update(pool.map(one, missing))
        for tag, image in wanted.items():
            report.status(
                f"Pushing tag for rev [{image.id[:12]}] on {{{endpoint}/v1/repositories/{repo}/tags/{tag}}}"
            )
            _put(v1, "PUT", f"{endpoint}/v1/repositories/{repo}/tags/{tag}", f"tag {tag}", json=image.id)
    v1.put_checksums([{"id": i.id, **({"checksum": sums[i.id]} if i.id in sums else {})} for i in order])
    return sums


def _has(v1: V1Session, endpoint: str, image_id: str) -> bool:
    resp = v1.send("GET", f"{endpoint}/v1/images/{image_id}/json", stream=True)
    resp.close()
    if resp.status_code in (401, 403):
        check(resp, f"image {image_id}")
    # 404: unknown; 400: an upload that never finished (our server and docker-registry say so).
    return resp.status_code == 200


def _put(v1: V1Session, method: str, url: str, what: str, **kwargs: Any) -> None:
    resp = v1.send(method, url, **kwargs)
    try:
        check(resp, f"push {what}")
    finally:
        resp.close()


def _push_layer(
    v1: V1Session, endpoint: str, graph: Graph, img: Image, tmp_dir: str, report: Reporter
) -> str:
    short = img.id[:12]
    raw = image_json(img)
    h = hashlib.sha256(raw + b"\n")
    fd, path = tempfile.mkstemp(prefix="push1-", dir=tmp_dir)
    try:
        with os.fdopen(fd, "w+b") as f:
            sink = _Hashing(f, h)
            graph.layer_tar(img.id, sink)  # type: ignore[arg-type]
            f.flush()
            f.seek(0)
            size = sink.size
            report.transfer("Pushing", short, 0, size, force=True)
            body = _Upload(f, size, lambda n: report.transfer("Pushing", short, n, size))
            _put(
                v1,
                "PUT",
                f"{endpoint}/v1/images/{img.id}/layer",
                f"layer {img.id}",
                data=body,
                headers={"Content-Type": "application/octet-stream", "Content-Length": str(size)},
            )
    finally:
        os.unlink(path)
    checksum = "sha256:" + h.hexdigest()
    _put(
        v1,
        "PUT",
        f"{endpoint}/v1/images/{img.id}/checksum",
        f"checksum of {img.id}",
        headers={"X-Docker-Checksum": checksum, "X-Docker-Checksum-Payload": checksum},
    )
    report.status("Image successfully pushed", short)
    return checksum
