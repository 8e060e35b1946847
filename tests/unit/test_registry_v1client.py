"""The v1 client's pure parts: endpoints, ancestry, which checksum a layer must match, the json a push
sends; and its HTTP side against a small fake v1 registry (token and endpoint headers, tags, a
download cut once and resumed with a Range request)."""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import threading

import pytest

from lxc_docker.errors import NotFound
from lxc_docker.image.image import Image
from lxc_docker.registry import v1pull, v1push
from lxc_docker.registry.auth import Credentials
from lxc_docker.registry.progress import Reporter
from lxc_docker.registry.session import RegistryError, Session, Unauthorized
from lxc_docker.registry.v1session import V1Session, parse_ancestry, parse_endpoints

A, B, C = "a" * 64, "b" * 64, "c" * 64


def test_endpoints_take_the_index_scheme_and_drop_paths_and_repeats():
    header = "registry-1.example.com, http://r2.example.com:5000/v1/ ,registry-1.example.com,"
    assert parse_endpoints(header, "https") == [
        "https://registry-1.example.com",
        "https://r2.example.com:5000",
    ]
    assert parse_endpoints("", "http") == []
    assert parse_endpoints("evil.example/other/path", "http") == []


def test_ancestry_starts_with_the_image_and_has_no_repeats():
    assert parse_ancestry([A, B, C], A) == [A, B, C]
    for bad in ([B, A], [A, B, A], [], "A", [A, "../x"], [A] + [B] * 2):
        with pytest.raises(RegistryError):
            parse_ancestry(bad, A)


def test_the_index_checksum_wins_and_a_tarsum_alone_is_not_a_payload_checksum():
    index, header = "sha256:" + "1" * 64, "sha256:" + "2" * 64
    assert v1pull.expected_checksum(index, header) == index
    assert v1pull.expected_checksum("tarsum+sha256:" + "3" * 64, header) == header
    assert v1pull.expected_checksum("", "") == ""
    assert v1pull.expected_checksum("sha256:short", "") == ""


def test_push_json_is_the_graph_document_without_size_and_its_checksum_is_json_newline_layer():
    image = Image(id=B, parent=A, created="2014-03-01T00:00:00Z", config={"Cmd": ["sh"]}, size=123)
    raw = v1push.image_json(image)
    doc = json.loads(raw)
    assert doc["id"] == B and doc["parent"] == A and doc["config"] == {"Cmd": ["sh"]} and "Size" not in doc
    assert raw == v1push.image_json(image)  # stable: the same bytes every time
    h = v1pull.payload_checksum_of(raw)
    h.update(b"layer bytes")
    assert h.hexdigest() == hashlib.sha256(raw + b"\nlayer bytes").hexdigest()


# -- against a fake registry ---------------------------------------------------------------------


LAYER = bytes(range(256)) * 4000  # 1 MB


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:
        pass

    def _send(self, status: int, body: bytes = b"", headers: dict | None = None, cut: int = -1) -> None:
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if cut >= 0:
            self.wfile.write(body[:cut])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)

    def do_GET(self) -> None:
        srv = self.server
        srv.seen.append((self.path, self.headers.get("Authorization", ""), self.headers.get("Range", "")))
        port = srv.server_address[1]
        if self.path == "/v1/repositories/ns/img/images":
            if self.headers.get("Authorization") == "Basic d3Jvbmc6d3Jvbmc=":  # wrong:wrong
                return self._send(401, b'"Wrong login/password"')
            return self._send(
                200,
                json.dumps([{"id": A, "checksum": ""}]).encode(),
                {
                    "X-Docker-Token": 'signature=x,repository="ns/img",access=read',
                    "X-Docker-Endpoints": f"127.0.0.1:{port}",
                },
            )
        if self.path == "/v1/repositories/ns/img/tags":
            if not self.headers.get("Authorization", "").startswith("Token signature=x"):
                return self._send(401, b'{"error": "Requires authorization"}')
            return self._send(200, json.dumps({"latest": A}).encode())
        if self.path == f"/v1/images/{A}/layer":
            rng = self.headers.get("Range", "")
            if rng:
                start = int(rng.split("=")[1].rstrip("-"))
                return self._send(
                    206, LAYER[start:], {"Content-Range": f"bytes {start}-{len(LAYER) - 1}/{len(LAYER)}"}
                )
            return self._send(200, LAYER, cut=300_000 if srv.cut else -1)
        self._send(404, b'{"error": "not found"}')


@pytest.fixture
def fake():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.seen, srv.cut = [], False
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv
    srv.shutdown()
    srv.server_close()


def _v1(fake, creds: Credentials | None = None) -> V1Session:
    return V1Session(Session(f"127.0.0.1:{fake.server_address[1]}", creds or Credentials()), "ns/img")


def test_index_token_and_endpoints_are_used_for_the_registry(fake):
    v1 = _v1(fake)
    assert v1.repository_images() == {A: ""}
    assert v1.endpoints == [f"http://127.0.0.1:{fake.server_address[1]}"]
    assert v1.tags(v1.endpoints[0]) == {"latest": A}
    assert fake.seen[-1][1] == 'Token signature=x,repository="ns/img",access=read'
    with pytest.raises(NotFound):
        v1.ancestry(v1.endpoints[0], B)


def test_wrong_credentials_are_unauthorized(fake):
    with pytest.raises(Unauthorized) as err:
        _v1(fake, Credentials(username="wrong", password="wrong")).repository_images()
    assert "Wrong login/password" in str(err.value)


def test_a_cut_download_is_resumed_with_a_range_and_the_checksum_covers_it_all(fake):
    fake.cut = True
    v1 = _v1(fake)
    out = io.BytesIO()
    seen: list[dict] = []
    url = f"{v1.endpoints[0]}/v1/images/{A}/layer"
    got = v1pull._download(v1, url, b"{}", len(LAYER), out, Reporter(seen.append), A[:12])
    assert out.getvalue() == LAYER
    assert got == "sha256:" + hashlib.sha256(b"{}\n" + LAYER).hexdigest()
    ranges = [r for _, _, r in fake.seen if r]
    assert len(ranges) == 1 and 200_000 < int(ranges[0][6:-1]) <= 300_000  # what arrived is kept
