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


def resumable_get(
    send: Callable[[dict[str, str]], requests.Response],
    out: BinaryIO,
    size: int,
    new_hash: Callable[[], Any],
    accept: Callable[[requests.Response], None],
    progress: Callable[[int, int], None],
    label: str,
    interrupted_label: str = "",
    chunk_size: int = CHUNK,
) -> tuple[Any, int, int]:
    """GET a blob into `out` (`send(headers)` makes the request), hashing it as it streams; returns
    the hash, the bytes got and the size. `size` < 0 is unknown: the first answer's Content-Length,
    if any, is taken. `accept` raises the error a status means. A dropped connection or a short
    answer is resumed once with a Range request; a registry that ignores the Range is read again
    from the start. v1 and v2 layers both come this way; errors name `label` (`interrupted_label`
    for a transfer cut twice)."""
    h = new_hash()
    got, attempts = 0, 0
    interrupted_label = interrupted_label or label
    while True:
        resp = send({"Range": f"bytes={got}-"} if got else {})
        try:
            accept(resp)
            if got and resp.status_code != 206:  # the registry ignored the Range: start over
                out.seek(0)
                out.truncate()
                h, got = new_hash(), 0
            if size < 0 and not got and resp.headers.get("Content-Length", "").isdigit():
                size = int(resp.headers["Content-Length"])
            try:
                for chunk in resp.iter_content(chunk_size):
                    if size >= 0 and got + len(chunk) > size:
                        raise VerificationError(f"{label}: the registry sent more than {size} bytes")
                    h.update(chunk)
                    out.write(chunk)
                    got += len(chunk)
                    progress(got, size)
            except VerificationError:
                raise
            except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as e:
                # A dropped connection, whichever layer noticed it: resume once.
                if attempts >= 1:
                    raise RegistryError(
                        f"{interrupted_label}: transfer interrupted after {got} bytes: {e}"
                    ) from None
                attempts += 1
                continue
        finally:
            resp.close()
        if size >= 0 and got < size:
            if attempts >= 1:
                raise RegistryError(f"{interrupted_label}: transfer interrupted after {got} of {size} bytes")
            attempts += 1
            continue
        return h, got, size


def download(
    session: Session, repo: str, digest: str, size: int, out: BinaryIO, report: Report, what: str
) -> None:
    """Fetch blob `digest` of `repo` into `out`, verified against the digest while it streams."""

    def send(headers: dict[str, str]) -> requests.Response:
        return session.request(
            "GET",
            f"/v2/{repo}/blobs/{digest}",
            scopes=[f"repository:{repo}:pull"],
            stream=True,
            headers=headers,
        )

    def accept(resp: requests.Response) -> None:
        if resp.status_code not in (200, 206):
            raise RegistryError(f"fetch {what} {digest}: HTTP status {resp.status_code}")

    sha, _, _ = resumable_get(
        send,
        out,
        size,
        hashlib.sha256,
        accept,
        lambda got, _size: report(got),
        f"{what} {digest}",
        f"fetch {what} {digest}",
    )
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
