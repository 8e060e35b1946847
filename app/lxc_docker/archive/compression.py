"""Detect a layer's compression from its first bytes and decompress it as a stream.

Docker sniffs magic bytes rather than trusting file names or Content-Type, because `docker import`,
`docker load` and registries hand us tarballs compressed any which way, or not at all.
"""

from __future__ import annotations

import bz2
import io
import lzma
import zlib
from collections.abc import Callable
from typing import BinaryIO

from lxc_docker.errors import ArchiveError

GZIP_MAGIC = b"\x1f\x8b\x08"
BZIP2_MAGIC = b"BZh"
# What follows "BZh" and the block-size digit: a block header (pi) or an end of stream (sqrt(pi)).
BZIP2_BLOCK_MAGICS = (b"1AY&SY", b"\x17rE8P")
XZ_MAGIC = b"\xfd7zXZ\x00"

# Enough to tell every supported format apart, including from a tar member named "BZh...".
HEAD_SIZE = 10

# Big reads amortize the per-call cost of the decompressors and of the Python layers above them.
CHUNK = 1 << 20


def detect(head: bytes) -> str:
    """Name the compression of a stream starting with `head`: gzip, bzip2, xz or none."""
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(BZIP2_MAGIC) and head[3:4] in b"123456789" and head[4:HEAD_SIZE] in BZIP2_BLOCK_MAGICS:
        return "bzip2"
    if head.startswith(XZ_MAGIC):
        return "xz"
    return "none"


class _Prefixed(io.RawIOBase):
    """A stream with bytes already read from it put back in front."""

    def __init__(self, head: bytes, raw: BinaryIO) -> None:
        self._head = head
        self._raw = raw

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self._head:
            if size is None or size < 0:
                data, self._head = self._head + self._raw.read(), b""
                return data
            data, self._head = self._head[:size], self._head[size:]
            return data
        return self._raw.read(size)

    def readinto(self, b) -> int:  # type: ignore[override]
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)


def _read_full(stream: BinaryIO, size: int) -> bytes:
    """Read up to `size` bytes, retrying short reads from pipes and sockets until EOF."""
    parts = []
    while size > 0:
        data = stream.read(size)
        if not data:
            break
        parts.append(data)
        size -= len(data)
    return b"".join(parts)


def _peek(stream: BinaryIO) -> tuple[bytes, BinaryIO]:
    """Return the first bytes of `stream` and a stream that still yields them."""
    peek = getattr(stream, "peek", None)
    if peek is not None:
        try:
            head = peek(HEAD_SIZE)[:HEAD_SIZE]
        except (OSError, ValueError):
            head = None
        # A buffered reader's peek may return fewer bytes than asked without being at EOF.
        if head is not None and len(head) >= HEAD_SIZE:
            return head, stream
    head = _read_full(stream, HEAD_SIZE)
    return head, _Prefixed(head, stream)


class _Decompressing(io.RawIOBase):
    """Read-only stream that decompresses a (possibly multi-member) compressed stream."""

    def __init__(self, raw: BinaryIO, kind: str, factory: Callable[[], object]) -> None:
        self._raw = raw
        self._kind = kind
        self._factory = factory
        self._dec = factory()
        self._pending = b""  # compressed input not yet fed to the decompressor
        self._eof = False

    def readable(self) -> bool:
        return True

    def _fail(self, why: object) -> ArchiveError:
        return ArchiveError(f"corrupt {self._kind} data: {why}")

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            return b"".join(iter(lambda: self.read(CHUNK), b""))
        if size == 0:
            return b""
        while not self._eof:
            data = self._step(size)
            if data:
                return data
        return b""

    def readinto(self, b) -> int:  # type: ignore[override]
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)

    def _step(self, size: int) -> bytes:
        dec = self._dec
        if dec.eof:  # type: ignore[attr-defined]
            rest = dec.unused_data + self._pending  # type: ignore[attr-defined]
            self._pending = b""
            if len(rest) < HEAD_SIZE:
                rest += _read_full(self._raw, HEAD_SIZE - len(rest))
            # Concatenated streams (pigz, pbzip2, `cat a.gz b.gz`) decompress to the concatenation;
            # anything else after the end of a stream is ignored, as gzip(1) does.
            if detect(rest) != self._kind:
                self._eof = True
                return b""
            self._dec = dec = self._factory()
            self._pending = rest
        if self._kind == "gzip":
            return self._step_zlib(dec, size)
        return self._step_other(dec, size)

    def _step_zlib(self, dec, size: int) -> bytes:
        data = dec.unconsumed_tail or self._pending
        self._pending = b""
        if not data:
            data = self._raw.read(CHUNK)
            if not data:
                # Output can still be held inside zlib when the last call stopped at max_length.
                tail = dec.decompress(b"", size)
                if tail or dec.eof:
                    return tail
                raise self._fail("unexpected end of stream")
        try:
            # max_length bounds memory: a tiny gzip bomb must not expand into one huge bytes object.
            return dec.decompress(data, size)
        except zlib.error as exc:
            raise self._fail(exc) from None

    def _step_other(self, dec, size: int) -> bytes:
        data = self._pending
        self._pending = b""
        if not data and dec.needs_input:
            data = self._raw.read(CHUNK)
            if not data:
                raise self._fail("unexpected end of stream")
        try:
            return dec.decompress(data, size)
        except (OSError, lzma.LZMAError, EOFError, ValueError) as exc:
            raise self._fail(exc) from None


_FACTORIES: dict[str, Callable[[], object]] = {
    # 16 + MAX_WBITS: expect a gzip header and trailer, and check the trailer's CRC32 and length.
    "gzip": lambda: zlib.decompressobj(16 + zlib.MAX_WBITS),
    "bzip2": bz2.BZ2Decompressor,
    "xz": lambda: lzma.LZMADecompressor(format=lzma.FORMAT_XZ),
}


def decompressed(stream: BinaryIO) -> BinaryIO:
    """Wrap `stream` so that reads return its decompressed bytes (or its bytes, if uncompressed).

    Works on non-seekable streams (sockets, pipes): the sniffed bytes are put back, not lost.
    Corrupt or truncated compressed data raises ArchiveError while reading.
    """
    head, stream = _peek(stream)
    kind = detect(head)
    if kind == "none":
        return stream
    return _Decompressing(stream, kind, _FACTORIES[kind])  # type: ignore[return-value]
