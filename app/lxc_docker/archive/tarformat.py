"""The tar format itself: parse headers from a stream (ustar, GNU, PAX) and write them (ustar + PAX).

Our own parser rather than tarfile: it streams member content straight from large buffers to file
descriptors, reads header fields once, and reports every malformation as ArchiveError.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Iterator
from typing import BinaryIO

from lxc_docker.errors import ArchiveError

BLOCK = 512
CHUNK = 1 << 20
ZERO_BLOCK = bytes(BLOCK)

# PAX headers and GNU long names are held in memory; real ones are at most a few KiB (xattrs <= 64K).
MAX_META_SIZE = 8 << 20

REG_TYPES = (b"0", b"\0", b"7")


def show(name: bytes) -> str:
    """A member name for an error message, whatever bytes it holds."""
    return name.decode("utf-8", "backslashreplace")


def _truncated() -> ArchiveError:
    return ArchiveError("unexpected end of archive (truncated tar)")


class Reader:
    """Buffered reader of a tar stream that hands member content out in large slices."""

    __slots__ = ("_read", "_buf", "_mv", "_pos")

    def __init__(self, stream: BinaryIO) -> None:
        self._read = stream.read
        self._buf = b""
        self._mv = memoryview(b"")
        self._pos = 0

    def _refill(self) -> bool:
        data = self._read(CHUNK)
        if not data:
            return False
        if type(data) is not bytes:
            # Slices of the buffer outlive the next read (writer threads): it must be immutable.
            data = bytes(data)
        self._buf = data
        self._mv = memoryview(data)
        self._pos = 0
        return True

    def take(self, size: int) -> bytes | None:
        """Read exactly `size` bytes; None if the stream ends cleanly before the first byte."""
        pos = self._pos
        end = pos + size
        if end <= len(self._buf):
            self._pos = end
            return self._buf[pos:end]
        parts = [self._buf[pos:]]
        have = len(parts[0])
        self._pos = len(self._buf)
        while have < size:
            if not self._refill():
                if have == 0:
                    return None
                raise _truncated()
            n = min(size - have, len(self._buf))
            parts.append(self._buf[:n])
            self._pos = n
            have += n
        return b"".join(parts)

    def view(self, size: int) -> memoryview | bytes:
        """The next `size` bytes, without copying them when they are already buffered."""
        pos = self._pos
        if pos + size <= len(self._buf):
            self._pos = pos + size
            return self._mv[pos : pos + size]
        data = self.take(size)
        if data is None:
            raise _truncated()
        return data

    def copy(self, fd: int, size: int) -> None:
        """Write the next `size` bytes to `fd`."""
        while size:
            pos = self._pos
            avail = len(self._buf) - pos
            if not avail:
                if not self._refill():
                    raise _truncated()
                continue
            n = size if size < avail else avail
            write_all(fd, self._mv[pos : pos + n])
            self._pos = pos + n
            size -= n

    def skip(self, size: int) -> None:
        while size:
            avail = len(self._buf) - self._pos
            if not avail:
                if not self._refill():
                    raise _truncated()
                continue
            n = size if size < avail else avail
            self._pos += n
            size -= n

    def drain(self) -> None:
        # Reading to the end makes a decompressor check its trailer (gzip CRC and length).
        self._pos = len(self._buf)
        while self._refill():
            pass


def write_all(fd: int, data) -> None:
    written = os.write(fd, data)
    while written < len(data):
        written += os.write(fd, data[written:])


def parse_number(field: bytes) -> int:
    """A numeric header field: octal text, or GNU base-256 binary."""
    try:
        return int(field.rstrip(b"\0"), 8)
    except ValueError:
        pass
    if field[:1] and field[0] & 0x80:
        # GNU base-256: big-endian, 0x80 marks positive, 0xff negative (two's complement).
        if field[0] == 0xFF:
            return int.from_bytes(field, "big", signed=True)
        return int.from_bytes(bytes([field[0] & 0x7F]) + field[1:], "big")
    digits = field.split(b"\0", 1)[0].strip(b" ")
    if not digits:
        return 0
    try:
        return int(digits, 8)
    except ValueError:
        raise ArchiveError(f"invalid tar header: bad number {field!r}") from None


def _checksum_ok(block: bytes) -> bool:
    try:
        stored = parse_number(block[148:156])
    except ArchiveError:
        return False
    # The byte sum the block must have, its checksum field counted as eight spaces.
    expected = stored - 8 * 32 + sum(block[148:156])
    # Adler-32's low half is 1 + that sum mod 65521, computed in C: ten times faster than sum(),
    # which matters at 10,000 headers. A sum 65521 off would pass: as unlikely as a random match.
    if zlib.adler32(block) & 0xFFFF == (1 + expected) % 65521:
        return True
    # Some old tars (Sun, early GNU) summed signed chars.
    signed = sum(struct.unpack("512b", block)) - sum(struct.unpack("8b", block[148:156])) + 8 * 32
    return stored == signed


def _pax_time(value: bytes) -> int:
    """PAX decimal seconds ("1234.5", "-1.25") to nanoseconds."""
    text = value.decode("ascii", "replace")
    negative = text.startswith("-")
    whole, _, frac = text.lstrip("-").partition(".")
    try:
        ns = int(whole or "0") * 1_000_000_000 + int((frac + "000000000")[:9])
    except ValueError:
        raise ArchiveError(f"invalid PAX time {text!r}") from None
    return -ns if negative else ns


def _parse_pax(data: bytes) -> dict[bytes, bytes]:
    records: dict[bytes, bytes] = {}
    pos = 0
    while pos < len(data) and data[pos] != 0:
        space = data.find(b" ", pos)
        try:
            length = int(data[pos:space])
        except ValueError:
            length = 0
        if space < 0 or length <= space - pos or pos + length > len(data):
            raise ArchiveError("invalid PAX extended header")
        record = data[space + 1 : pos + length]
        if not record.endswith(b"\n") or b"=" not in record:
            raise ArchiveError("invalid PAX extended header")
        key, _, value = record[:-1].partition(b"=")
        records[key] = value
        pos += length
    return records


class Member:
    """One tar entry with its GNU long-name and PAX overrides applied; times in nanoseconds."""

    __slots__ = (
        "name", "type", "mode", "uid", "gid", "size", "mtime", "atime", "linkname",
        "devmajor", "devminor", "xattrs",
    )  # fmt: skip

    def __init__(self, block: bytes, pax: dict[bytes, bytes], longname: bytes | None, longlink):
        num = parse_number
        name = block[:100].split(b"\0", 1)[0]
        magic = block[257:265]
        if magic[:6] == b"ustar\0":
            prefix = block[345:500].split(b"\0", 1)[0]
            if prefix:
                name = prefix + b"/" + name
        self.type = kind = block[156:157]
        try:
            # Inline octal parsing first: this runs once per member, ten thousand times a layer.
            mode = int(block[100:108].rstrip(b"\0"), 8)
            self.uid = int(block[108:116].rstrip(b"\0"), 8)
            self.gid = int(block[116:124].rstrip(b"\0"), 8)
            self.size = int(block[124:136].rstrip(b"\0"), 8)
            mtime = int(block[136:148].rstrip(b"\0"), 8)
        except ValueError:
            mode = num(block[100:108])
            self.uid = num(block[108:116])
            self.gid = num(block[116:124])
            self.size = num(block[124:136])
            mtime = num(block[136:148])
        self.mode = mode & 0o7777
        self.mtime = mtime * 1_000_000_000
        self.atime = None
        if magic == b"ustar  \0":  # old GNU format keeps atime where ustar has its prefix
            atime = num(block[345:357])
            if atime:
                self.atime = atime * 1_000_000_000
        self.linkname = block[157:257].split(b"\0", 1)[0]
        if kind == b"3" or kind == b"4":
            self.devmajor = num(block[329:337])
            self.devminor = num(block[337:345])
        else:
            self.devmajor = self.devminor = 0
        self.xattrs: dict[bytes, bytes] | None = None
        if longname is not None:
            name = longname
        if longlink is not None:
            self.linkname = longlink
        if pax:
            name = self._apply_pax(pax, name)
        # Old tars mark directories only with a trailing slash.
        if (kind == b"\0" or kind == b"0") and name.endswith(b"/"):
            self.type = b"5"
        self.name = name
        if self.size < 0:
            raise ArchiveError(f"{show(name)}: invalid tar header: negative size")

    def _apply_pax(self, pax: dict[bytes, bytes], name: bytes) -> bytes:
        for key, value in pax.items():
            if key == b"path":
                name = value
            elif key == b"linkpath":
                self.linkname = value
            elif key in (b"size", b"uid", b"gid"):
                try:
                    setattr(self, key.decode(), int(value))
                except ValueError:
                    raise ArchiveError(f"invalid PAX {key.decode()} {value!r}") from None
            elif key == b"mtime":
                self.mtime = _pax_time(value)
            elif key == b"atime":
                self.atime = _pax_time(value)
            elif key.startswith(b"SCHILY.xattr."):
                if self.xattrs is None:
                    self.xattrs = {}
                self.xattrs[key[13:]] = value
            elif key.startswith(b"GNU.sparse."):
                raise ArchiveError(f"{show(name)}: sparse files are not supported")
        return name


def members(reader: Reader) -> Iterator[Member]:
    """The entries of a tar stream, GNU long names and PAX headers folded into them.

    The caller must consume each member's content (and padding) before asking for the next one.
    """
    pax: dict[bytes, bytes] = {}
    longname = longlink = None
    while True:
        block = reader.take(BLOCK)
        if block is None or block == ZERO_BLOCK:
            # A clean end of stream without the two zero blocks is accepted, as Go's reader does.
            if longname is not None or longlink is not None or pax:
                raise ArchiveError("unexpected end of archive after an extended header")
            return
        if not _checksum_ok(block):
            raise ArchiveError("invalid tar header (bad checksum): not a tar archive, or corrupt")
        kind = block[156:157]
        if kind in (b"L", b"K", b"x", b"g"):
            size = parse_number(block[124:136])
            if not 0 <= size <= MAX_META_SIZE:
                raise ArchiveError(f"tar extended header too large ({size} bytes)")
            data = reader.take(size) if size else b""
            if data is None:
                raise _truncated()
            reader.skip(-size % BLOCK)
            if kind == b"L":
                longname = data.split(b"\0", 1)[0]
            elif kind == b"K":
                longlink = data.split(b"\0", 1)[0]
            elif kind == b"x":
                pax.update(_parse_pax(data))
            # Global PAX headers ("g") are ignored, as Docker does.
            continue
        member = Member(block, pax, longname, longlink)
        pax = {}
        longname = longlink = None
        yield member


# --- writing ---------------------------------------------------------------------------------

_OCTAL_MAX = {8: 0o7777777, 12: 0o77777777777}


def _octal(value: int, width: int) -> bytes:
    if 0 <= value <= _OCTAL_MAX[width]:
        return b"%0*o\0" % (width - 1, value)
    # GNU base-256, for device numbers, which PAX has no standard key for.
    return bytes([0x80]) + (value & ((1 << (8 * (width - 1))) - 1)).to_bytes(width - 1, "big")


def _pax_record(key: bytes, value: bytes) -> bytes:
    body = b" %s=%s\n" % (key, value)
    length = len(body) + 1
    while len(b"%d" % length) + len(body) != length:
        length += 1
    return b"%d%s" % (length, body)


class Writer:
    """Tar headers and content to a write-only stream (a pipe or socket: it never seeks)."""

    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self._buf = bytearray()

    def put(self, data) -> None:
        self._buf += data
        if len(self._buf) >= CHUNK:
            self.flush()

    def flush(self) -> None:
        if self._buf:
            self._out.write(self._buf)
            self._buf = bytearray()

    def header(
        self,
        name: bytes,
        kind: bytes,
        *,
        mode: int = 0o644,
        uid: int = 0,
        gid: int = 0,
        size: int = 0,
        mtime: int = 0,
        linkname: bytes = b"",
        dev: tuple[int, int] = (0, 0),
        xattrs: dict[bytes, bytes] | None = None,
    ) -> None:
        """Write one header (preceded by a PAX header for what ustar cannot hold)."""
        pax = []
        # PAX rather than GNU long names, as Go's archive/tar (and so Docker) writes them.
        if len(name) > 100:
            pax.append(_pax_record(b"path", name))
        if len(linkname) > 100:
            pax.append(_pax_record(b"linkpath", linkname))
        numbers = ((b"uid", uid, 8), (b"gid", gid, 8), (b"size", size, 12), (b"mtime", mtime, 12))
        for key, value, width in numbers:
            if not 0 <= value <= _OCTAL_MAX[width]:
                pax.append(_pax_record(key, b"%d" % value))
        for key, value in sorted((xattrs or {}).items()):
            pax.append(_pax_record(b"SCHILY.xattr." + key, value))
        if pax:
            data = b"".join(pax)
            self._block(b"PaxHeaders/" + name[-80:], b"x", 0o644, 0, 0, len(data), 0, b"", (0, 0))
            self.put(data)
            self.put(bytes(-len(data) % BLOCK))
        self._block(name, kind, mode, uid, gid, size, mtime, linkname, dev)

    def _block(self, name, kind, mode, uid, gid, size, mtime, linkname, dev) -> None:
        def fit(value: int, width: int) -> bytes:
            return _octal(value if 0 <= value <= _OCTAL_MAX[width] else 0, width)

        block = bytearray(
            b"".join(
                (
                    name[:100].ljust(100, b"\0"),
                    _octal(mode, 8),
                    fit(uid, 8),
                    fit(gid, 8),
                    fit(size, 12),
                    fit(mtime, 12),
                    b" " * 8,  # the checksum, counted as spaces while it is computed
                    kind,
                    linkname[:100].ljust(100, b"\0"),
                    b"ustar\x0000",
                    bytes(64),  # uname, gname: numeric ids only, as in Docker's layers
                    _octal(dev[0], 8),
                    _octal(dev[1], 8),
                    bytes(167),
                )
            )
        )
        block[148:156] = b"%06o\0 " % sum(block)
        self.put(block)

    def content(self, fd: int, size: int) -> None:
        """Copy `size` bytes of a file and pad them to a block."""
        left = size
        while left:
            data = os.read(fd, min(left, CHUNK))
            if not data:
                # The file shrank while being read: pad, so the archive stays well-formed.
                data = bytes(min(left, CHUNK))
            self.put(data)
            left -= len(data)
        self.put(bytes(-size % BLOCK))

    def end(self) -> None:
        self.put(bytes(2 * BLOCK))
        self.flush()
