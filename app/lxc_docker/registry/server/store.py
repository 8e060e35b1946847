"""The v2 store under the registry's root: content-addressed blobs, uploads, and per-repository
links, manifest revisions and tags.

    blobs/sha256/<hex>                               every blob and manifest, by digest
    uploads/<uuid>/data, uploads/<uuid>/name         uploads in progress (emptied at start)
    repositories/<name>/_layers/<hex>                a blob the repository may serve
    repositories/<name>/_manifests/revisions/<hex>   a manifest of the repository (holds its media type)
    repositories/<name>/_manifests/tags/<tag>        the digest a tag names

A blob reaches blobs/ only by a rename after its digest was verified, so a reader never sees a
partial blob; links and tags are written with sysutil.atomic. Names come validated (names.py).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
import uuid

from ...sysutil import atomic
from . import names

COPY_CHUNK = 1 << 20


class DigestMismatch(Exception):
    def __init__(self, expected: str, actual: str) -> None:
        super().__init__(f"digest mismatch: expected {expected}, got {actual}")
        self.expected = expected
        self.actual = actual


class UploadUnknown(Exception):
    pass


class Store:
    def __init__(self, root: str) -> None:
        self.root = root
        self.blob_dir = os.path.join(root, "blobs", "sha256")
        self.upload_dir = os.path.join(root, "uploads")
        self.repo_dir = os.path.join(root, "repositories")
        for d in (self.blob_dir, self.upload_dir, self.repo_dir):
            os.makedirs(d, mode=0o700, exist_ok=True)
        # Running hashes of uploads in progress, so a chunked upload is hashed once, as it arrives.
        self._hashers: dict[str, hashlib._Hash] = {}
        self._lock = threading.Lock()
        self.clean_uploads()

    def clean_uploads(self) -> None:
        """Uploads do not survive a restart (their hash state was in memory): remove them all."""
        for entry in os.listdir(self.upload_dir):
            shutil.rmtree(os.path.join(self.upload_dir, entry), ignore_errors=True)

    # -- blobs ------------------------------------------------------------------------------------

    def blob_path(self, digest: str) -> str:
        return os.path.join(self.blob_dir, names.digest_hex(digest))

    def blob_size(self, digest: str) -> int | None:
        try:
            return os.stat(self.blob_path(digest)).st_size
        except FileNotFoundError:
            return None

    def _repo(self, name: str, *parts: str) -> str:
        return os.path.join(self.repo_dir, names.valid_repository(name), *parts)

    def has_link(self, name: str, digest: str) -> bool:
        hexd = names.digest_hex(digest)
        return os.path.exists(self._repo(name, "_layers", hexd)) and os.path.exists(
            os.path.join(self.blob_dir, hexd)
        )

    def link(self, name: str, digest: str) -> None:
        path = self._repo(name, "_layers", names.digest_hex(digest))
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        if not os.path.exists(path):
            atomic.write_bytes(path, digest.encode())

    def unlink(self, name: str, digest: str) -> bool:
        try:
            os.unlink(self._repo(name, "_layers", names.digest_hex(digest)))
            return True
        except FileNotFoundError:
            return False

    def put_blob_bytes(self, name: str, data: bytes) -> str:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        path = self.blob_path(digest)
        if not os.path.exists(path):
            atomic.write_bytes(path, data, 0o600)
        self.link(name, digest)
        return digest

    def read_blob(self, digest: str) -> bytes:
        with open(self.blob_path(digest), "rb") as f:
            return f.read()

    # -- uploads ----------------------------------------------------------------------------------

    def start_upload(self, name: str) -> str:
        upload_id = uuid.uuid4().hex
        d = os.path.join(self.upload_dir, upload_id)
        os.mkdir(d, 0o700)
        with open(os.path.join(d, "data"), "wb"):
            pass
        atomic.write_bytes(os.path.join(d, "name"), name.encode())
        with self._lock:
            self._hashers[upload_id] = hashlib.sha256()
        return upload_id

    def upload_size(self, name: str, upload_id: str) -> int:
        d = self._upload(name, upload_id)
        return os.stat(os.path.join(d, "data")).st_size

    def _upload(self, name: str, upload_id: str) -> str:
        d = os.path.join(self.upload_dir, names.valid_upload_id(upload_id))
        try:
            with open(os.path.join(d, "name"), "rb") as f:
                owner = f.read().decode()
        except FileNotFoundError:
            raise UploadUnknown(upload_id) from None
        if owner != name:
            raise UploadUnknown(upload_id)
        return d

    def append(self, name: str, upload_id: str, body) -> int:
        """Append a request body to an upload; return the upload's new size.

        A body cut mid-way leaves what arrived (a client may resume from the size GET reports)."""
        d = self._upload(name, upload_id)
        with self._lock:
            hasher = self._hashers.get(upload_id)
        if hasher is None:
            raise UploadUnknown(upload_id)
        with open(os.path.join(d, "data"), "ab") as f:
            try:
                while chunk := body.read(COPY_CHUNK):
                    f.write(chunk)
                    hasher.update(chunk)
            finally:
                f.flush()
                size = f.tell()
        return size

    def finish(self, name: str, upload_id: str, digest: str) -> int:
        """Verify the upload against `digest` and move it into blobs/; the upload is gone either way."""
        d = self._upload(name, upload_id)
        expected_hex = names.digest_hex(digest)
        with self._lock:
            hasher = self._hashers.pop(upload_id, None)
        try:
            if hasher is None:
                raise UploadUnknown(upload_id)
            actual = hasher.hexdigest()
            if actual != expected_hex:
                raise DigestMismatch(digest, "sha256:" + actual)
            data = os.path.join(d, "data")
            fd = os.open(data, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            size = os.stat(data).st_size
            os.replace(data, os.path.join(self.blob_dir, expected_hex))
            atomic.fsync_dir(self.blob_dir)
            self.link(name, digest)
            return size
        finally:
            shutil.rmtree(d, ignore_errors=True)

    def cancel(self, name: str, upload_id: str) -> None:
        d = self._upload(name, upload_id)
        with self._lock:
            self._hashers.pop(upload_id, None)
        shutil.rmtree(d, ignore_errors=True)

    # -- manifests and tags -----------------------------------------------------------------------

    def put_manifest(self, name: str, data: bytes, media_type: str, tag: str | None) -> str:
        digest = self.put_blob_bytes(name, data)
        rev = self._repo(name, "_manifests", "revisions", names.digest_hex(digest))
        os.makedirs(os.path.dirname(rev), mode=0o700, exist_ok=True)
        atomic.write_bytes(rev, media_type.encode())
        if tag is not None:
            path = self._repo(name, "_manifests", "tags", tag)
            os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
            atomic.write_bytes(path, digest.encode())
        return digest

    def resolve(self, name: str, reference: str) -> str | None:
        """The digest a tag or digest reference names in `name`, or None."""
        if names.is_digest(reference):
            rev = self._repo(name, "_manifests", "revisions", names.digest_hex(reference))
            return reference if os.path.exists(rev) else None
        try:
            with open(self._repo(name, "_manifests", "tags", names.valid_tag(reference)), "rb") as f:
                return f.read().decode()
        except FileNotFoundError:
            return None

    def manifest(self, name: str, digest: str) -> tuple[bytes, str] | None:
        rev = self._repo(name, "_manifests", "revisions", names.digest_hex(digest))
        try:
            with open(rev, "rb") as f:
                media_type = f.read().decode()
            return self.read_blob(digest), media_type
        except FileNotFoundError:
            return None

    def has_manifest(self, name: str, digest: str) -> bool:
        return os.path.exists(self._repo(name, "_manifests", "revisions", names.digest_hex(digest)))

    def delete_tag(self, name: str, tag: str) -> bool:
        try:
            os.unlink(self._repo(name, "_manifests", "tags", names.valid_tag(tag)))
            return True
        except FileNotFoundError:
            return False

    def delete_manifest(self, name: str, digest: str) -> bool:
        """Remove a revision and every tag naming it (blobs stay: they may be shared)."""
        hexd = names.digest_hex(digest)
        for tag in self.tags(name):
            if self.resolve(name, tag) == digest:
                self.delete_tag(name, tag)
        try:
            os.unlink(self._repo(name, "_manifests", "revisions", hexd))
            return True
        except FileNotFoundError:
            return False

    def tags(self, name: str) -> list[str]:
        try:
            entries = os.listdir(self._repo(name, "_manifests", "tags"))
        except FileNotFoundError:
            return []
        return sorted(e for e in entries if not atomic.is_temp_name(e))

    def repository_exists(self, name: str) -> bool:
        return os.path.isdir(self._repo(name))

    def catalog(self) -> list[str]:
        found: list[str] = []
        for dirpath, dirnames, _ in os.walk(self.repo_dir):
            if "_manifests" in dirnames:
                found.append(os.path.relpath(dirpath, self.repo_dir))
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("_"))
        return sorted(found)
