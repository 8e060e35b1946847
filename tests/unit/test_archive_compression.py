"""Compression sniffing and streaming decompression of layer tarballs."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import random

import pytest

from lxc_docker.archive.compression import decompressed, detect
from lxc_docker.errors import ArchiveError

PAYLOAD = random.Random(1).randbytes(300_000) + b"tar-ish text " * 50_000

COMPRESSORS = {
    "gzip": gzip.compress,
    "bzip2": bz2.compress,
    "xz": lzma.compress,
}


class Trickle(io.RawIOBase):
    """A non-seekable stream without peek() that returns a few bytes per read, like a slow pipe."""

    def __init__(self, data: bytes, step: int = 7) -> None:
        self._data = memoryview(data)
        self._pos = 0
        self._step = step

    def readable(self) -> bool:
        return True

    def readinto(self, buf) -> int:
        n = min(len(buf), self._step, len(self._data) - self._pos)
        buf[:n] = self._data[self._pos : self._pos + n]
        self._pos += n
        return n


def read_all(stream) -> bytes:
    parts = []
    while True:
        data = stream.read(65536)
        if not data:
            return b"".join(parts)
        parts.append(data)


@pytest.mark.parametrize("kind", sorted(COMPRESSORS))
def test_detect_by_magic_bytes(kind):
    assert detect(COMPRESSORS[kind](b"hello")[:10]) == kind


def test_detect_plain_tar_and_short_input():
    assert detect(b"bin/\0\0\0\0\0\0") == "none"
    assert detect(b"") == "none"
    assert detect(b"\x1f") == "none"


def test_a_tar_member_named_like_bzip2_magic_is_not_bzip2():
    assert detect(b"BZh9-notes.txt\0") == "none"


@pytest.mark.parametrize("kind", sorted(COMPRESSORS))
def test_decompressed_round_trip(kind):
    stream = decompressed(io.BytesIO(COMPRESSORS[kind](PAYLOAD)))
    assert read_all(stream) == PAYLOAD


@pytest.mark.parametrize("kind", [*sorted(COMPRESSORS), "none"])
def test_sniffing_a_non_seekable_stream_loses_no_bytes(kind):
    data = COMPRESSORS[kind](PAYLOAD) if kind != "none" else PAYLOAD
    stream = decompressed(Trickle(data, step=3))
    assert read_all(stream) == PAYLOAD


def test_plain_buffered_stream_is_returned_as_is():
    raw = io.BufferedReader(io.BytesIO(PAYLOAD))
    assert decompressed(raw) is raw
    assert raw.read() == PAYLOAD


def test_concatenated_gzip_members_decompress_to_the_concatenation():
    data = gzip.compress(b"first ") + gzip.compress(b"second")
    assert read_all(decompressed(io.BytesIO(data))) == b"first second"


def test_trailing_zero_padding_after_gzip_is_ignored():
    data = gzip.compress(PAYLOAD) + bytes(512)
    assert read_all(decompressed(io.BytesIO(data))) == PAYLOAD


def test_read_sizes_are_bounded_even_for_highly_compressible_data():
    stream = decompressed(io.BytesIO(gzip.compress(bytes(50 << 20))))
    chunk = stream.read(4096)
    assert len(chunk) == 4096


@pytest.mark.parametrize("kind", sorted(COMPRESSORS))
def test_truncated_compressed_stream_raises_archive_error(kind):
    data = COMPRESSORS[kind](PAYLOAD)
    with pytest.raises(ArchiveError, match=f"corrupt {kind} data"):
        read_all(decompressed(io.BytesIO(data[: len(data) // 2])))


@pytest.mark.parametrize("kind", sorted(COMPRESSORS))
def test_corrupted_compressed_stream_raises_archive_error(kind):
    data = bytearray(COMPRESSORS[kind](PAYLOAD))
    middle = len(data) // 2
    data[middle : middle + 16] = bytes(b ^ 0x5A for b in data[middle : middle + 16])
    with pytest.raises(ArchiveError, match=f"corrupt {kind} data"):
        read_all(decompressed(io.BytesIO(bytes(data))))


def test_gzip_crc_mismatch_raises_archive_error():
    data = bytearray(gzip.compress(PAYLOAD))
    data[-8] ^= 0xFF  # the CRC32 in the trailer
    with pytest.raises(ArchiveError, match="corrupt gzip data"):
        read_all(decompressed(io.BytesIO(bytes(data))))
