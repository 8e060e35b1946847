"""Blob transfer: a download verified against its digest while it streams, resumed once with a Range
request when the connection drops; and the reader that gives a layer to the storage driver while
computing its diff_id (sha256 of the uncompressed tar), so that a layer cannot lie about the id it gets.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any, BinaryIO

import requests
import urllib3

from ..archive.compression import decompressed
from ..errors import DockerError
from .session import RegistryError, Session

CHUNK = 1 << 20
Report = Callable[[int], None]


class VerificationError(DockerError):
    status = 500


class LayerReader:
    """A downloaded layer as the storage driver reads it: decompressed here (gzip, bzip2, xz or plain)
    and hashed on the way, so the diff_id is checked without a second pass over the data."""

    def __init__(self, raw: BinaryIO) -> None:
        self._src = decompressed(raw)
        self._sha = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self._src.read(size)
        self._sha.update(data)
        return data

    def readinto(self, b: Any) -> int:
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)

    def diff_id(self) -> str:
        """sha256 of the whole uncompressed layer (what the extractor left unread is read first)."""
        while self.read(CHUNK):
            pass
        return "sha256:" + self._sha.hexdigest()


def download(
    session: Session, repo: str, digest: str, size: int, out: BinaryIO, report: Report, what: str
) -> None:
    """Fetch blob `digest` of `repo` into `out`, verified against the digest while it streams."""
    sha = hashlib.sha256()
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
                sha, got = hashlib.sha256(), 0
            try:
                for chunk in resp.iter_content(CHUNK):
                    if got + len(chunk) > size:
                        raise VerificationError(f"{what} {digest}: the registry sent more than {size} bytes")
                    sha.update(chunk)
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


def fetch_small(session: Session, repo: str, digest: str, size: int, what: str, limit: int) -> bytes:
    """A small blob (an image config) in memory, verified."""
    if size > limit:
        raise VerificationError(f"{what} {digest} is too large ({size} bytes)")
    import io

    buf = io.BytesIO()
    download(session, repo, digest, size, buf, lambda _n: None, what)
    return buf.getvalue()
