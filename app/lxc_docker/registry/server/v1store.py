"""The v1 store: images (json, layer, checksums, ancestry) and repositories (tags, image lists).

    v1/images/<id>/json, layer, ancestry, checksum   an image; `_inprogress` while it is being pushed
    v1/repositories/<ns>/<repo>/tags/<tag>           the image id a tag names
    v1/repositories/<ns>/<repo>/_index_images        the image list of the last repository PUT

The layer is streamed to a temporary file beside its final name and renamed when the body is
complete, so a reader sees a whole layer or none; the image stays `_inprogress` (hidden from GETs)
until its checksum is verified.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading

from ...sysutil import atomic
from . import names

COPY_CHUNK = 1 << 20


class V1Store:
    def __init__(self, root: str) -> None:
        self.images = os.path.join(root, "v1", "images")
        self.repos = os.path.join(root, "v1", "repositories")
        for d in (self.images, self.repos):
            os.makedirs(d, mode=0o700, exist_ok=True)
        for entry in os.listdir(self.images):  # layers cut by a crash: their temp files go
            d = os.path.join(self.images, entry)
            for f in os.listdir(d) if os.path.isdir(d) else ():
                if atomic.is_temp_name(f):
                    os.unlink(os.path.join(d, f))

    def _img(self, image_id: str, *parts: str) -> str:
        return os.path.join(self.images, names.valid_image_id(image_id), *parts)

    def exists(self, image_id: str) -> bool:
        return os.path.exists(self._img(image_id, "json"))

    def in_progress(self, image_id: str) -> bool:
        return os.path.exists(self._img(image_id, "_inprogress"))

    def read(self, image_id: str, what: str) -> bytes | None:
        try:
            with open(self._img(image_id, what), "rb") as f:
                return f.read()
        except FileNotFoundError:
            return None

    def layer_path(self, image_id: str) -> str:
        return self._img(image_id, "layer")

    def put_json(self, image_id: str, raw: bytes, parent: str | None, checksum: str) -> None:
        ancestry = [image_id]
        if parent:
            parent_ancestry = self.read(parent, "ancestry")
            if parent_ancestry is None:
                raise LookupError(f"parent image {parent} not found")
            ancestry += json.loads(parent_ancestry)
        d = self._img(image_id)
        if os.path.isdir(d):
            shutil.rmtree(d)  # a push that never finished: start over
        os.makedirs(d, mode=0o700)
        atomic.write_bytes(os.path.join(d, "_inprogress"), b"")
        atomic.write_bytes(os.path.join(d, "ancestry"), json.dumps(ancestry).encode())
        if checksum:
            atomic.write_bytes(os.path.join(d, "_client_checksum"), checksum.encode())
        atomic.write_bytes(os.path.join(d, "json"), raw)

    def put_layer(self, image_id: str, body) -> str:
        """Stream the layer in; return its payload checksum, sha256 of json + "\\n" + layer, the
        `X-Docker-Checksum-Payload` Docker 0.9's push sends."""
        raw = self.read(image_id, "json") or b""
        h = hashlib.sha256(raw + b"\n")
        final = self.layer_path(image_id)
        tmp = os.path.join(os.path.dirname(final), f".tmp-layer-{os.getpid()}-{threading.get_ident()}")
        try:
            with open(tmp, "wb") as f:
                while chunk := body.read(COPY_CHUNK):
                    f.write(chunk)
                    h.update(chunk)
                f.flush()
                os.fsync(f.fileno())
            payload = "sha256:" + h.hexdigest()
            atomic.write_bytes(self._img(image_id, "_payload_checksum"), payload.encode())
            os.replace(tmp, final)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        return payload

    def checksums(self, image_id: str) -> set[str]:
        found = set()
        for what in ("_payload_checksum", "_client_checksum"):
            value = self.read(image_id, what)
            if value:
                found.add(value.decode())
        return found

    def complete(self, image_id: str, client_checksum: str) -> None:
        if client_checksum:
            atomic.write_bytes(self._img(image_id, "_client_checksum"), client_checksum.encode())
        try:
            os.unlink(self._img(image_id, "_inprogress"))
        except FileNotFoundError:
            pass

    # -- repositories -----------------------------------------------------------------------------

    def _repo(self, ns: str, repo: str, *parts: str) -> str:
        names.valid_repository(f"{ns}/{repo}")
        return os.path.join(self.repos, ns, repo, *parts)

    def repo_exists(self, ns: str, repo: str) -> bool:
        return os.path.isdir(self._repo(ns, repo))

    def tags(self, ns: str, repo: str) -> dict[str, str]:
        d = self._repo(ns, repo, "tags")
        out = {}
        for tag in sorted(os.listdir(d)) if os.path.isdir(d) else ():
            if not atomic.is_temp_name(tag):
                with open(os.path.join(d, tag), "rb") as f:
                    out[tag] = f.read().decode()
        return out

    def set_tag(self, ns: str, repo: str, tag: str, image_id: str) -> None:
        path = self._repo(ns, repo, "tags", names.valid_tag(tag))
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        atomic.write_bytes(path, image_id.encode())

    def delete_tag(self, ns: str, repo: str, tag: str) -> bool:
        try:
            os.unlink(self._repo(ns, repo, "tags", names.valid_tag(tag)))
            return True
        except FileNotFoundError:
            return False

    def put_images(self, ns: str, repo: str, images: list[dict]) -> None:
        d = self._repo(ns, repo)
        os.makedirs(d, mode=0o700, exist_ok=True)
        atomic.write_json(os.path.join(d, "_index_images"), images)

    def images_of(self, ns: str, repo: str) -> list[dict] | None:
        try:
            return atomic.read_json(self._repo(ns, repo, "_index_images"))
        except FileNotFoundError:
            return None

    def delete_repo(self, ns: str, repo: str) -> bool:
        d = self._repo(ns, repo)
        if not os.path.isdir(d):
            return False
        shutil.rmtree(d)
        return True

    def repositories(self) -> list[str]:
        out = []
        for ns in sorted(os.listdir(self.repos)):
            for repo in sorted(os.listdir(os.path.join(self.repos, ns))):
                out.append(f"{ns}/{repo}")
        return out
