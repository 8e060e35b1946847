"""How a handler answers a request: JSON, text, a chunked stream, or the raw socket (hijack)."""

from __future__ import annotations

import json
import socket
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from .http import ChunkedWriter, Request, common_headers

if TYPE_CHECKING:
    from .connection import Connection


def reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


class Response:
    """How a handler answers; exactly one of json/text/empty/stream/raw/hijack per request."""

    def __init__(self, conn: Connection, request: Request, cors: bool) -> None:
        self._conn = conn
        self._request = request
        self._cors = cors
        self.started = False
        self.hijacked = False
        self._writer: ChunkedWriter | None = None

    def _head(self, status: int, headers: list[tuple[str, str]], body: bytes = b"") -> None:
        self.started = True
        self._conn.send_head(status, reason(status), common_headers(self._cors) + headers, body)

    def send(self, status: int, body: bytes, content_type: str) -> None:
        headers = [("Content-Length", str(len(body)))]
        if body or status not in (204, 304):
            headers.insert(0, ("Content-Type", content_type))
        self._head(status, headers, body if self._request.method != "HEAD" else b"")

    def json(self, obj: Any, status: int = 200) -> None:
        self.send(status, json.dumps(obj).encode(), "application/json")

    def text(self, text: str, status: int = 200, content_type: str = "text/plain; charset=utf-8") -> None:
        self.send(status, text.encode(), content_type)

    def empty(self, status: int = 204) -> None:
        self.send(status, b"", "text/plain; charset=utf-8")

    def headers_only(self, status: int, headers: list[tuple[str, str]]) -> None:
        """Answer with headers and no body (HEAD requests that describe a resource in headers)."""
        self._head(status, headers)

    def stream(
        self,
        content_type: str = "application/json",
        status: int = 200,
        headers: list[tuple[str, str]] | None = None,
    ) -> ChunkedWriter:
        self._head(
            status, [("Content-Type", content_type), ("Transfer-Encoding", "chunked"), *(headers or [])]
        )
        self._writer = ChunkedWriter(self._conn)  # type: ignore[arg-type]
        return self._writer

    @property
    def writer(self) -> ChunkedWriter | None:
        """The open stream, if the handler started one."""
        return self._writer

    def finish(self) -> None:
        if self._writer is not None:
            self._writer.close()

    def hijack(self, content_type: str = "application/vnd.docker.raw-stream") -> socket.socket:
        """Take over the connection for a raw bidirectional stream (attach)."""
        upgrade = (self._request.headers.get("Upgrade") or "").lower() == "tcp"
        self.started = self.hijacked = True
        status = "101 UPGRADED" if upgrade else "200 OK"
        lines = [f"HTTP/1.1 {status}", f"Content-Type: {content_type}"]
        if upgrade:
            lines += ["Connection: Upgrade", "Upgrade: tcp"]
        self._conn.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        self._conn.hijacked = True
        sock = self._conn.sock
        # An attached shell may sit idle for hours: the stream has no idle timeout.
        sock.settimeout(None)
        return sock

    def switch_protocols(self, headers: list[tuple[str, str]]) -> tuple[socket.socket, bytes]:
        """Answer 101 with `headers` and take over the connection (a WebSocket); returns the socket
        and the bytes the client sent after the request head, already read."""
        self._conn.close_after = False  # no "Connection: close" beside "Connection: Upgrade"
        self._conn.send_head(101, "Switching Protocols", headers)
        self.started = self.hijacked = True
        self._conn.hijacked = True
        buffered = bytes(self._conn.inbox)
        self._conn.inbox.clear()
        sock = self._conn.sock
        sock.settimeout(None)
        return sock, buffered
