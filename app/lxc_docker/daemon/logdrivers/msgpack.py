"""The part of MessagePack the fluentd forward protocol needs: nil, booleans, integers, floats, str,
bin, arrays and maps; an encoder and, for tests and symmetry, a decoder.

Written here rather than taken from python3-msgpack: the driver sends one small array per log line,
and a small encoder keeps the daemon free of another dependency in every package and get.sh.
The decoder serves the tests (and any reader of a forward stream) the same way.
"""

from __future__ import annotations

import struct
from typing import Any


def pack(obj: Any) -> bytes:
    out = bytearray()
    _pack(obj, out)
    return bytes(out)


def _pack(obj: Any, out: bytearray) -> None:
    if obj is None:
        out.append(0xC0)
    elif obj is True:
        out.append(0xC3)
    elif obj is False:
        out.append(0xC2)
    elif isinstance(obj, int):
        _pack_int(obj, out)
    elif isinstance(obj, float):
        out += b"\xcb" + struct.pack(">d", obj)
    elif isinstance(obj, str):
        data = obj.encode("utf-8", "surrogateescape")
        n = len(data)
        if n < 32:
            out.append(0xA0 | n)
        elif n < 1 << 8:
            out += b"\xd9" + struct.pack(">B", n)
        elif n < 1 << 16:
            out += b"\xda" + struct.pack(">H", n)
        else:
            out += b"\xdb" + struct.pack(">I", n)
        out += data
    elif isinstance(obj, (bytes, bytearray)):
        n = len(obj)
        if n < 1 << 8:
            out += b"\xc4" + struct.pack(">B", n)
        elif n < 1 << 16:
            out += b"\xc5" + struct.pack(">H", n)
        else:
            out += b"\xc6" + struct.pack(">I", n)
        out += obj
    elif isinstance(obj, (list, tuple)):
        _header(len(obj), 0x90, b"\xdc", b"\xdd", out)
        for item in obj:
            _pack(item, out)
    elif isinstance(obj, dict):
        _header(len(obj), 0x80, b"\xde", b"\xdf", out)
        for key, value in obj.items():
            _pack(key, out)
            _pack(value, out)
    else:
        raise TypeError(f"cannot pack {type(obj).__name__}")


def _header(n: int, fix: int, b16: bytes, b32: bytes, out: bytearray) -> None:
    if n < 16:
        out.append(fix | n)
    elif n < 1 << 16:
        out += b16 + struct.pack(">H", n)
    else:
        out += b32 + struct.pack(">I", n)


def _pack_int(n: int, out: bytearray) -> None:
    if 0 <= n < 0x80:
        out.append(n)
    elif -32 <= n < 0:
        out.append(n & 0xFF)
    elif n >= 0:
        for code, fmt, limit in ((0xCC, ">B", 1 << 8), (0xCD, ">H", 1 << 16), (0xCE, ">I", 1 << 32)):
            if n < limit:
                out += bytes([code]) + struct.pack(fmt, n)
                return
        out += b"\xcf" + struct.pack(">Q", n)
    else:
        for code, fmt, limit in ((0xD0, ">b", 1 << 7), (0xD1, ">h", 1 << 15), (0xD2, ">i", 1 << 31)):
            if n >= -limit:
                out += bytes([code]) + struct.pack(fmt, n)
                return
        out += b"\xd3" + struct.pack(">q", n)


def unpack(data: bytes) -> tuple[Any, int]:
    """The first object in `data` and the offset after it; IndexError/struct.error when incomplete."""
    return _unpack(memoryview(data), 0)


_FIXED = {
    0xCC: ">B", 0xCD: ">H", 0xCE: ">I", 0xCF: ">Q",
    0xD0: ">b", 0xD1: ">h", 0xD2: ">i", 0xD3: ">q",
    0xCA: ">f", 0xCB: ">d",
}  # fmt: skip


def _unpack(buf: memoryview, i: int) -> tuple[Any, int]:
    b = buf[i]
    i += 1
    if b < 0x80:
        return b, i
    if b >= 0xE0:
        return b - 0x100, i
    if 0xA0 <= b <= 0xBF:
        n = b & 0x1F
        if i + n > len(buf):
            raise IndexError("incomplete")
        return bytes(buf[i : i + n]).decode("utf-8", "surrogateescape"), i + n
    if 0x90 <= b <= 0x9F:
        return _array(buf, i, b & 0x0F)
    if 0x80 <= b <= 0x8F:
        return _map(buf, i, b & 0x0F)
    if b in (0xC0, 0xC2, 0xC3):
        return {0xC0: None, 0xC2: False, 0xC3: True}[b], i
    if b in _FIXED:
        fmt = _FIXED[b]
        size = struct.calcsize(fmt)
        return struct.unpack(fmt, buf[i : i + size])[0], i + size
    if b in (0xD9, 0xDA, 0xDB, 0xC4, 0xC5, 0xC6):
        fmt = {0xD9: ">B", 0xDA: ">H", 0xDB: ">I", 0xC4: ">B", 0xC5: ">H", 0xC6: ">I"}[b]
        size = struct.calcsize(fmt)
        (n,) = struct.unpack(fmt, buf[i : i + size])
        i += size
        if i + n > len(buf):
            raise IndexError("incomplete")
        raw = bytes(buf[i : i + n])
        return (raw.decode("utf-8", "surrogateescape") if b >= 0xD9 else raw), i + n
    if b in (0xDC, 0xDD, 0xDE, 0xDF):
        fmt = ">H" if b in (0xDC, 0xDE) else ">I"
        size = struct.calcsize(fmt)
        (n,) = struct.unpack(fmt, buf[i : i + size])
        return (_array if b in (0xDC, 0xDD) else _map)(buf, i + size, n)
    raise ValueError(f"unsupported msgpack type 0x{b:02x}")


def _array(buf: memoryview, i: int, n: int) -> tuple[list, int]:
    items = []
    for _ in range(n):
        item, i = _unpack(buf, i)
        items.append(item)
    return items, i


def _map(buf: memoryview, i: int, n: int) -> tuple[dict, int]:
    result = {}
    for _ in range(n):
        key, i = _unpack(buf, i)
        value, i = _unpack(buf, i)
        result[key] = value
    return result, i
