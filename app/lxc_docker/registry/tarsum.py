"""TarSum (`tarsum+sha256:` v0, `tarsum.v1+sha256:`), the checksum Docker 0.9-1.x computed over a layer's
tar entries plus the image json and listed on the index; used when a v1 registry or index names no
payload checksum for a layer.

The algorithm (Docker's tarsum_spec.md): each entry is hashed as its selected header fields, written
as `key + value` with no separator, in the order name, mode, uid, gid, size, mtime (v0 only),
typeflag, linkname, uname, gname, devmajor, devminor, then (v1) its xattrs sorted by key, followed
by the entry's data; the final sum is sha256 over the extra payload (the image json) then every
entry's hex digest, sorted. The header values are those Go's archive/tar reader gives, so the tar is
read here block by block rather than through `tarfile` (which strips a directory's trailing slash
and turns an old-style regular file's type into `0`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

BLOCK = 512
MAX_META = 1 << 20  # a GNU long name or a pax header larger than this is not a real layer's


class TarSumError(ValueError):
    pass


@dataclass
class Header:
    name: str = ""
    mode: int = 0
    uid: int = 0
    gid: int = 0
    size: int = 0
    mtime: int = 0
    typeflag: bytes = b"0"
    linkname: str = ""
    uname: str = ""
    gname: str = ""
    devmajor: int = 0
    devminor: int = 0
    xattrs: dict[str, str] = field(default_factory=dict)


def header_bytes(h: Header, version: str) -> bytes:
    """The selected headers of one entry as the spec writes them into the entry's hash."""
    items: list[tuple[str, str]] = [
        ("name", h.name),
        ("mode", str(h.mode)),
        ("uid", str(h.uid)),
        ("gid", str(h.gid)),
        ("size", str(h.size)),
    ]
    if version == "tarsum":
        items.append(("mtime", str(h.mtime)))
    items.append(("typeflag", h.typeflag.decode("latin-1")))
    items += [("linkname", h.linkname), ("uname", h.uname), ("gname", h.gname)]
    items += [("devmajor", str(h.devmajor)), ("devminor", str(h.devminor))]
    if version != "tarsum":
        items += sorted(h.xattrs.items())
    return b"".join(
        k.encode("utf-8", "surrogateescape") + v.encode("utf-8", "surrogateescape") for k, v in items
    )


def split_label(checksum: str) -> tuple[str, str]:
    """("tarsum" | "tarsum.v1" | "tarsum.dev", hex) of a `tarsum...+sha256:hex`; ValueError otherwise."""
    label, _, digest = checksum.partition(":")
    version, _, algo = label.partition("+")
    if version not in ("tarsum", "tarsum.v1", "tarsum.dev") or algo != "sha256" or len(digest) != 64:
        raise ValueError(f"not a tarsum this engine computes: {checksum[:40]!r}")
    return version, digest


def compute(tar: BinaryIO, extra: bytes, version: str = "tarsum") -> str:
    """The tarsum of an uncompressed tar stream, with `extra` (the image json) hashed first."""
    sums = []
    for h, data in _entries(tar):
        digest = hashlib.sha256(header_bytes(h, version))
        for chunk in data:
            digest.update(chunk)
        sums.append(digest.hexdigest())
    final = hashlib.sha256(extra)
    for s in sorted(sums):  # equal sums (the same entry twice) are equal strings: order is moot
        final.update(s.encode())
    return f"{version}+sha256:{final.hexdigest()}"


# -- a tar reader that keeps Go's header values ---------------------------------------------------


def _num(field_: bytes) -> int:
    if field_ and field_[0] & 0x80:  # base-256 (GNU) for values octal cannot hold
        value = int.from_bytes(field_[1:], "big")
        if field_[0] & 0x40:  # negative
            value -= 1 << (8 * (len(field_) - 1) + 6)
        return value
    text = field_.split(b"\0", 1)[0].strip(b" \0")
    try:
        return int(text, 8) if text else 0
    except ValueError:
        raise TarSumError(f"invalid numeric field {field_!r} in a tar header") from None


def _str(field_: bytes) -> str:
    return field_.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


def _read_exact(f: BinaryIO, n: int) -> bytes:
    out = bytearray()
    while len(out) < n:
        chunk = f.read(n - len(out))
        if not chunk:
            raise TarSumError("the layer ends inside a tar entry")
        out += chunk
    return bytes(out)


def _skip_padding(f: BinaryIO, size: int) -> None:
    if size % BLOCK:
        _read_exact(f, BLOCK - size % BLOCK)


def _pax(data: bytes) -> dict[str, str]:
    records: dict[str, str] = {}
    while data:
        length, sep, _ = data.partition(b" ")
        if not sep or not length.isdigit() or int(length) > len(data) or int(length) < len(length) + 2:
            raise TarSumError("invalid pax header")
        record, data = data[len(length) + 1 : int(length) - 1], data[int(length) :]
        key, _, value = record.partition(b"=")
        records[key.decode("utf-8", "surrogateescape")] = value.decode("utf-8", "surrogateescape")
    return records


def _entries(f: BinaryIO) -> Iterator[tuple[Header, Iterator[bytes]]]:
    long_name = long_link = None
    pax: dict[str, str] = {}
    while True:
        block = f.read(BLOCK)
        if len(block) < BLOCK:
            if not block:
                return  # a tar without its end blocks: what was read counts, as in Go
            block += _read_exact(f, BLOCK - len(block))
        if block == bytes(BLOCK):
            return
        typeflag = block[156:157]
        size = _num(block[124:136])
        if typeflag in (b"L", b"K", b"x"):
            if size > MAX_META:
                raise TarSumError("a tar meta header is too large")
            data = _read_exact(f, size)
            _skip_padding(f, size)
            if typeflag == b"L":
                long_name = _str(data)
            elif typeflag == b"K":
                long_link = _str(data)
            else:
                pax = _pax(data)
            continue
        h = Header(
            name=_str(block[0:100]),
            mode=_num(block[100:108]),
            uid=_num(block[108:116]),
            gid=_num(block[116:124]),
            size=size,
            mtime=_num(block[136:148]),
            typeflag=typeflag,
            linkname=_str(block[157:257]),
        )
        magic = block[257:265]
        if magic[:6] in (b"ustar\0", b"ustar "):
            h.uname, h.gname = _str(block[265:297]), _str(block[297:329])
            h.devmajor, h.devminor = _num(block[329:337]), _num(block[337:345])
            if magic == b"ustar\x0000" and _str(block[345:500]):
                h.name = _str(block[345:500]) + "/" + h.name
        if long_name is not None:
            h.name = long_name
        if long_link is not None:
            h.linkname = long_link
        _apply_pax(h, pax)
        long_name = long_link = None
        pax = {}
        yield h, _data(f, h.size)


def _apply_pax(h: Header, pax: dict[str, str]) -> None:
    for key, value in pax.items():
        if key == "path":
            h.name = value
        elif key == "linkpath":
            h.linkname = value
        elif key in ("uname", "gname"):
            setattr(h, key, value)
        elif key in ("uid", "gid", "size") and value.isdigit():
            setattr(h, key, int(value))
        elif key == "mtime":
            try:
                h.mtime = int(float(value) // 1)
            except ValueError:
                raise TarSumError("invalid pax mtime") from None
        elif key.startswith("SCHILY.xattr."):
            h.xattrs[key[len("SCHILY.xattr.") :]] = value


def _data(f: BinaryIO, size: int) -> Iterator[bytes]:
    left = size
    while left:
        chunk = f.read(min(left, 1 << 20))
        if not chunk:
            raise TarSumError("the layer ends inside a tar entry")
        left -= len(chunk)
        yield chunk
    _skip_padding(f, size)
