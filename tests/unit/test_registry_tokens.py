"""The registry session against a fake registry that wants a Bearer token (as Docker Hub and most
registries do): the challenge, the token request with Basic credentials and the scope, the retry."""

from __future__ import annotations

import base64
import http.server
import json
import threading

import pytest

from lxc_docker.errors import NotFound
from lxc_docker.registry.auth import Credentials
from lxc_docker.registry.session import RegistryError, Session, Unauthorized


class _Handler(http.server.BaseHTTPRequestHandler):
    seen: list[tuple[str, str, str]] = []

    def log_message(self, *args) -> None:
        pass

    def _send(self, status: int, body: bytes = b"", headers: dict | None = None) -> None:
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        auth = self.headers.get("Authorization", "")
        self.seen.append(("GET", self.path, auth))
        port = self.server.server_address[1]
        if self.path.startswith("/token"):
            if auth != "Basic " + base64.b64encode(b"alice:pw").decode():
                return self._send(401, b'{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}')
            return self._send(200, json.dumps({"token": "T0K"}).encode())
        if self.path == "/v1/_ping" and self.server.v1_only:
            return self._send(200, b"true")
        if self.server.v1_only:
            return self._send(404)
        if auth != "Bearer T0K":
            challenge = (
                f'Bearer realm="http://127.0.0.1:{port}/token",service="fake",scope="repository:a/b:pull"'
            )
            body = b'{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}'
            return self._send(
                401, body, {"WWW-Authenticate": challenge, "Docker-Distribution-Api-Version": "registry/2.0"}
            )
        if self.path == "/v2/a/b/manifests/missing":
            return self._send(404, b'{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}')
        self._send(200, b"{}")


@pytest.fixture
def fake():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.v1_only = False
    _Handler.seen = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def test_bearer_token_flow(fake):
    s = Session(f"127.0.0.1:{fake.server_address[1]}", Credentials("alice", "pw"))
    s.ping()
    resp = s.request("GET", "/v2/a/b/manifests/latest", scopes=["repository:a/b:pull"])
    assert resp.status_code == 200
    token_calls = [p for _, p, _ in _Handler.seen if p.startswith("/token")]
    assert token_calls == ["/token?service=fake&scope=repository%3Aa%2Fb%3Apull&account=alice"]
    # The token is cached for the scope: the next request goes straight through.
    s.request("GET", "/v2/a/b/manifests/latest", scopes=["repository:a/b:pull"])
    assert _Handler.seen[-1][2] == "Bearer T0K" and len([p for _, p, _ in _Handler.seen if "token" in p]) == 1
    with pytest.raises(NotFound, match="manifest unknown"):
        s.request("GET", "/v2/a/b/manifests/missing", scopes=["repository:a/b:pull"])


def test_wrong_credentials_and_v1_only(fake):
    s = Session(f"127.0.0.1:{fake.server_address[1]}", Credentials("alice", "nope"))
    with pytest.raises(Unauthorized, match="^unauthorized: "):
        s.request("GET", "/v2/a/b/manifests/latest", scopes=["repository:a/b:pull"])
    fake.v1_only = True
    assert s.ping() == "v1"


def test_unreachable_registry_fails_fast():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(RegistryError, match="cannot reach the registry: connection refused"):
        Session(f"127.0.0.1:{port}", Credentials()).ping()
