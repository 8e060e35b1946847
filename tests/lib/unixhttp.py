"""Raw HTTP to a daemon's unix socket, for tests that send what no client would (bad bodies, odd
versions) or read what the CLI hides (status codes, headers)."""

from __future__ import annotations

import http.client
import json
import socket


class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float = 30) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self._path)


def request(
    sock_path: str,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict | None = None,
    timeout: float = 30,
) -> tuple[int, dict[str, str], bytes]:
    """One request on a fresh connection: (status, headers, body)."""
    conn = UnixConnection(sock_path, timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def api(daemon, method: str, path: str, body=None) -> tuple[int, bytes]:
    """A request with a JSON body (None for none) to a test daemon: (status, body)."""
    data = None if body is None else json.dumps(body).encode()
    status, _, answer = request(daemon.sock, method, path, data, {"Content-Type": "application/json"})
    return status, answer
