"""Blob transfer: a download verified against its digest while it streams, resumed once with a Range
request when the connection drops, and the layer's diff_id (sha256 of the uncompressed tar)
computed on the way so that a layer cannot lie about the id it gets.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Callable
from typing import Any, BinaryIO

import requests
import urllib3

from ..errors import DockerError
from .session import RegistryError, Session

CHUNK = 1 << 20
Report = Callable[[int], None]


class VerificationError(DockerError):
    status = 500


class DiffHasher:
    """sha256 of the uncompressed stream of a gzip or plain tar layer (None for other compressions)."""

    def __init__(self) -> None:
        self._head = b""
        self._kind = ""
        self._sha = hashlib.sha256()
        self._z: Any = None

    def update(self, data: bytes) -> None:
        if not self._kind:
            self._head += data
            if len(self._head) < 3:
                return
            data, self._head = self._head, b""
            if data.startswith(b"\x1f\x8b\x08"):
                self._kind, self._z = "gzip", zlib.decompressobj(16 + zlib.MAX_WBITS)
            elif data.startswith((b"BZh", b"\xfd7zXZ")):
                self._kind = "other"
            else:
                self._kind = "none"
        if self._kind == "none":
            self._sha.update(data)
        elif self._kind == "gzip":
            try:
                self._inflate(data)
            except zlib.error:
                # Corrupt data: the digest check names the layer; if the digest matched, the
                # diff_id comparison fails on this marker.
                self._kind = "broken"

    def _inflate(self, data: bytes) -> None:
        while data:
            self._sha.update(self._z.decompress(data))
            if self._z.eof:  # a concatenated gzip member follows
                data = self._z.unused_data
                self._z = zlib.decompressobj(16 + zlib.MAX_WBITS) if data else self._z
            else:
                data = b""

    def hexdigest(self) -> str | None:
        if self._head:
            self._kind = "none"
            self._sha.update(self._head)
            self._head = b""
        if self._kind == "other":
            return None
        if self._kind == "broken":
            return "(not a valid gzip stream)"
        if self._kind == "gzip":
            self._sha.update(self._z.flush())
        return "sha256:" + self._sha.hexdigest()


def download(
    session: Session, repo: str, digest: str, size: int, out: BinaryIO, report: Report, what: str
) -> str | None:
    """Fetch blob `digest` of `repo` into `out`, verified; returns its diff_id (see DiffHasher)."""
    sha, diff = hashlib.sha256(), DiffHasher()
    got, attempts = 0, 0
    while True:
        headers = {"Range": f"bytes={got}-"} if got else {}
        resp = session.request(
            "GET",
            f"/v2/{repo}/blobs/{digest}",
            scopes=[f"repository:{repo}:pull"],
            stream=True,
            headers=headers,
        )
        try:
            if resp.status_code not in (200, 206):
                raise RegistryError(f"fetch {what} {digest}: HTTP status {resp.status_code}")
            if got and resp.status_code == 200:  # the registry ignored the Range: start over
                out.seek(0)
                out.truncate()
                sha, diff, got = hashlib.sha256(), DiffHasher(), 0
            try:
                for chunk in resp.iter_content(CHUNK):
                    if got + len(chunk) > size:
                        raise VerificationError(f"{what} {digest}: the registry sent more than {size} bytes")
                    sha.update(chunk)
                    diff.update(chunk)
                    out.write(chunk)
                    got += len(chunk)
                    report(got)
            except VerificationError:
                raise
            except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as e:
                # A dropped connection, whichever layer noticed it: resume once.
                if attempts >= 1:
                    raise RegistryError(
                        f"fetch {what} {digest}: transfer interrupted after {got} bytes: {e}"
                    ) from None
                attempts += 1
                continue
        finally:
            resp.close()
        if got < size:
            if attempts >= 1:
                raise RegistryError(
                    f"fetch {what} {digest}: transfer interrupted after {got} of {size} bytes"
                )
            attempts += 1
            continue
        break
    if "sha256:" + sha.hexdigest() != digest:
        raise VerificationError(
            f"filesystem layer verification failed for digest {digest}"
            if what == "layer"
            else f"{what} verification failed for digest {digest}"
        )
    return diff.hexdigest()


def fetch_small(session: Session, repo: str, digest: str, size: int, what: str, limit: int) -> bytes:
    """A small blob (an image config) in memory, verified."""
    if size > limit:
        raise VerificationError(f"{what} {digest} is too large ({size} bytes)")
    import io

    buf = io.BytesIO()
    download(session, repo, digest, size, buf, lambda _n: None, what)
    return buf.getvalue()
