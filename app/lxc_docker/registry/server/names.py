"""What the registry accepts from a URL or a header, checked before anything touches the disk.

Every name component matches `[a-z0-9]+(?:[._-][a-z0-9]+)*`, so no component is empty, `.` or `..`
and none holds a slash: a validated name joined under the store's root cannot leave it.
"""

from __future__ import annotations

import re

_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*\Z")
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}\Z")
_IMAGE_ID = re.compile(r"[a-f0-9]{64}\Z")
_DIGEST = re.compile(r"sha256:([a-f0-9]{64})\Z")
_UUID = re.compile(r"[a-f0-9]{32}\Z")
MAX_NAME = 255


class NameError_(ValueError):
    """A repository name, tag, id or digest the registry refuses."""


def valid_repository(name: str) -> str:
    """Return `name` ("a/b/c", lower case components) or raise NameError_."""
    if not name or len(name) > MAX_NAME:
        raise NameError_(f"invalid repository name length: {len(name)}")
    for part in name.split("/"):
        if not _COMPONENT.match(part):
            raise NameError_(f"invalid repository name component: {part!r}")
    return name


def valid_tag(tag: str) -> str:
    if not _TAG.match(tag):
        raise NameError_(f"invalid tag: {tag!r}")
    return tag


def valid_image_id(image_id: str) -> str:
    if not _IMAGE_ID.match(image_id):
        raise NameError_(f"invalid image id: {image_id!r}")
    return image_id


def digest_hex(digest: str) -> str:
    """The hex of a `sha256:<64 hex>` digest; other algorithms are refused (the store keys by sha256)."""
    m = _DIGEST.match(digest)
    if not m:
        raise NameError_(f"invalid or unsupported digest: {digest!r}")
    return m.group(1)


def is_digest(reference: str) -> bool:
    return ":" in reference


def valid_upload_id(upload_id: str) -> str:
    if not _UUID.match(upload_id):
        raise NameError_(f"invalid upload id: {upload_id!r}")
    return upload_id


class RangeError(ValueError):
    """A Range or Content-Range header that cannot be satisfied or parsed."""


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """Parse a request `Range: bytes=...` against a blob of `size` bytes.

    Returns (first, last) inclusive, or None for "the whole blob" (no header). A single range only,
    as registries serve; `bytes=N-`, `bytes=N-M` (M clamped to the end) and `bytes=-N` (the suffix).
    """
    if not header:
        return None
    unit, _, spec = header.strip().partition("=")
    if unit.strip().lower() != "bytes" or not spec or "," in spec:
        raise RangeError(f"unsupported range: {header!r}")
    first_text, sep, last_text = spec.strip().partition("-")
    if not sep:
        raise RangeError(f"malformed range: {header!r}")
    if not first_text:
        if not last_text.isdigit() or int(last_text) == 0:
            raise RangeError(f"malformed range: {header!r}")
        suffix = min(int(last_text), size)
        if size == 0:
            raise RangeError("range of an empty blob")
        return size - suffix, size - 1
    if not first_text.isdigit() or (last_text and not last_text.isdigit()):
        raise RangeError(f"malformed range: {header!r}")
    first = int(first_text)
    last = int(last_text) if last_text else size - 1
    if first >= size or last < first:
        raise RangeError(f"range not satisfiable: {header!r} of {size} bytes")
    return first, min(last, size - 1)


def parse_content_range(header: str) -> tuple[int, int]:
    """Parse a chunk upload's `Content-Range: <start>-<end>` (inclusive; `bytes ` prefix tolerated)."""
    text = header.strip()
    if text.lower().startswith("bytes "):
        text = text[6:].strip()
    text = text.split("/", 1)[0]
    first, sep, last = text.partition("-")
    if not sep or not first.isdigit() or not last.isdigit() or int(last) < int(first):
        raise RangeError(f"malformed Content-Range: {header!r}")
    return int(first), int(last)
