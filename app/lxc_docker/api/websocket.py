"""The server side of RFC 6455 WebSockets, for `GET /containers/{id}/attach/ws`.

Only what attach needs: the opening handshake (Sec-WebSocket-Accept), unfragmented data frames out,
data frames in (masked, as the RFC requires of clients; fragments joined), ping/pong, and the close
handshake. No extensions and no subprotocols are offered, so none are ever in use.

Written here rather than taken from a package: Debian's python3-websockets and wsproto are asyncio-
or sans-IO-shaped libraries that bring their own connection model, where the daemon already owns the
HTTP head and the socket; the framing is ~100 lines.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import socket
import struct
import threading
from collections.abc import Iterator

from ..errors import InvalidParameter

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 section 1.3
OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
CLOSE_NORMAL, CLOSE_PROTOCOL, CLOSE_TOO_BIG = 1000, 1002, 1009
# What one client message may hold: stdin arrives in small pieces; a larger frame is a broken or
# hostile client, and the daemon would have to buffer it whole.
MAX_MESSAGE = 16 << 20


def accept_key(key: str) -> str:
    """Sec-WebSocket-Accept for a client's Sec-WebSocket-Key."""
    return base64.b64encode(hashlib.sha1(key.strip().encode("ascii") + GUID).digest()).decode()


def check_handshake(method: str, headers) -> str:
    """The client's key, once the request is a valid opening handshake; else InvalidParameter (400)."""

    def tokens(name: str) -> set[str]:
        return {t.strip().lower() for v in headers.get_all(name) for t in v.split(",")}

    if method != "GET":
        raise InvalidParameter("websocket: the opening handshake must be a GET request")
    if "websocket" not in tokens("Upgrade") or "upgrade" not in tokens("Connection"):
        raise InvalidParameter("websocket: 'Upgrade: websocket' and 'Connection: Upgrade' are required")
    if (headers.get("Sec-WebSocket-Version") or "").strip() != "13":
        raise InvalidParameter("websocket: unsupported Sec-WebSocket-Version (13 is spoken)")
    key = (headers.get("Sec-WebSocket-Key") or "").strip()
    try:
        if len(base64.b64decode(key, validate=True)) != 16:
            raise ValueError
    except (ValueError, binascii.Error):
        raise InvalidParameter("websocket: Sec-WebSocket-Key must be 16 bytes in base64") from None
    return key


def encode(opcode: int, payload: bytes) -> bytes:
    """One final, unmasked frame (servers never mask)."""
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, n)
    elif n < 1 << 16:
        head = struct.pack("!BBH", 0x80 | opcode, 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 127, n)
    return head + payload


def unmask(key: bytes, payload: bytes) -> bytes:
    # XOR with the 4-byte key repeated: done on whole integers, not byte by byte.
    n = len(payload)
    if not n:
        return payload
    stream = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "little") ^ int.from_bytes(stream, "little")).to_bytes(n, "little")


class ProtocolError(Exception):
    def __init__(self, message: str, code: int = CLOSE_PROTOCOL) -> None:
        super().__init__(message)
        self.code = code


class WebSocket:
    """An accepted connection. `sendall` frames its bytes (text or binary, as chosen at accept), so
    the object stands in for a socket where the container's output is written."""

    def __init__(self, sock: socket.socket, buffered: bytes, binary: bool) -> None:
        self.sock = sock
        self._inbox = bytearray(buffered)
        self._opcode = OP_BINARY if binary else OP_TEXT
        self._lock = threading.Lock()
        self.closed = threading.Event()  # a close frame went out (or the connection is gone)

    # -- sending --------------------------------------------------------------------------------------

    def _send(self, frame: bytes) -> None:
        with self._lock:
            self.sock.sendall(frame)

    def sendall(self, data: bytes) -> None:
        if self.closed.is_set():
            raise BrokenPipeError("websocket closed")
        if data:
            self._send(encode(self._opcode, data))

    def close(self, code: int = CLOSE_NORMAL, reason: str = "") -> None:
        """Send our close frame once, then end our side of the TCP stream."""
        with self._lock:
            if self.closed.is_set():
                return
            self.closed.set()
            try:
                self.sock.sendall(encode(OP_CLOSE, struct.pack("!H", code) + reason.encode()[:120]))
                self.sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    # -- receiving ------------------------------------------------------------------------------------

    def _read(self, n: int) -> bytes:
        while len(self._inbox) < n:
            data = self.sock.recv(65536)
            if not data:
                raise EOFError
            self._inbox += data
        out = bytes(self._inbox[:n])
        del self._inbox[:n]
        return out

    def _frame(self) -> tuple[bool, int, bytes]:
        b0, b1 = self._read(2)
        fin, rsv, opcode = b0 & 0x80, b0 & 0x70, b0 & 0x0F
        if rsv:
            raise ProtocolError("reserved bits set without an extension")
        if not b1 & 0x80:
            raise ProtocolError("client frames must be masked")
        n = b1 & 0x7F
        if n == 126:
            (n,) = struct.unpack("!H", self._read(2))
        elif n == 127:
            (n,) = struct.unpack("!Q", self._read(8))
        if opcode >= 0x8 and (n > 125 or not fin):
            raise ProtocolError("control frames are short and never fragmented")
        if n > MAX_MESSAGE:
            raise ProtocolError("message too big", CLOSE_TOO_BIG)
        key = self._read(4)
        return bool(fin), opcode, unmask(key, self._read(n))

    def messages(self) -> Iterator[bytes]:
        """The payloads of the client's data messages until it closes (answered) or goes away.

        Pings are answered on the way; a protocol error closes with its code.
        """
        parts: list[bytes] = []
        try:
            while True:
                fin, opcode, payload = self._frame()
                if opcode == OP_PING:
                    if not self.closed.is_set():
                        self._send(encode(OP_PONG, payload))
                    continue
                if opcode == OP_PONG:
                    continue
                if opcode == OP_CLOSE:
                    code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else CLOSE_NORMAL
                    self.close(code if code in (CLOSE_NORMAL, 1001) else CLOSE_NORMAL)
                    return
                if opcode in (OP_TEXT, OP_BINARY):
                    if parts:
                        raise ProtocolError("a new message inside a fragmented one")
                elif opcode != OP_CONT or not parts:
                    raise ProtocolError(f"unexpected opcode {opcode:#x}")
                parts.append(payload)
                if sum(map(len, parts)) > MAX_MESSAGE:
                    raise ProtocolError("message too big", CLOSE_TOO_BIG)
                if fin:
                    message, parts = b"".join(parts), []
                    if message:
                        yield message
        except ProtocolError as e:
            self.close(e.code, str(e))
        except (EOFError, OSError):
            self.closed.set()
