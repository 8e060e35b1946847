"""The v1 client's pure parts: endpoints, ancestry, which checksum a layer must match, the json a push
sends; and its HTTP side against a small fake v1 registry (token and endpoint headers, tags, a
download cut once and resumed with a Range request)."""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import tarfile
import threading

import pytest

from lxc_docker.errors import NotFound
from lxc_docker.image.image import Image
from lxc_docker.registry import tarsum, v1pull, v1push
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


def test_the_index_checksum_wins_and_a_tarsum_is_checked_apart():
    index, header, ts = "sha256:" + "1" * 64, "sha256:" + "2" * 64, "tarsum+sha256:" + "3" * 64
    assert v1pull.expected_checksum(index, header) == index
    assert v1pull.expected_checksum(ts, header) == header
    assert v1pull.expected_checksum("", "", header) == header  # X-Docker-Checksum in payload form
    assert v1pull.expected_checksum("", "") == ""
    assert v1pull.expected_checksum("sha256:short", "") == ""
    # The index's tarsum is always checked; the registry's only when no payload checksum is known.
    assert v1pull.expected_tarsum(ts, "", payload_known=True) == ts
    assert v1pull.expected_tarsum("", ts, payload_known=True) == ""
    assert v1pull.expected_tarsum("", ts, payload_known=False) == ts
    assert v1pull.expected_tarsum("", "tarsum+md5:abc", payload_known=False) == ""


# Docker's own tarsum test vectors (pkg/tarsum/tarsum_test.go: TestIteration and the 1 MB file of
# zeros of TestTarSums), rebuilt here as tars: they pin the header encoding to Docker's.
def _tar(entries, fmt=tarfile.PAX_FORMAT) -> io.BytesIO:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tf:
        for info, data in entries:
            tf.addfile(info, io.BytesIO(data))
    buf.seek(0)
    return buf


def _info(name, size=0, uid=0, gid=0, uname="", gname="", mode=0, xattrs=None):
    info = tarfile.TarInfo(name)
    info.size, info.uid, info.gid, info.uname, info.gname, info.mode, info.mtime = (
        size,
        uid,
        gid,
        uname,
        gname,
        mode,
        0,
    )
    if xattrs:
        info.pax_headers = {f"SCHILY.xattr.{k}": v for k, v in xattrs.items()}
    return info


@pytest.mark.parametrize(
    "version,entry,data,want",
    [
        (
            "tarsum",
            _info("file.txt"),
            b"",
            "626c4a2e9a467d65c33ae81f7f3dedd4de8ccaee72af73223c4bc4718cbc7bbd",
        ),
        (
            "tarsum.dev",
            _info("file.txt"),
            b"",
            "6ffd43a1573a9913325b4918e124ee982a99c0f3cba90fc032a65f5e20bdd465",
        ),
        (
            "tarsum.dev",
            _info("another.txt", 4, 1000, 1000, "slartibartfast", "users"),
            b"test",
            "b38166c059e11fb77bef30bf16fba7584446e80fcc156ff46d47e36c5305d8ef",
        ),
        (
            "tarsum.dev",
            _info(
                "xattrs.txt",
                4,
                1000,
                1000,
                "slartibartfast",
                "users",
                xattrs={"user.key1": "value1", "user.key2": "value2"},
            ),
            b"test",
            "4cc2e71ac5d31833ab2be9b4f7842a14ce595ec96a37af4ed08f87bc374228cd",
        ),
        (
            "tarsum",  # v0 ignores xattrs
            _info("xattrs.txt", 4, 1000, 1000, "slartibartfast", "users", xattrs={"user.NOT": "CALCULATED"}),
            b"test",
            "c12bb6f1303a9ddbf4576c52da74973c00d14c109bcfa76b708d5da1154a07fa",
        ),
    ],
)
def test_tarsum_matches_dockers_vectors(version, entry, data, want):
    assert tarsum.compute(_tar([(entry, data)]), b"", version) == f"{version}+sha256:{want}"


def test_tarsum_keeps_the_raw_type_flag_and_a_long_name():
    # Go's writer left Typeflag 0 as NUL and the reader keeps it; tarfile would call it '0'.
    raw = bytearray(
        _tar([(_info("/testdata0", 1 << 20, mode=0o755), bytes(1 << 20))], tarfile.USTAR_FORMAT).getvalue()
    )
    raw[156:157] = b"\0"
    raw[148:156] = b"%06o\0 " % (sum(raw[:148]) + 8 * 32 + sum(raw[156:512]))
    want = "tarsum+sha256:8bf12d7e67c51ee2e8306cba569398b1b9f419969521a12ffb9d8875e8836738"
    assert tarsum.compute(io.BytesIO(bytes(raw)), b"", "tarsum") == want
    long = "d/" + "x" * 150
    for fmt in (tarfile.GNU_FORMAT, tarfile.PAX_FORMAT):
        expected = tarsum.Header(name=long, size=1)
        digest = hashlib.sha256(tarsum.header_bytes(expected, "tarsum") + b"z").hexdigest()
        got = tarsum.compute(_tar([(_info(long, 1), b"z")], fmt), b"{}", "tarsum")
        assert got == "tarsum+sha256:" + hashlib.sha256(b"{}" + digest.encode()).hexdigest()
    with pytest.raises(tarsum.TarSumError):
        tarsum.compute(io.BytesIO(bytes(raw[:2000])), b"", "tarsum")


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
        if self.path in ("/v2/", "/v1/_ping"):  # a v1-only registry, to the session's ping
            return self._send(404) if self.path == "/v2/" else self._send(200, b"true")
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
        if self.path == "/v1/repositories/ns/bare/tags":  # a registry with no image lists
            return self._send(200, json.dumps({"latest": A}).encode())
        if self.path == "/v1/repositories/ns/moved/images":  # endpoints elsewhere, no token
            return self._send(200, b"[]", {"X-Docker-Endpoints": "127.0.0.2:1"})
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
    return V1Session(
        _pinged(Session(f"127.0.0.1:{fake.server_address[1]}", creds or Credentials())), "ns/img"
    )


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


def test_a_registry_without_image_lists_is_asked_for_tags_directly(fake):
    session = _pinged(Session(f"127.0.0.1:{fake.server_address[1]}", Credentials()))
    assert V1Session(session, "ns/bare").repository_images() is None
    assert v1pull.list_tags(session, "ns/bare", "x/ns/bare") == ["latest"]
    with pytest.raises(NotFound, match="image x/ns/none not found"):
        v1pull.list_tags(session, "ns/none", "x/ns/none")


def test_credentials_go_to_the_named_host_only(fake, monkeypatch):
    v1 = V1Session(
        _pinged(Session(f"127.0.0.1:{fake.server_address[1]}", Credentials("alice", "pw"))), "ns/moved"
    )
    v1.repository_images()
    assert fake.seen[-1][1].startswith("Basic ")
    assert v1.endpoints == ["http://127.0.0.2:1"]
    sent = {}

    def capture(method, url, headers=None, **kwargs):
        sent.update(headers)
        raise RuntimeError("not sent")

    monkeypatch.setattr(v1.http, "request", capture)
    with pytest.raises(RuntimeError):
        v1.send("GET", "http://127.0.0.2:1/v1/repositories/ns/moved/tags")
    assert "Authorization" not in sent


def _pinged(session: Session) -> Session:
    # As the daemon does before any v1 request: the ping settles the scheme (a loopback registry is
    # tried over HTTPS first, then plain HTTP).
    assert session.ping() == "v1"
    return session
