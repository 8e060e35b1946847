"""The registry's stores: a blob appears only once verified; the v1 payload checksum; accounts."""

from __future__ import annotations

import hashlib
import io
import json
import os

import pytest

from lxc_docker.registry.server.accounts import AccountError, Accounts, check_password, hash_password
from lxc_docker.registry.server.httpd import BadRequest, Body
from lxc_docker.registry.server.store import DigestMismatch, Store
from lxc_docker.registry.server.v1store import V1Store


class _Cut:
    """A request body that breaks after `n` bytes, as a client that drops the connection."""

    def __init__(self, data: bytes, n: int) -> None:
        self._data, self._n, self._pos = data, n, 0

    def read(self, size: int = 1 << 20) -> bytes:
        if self._pos >= self._n:
            raise ConnectionError("cut")
        chunk = self._data[self._pos : min(self._pos + size, self._n)]
        self._pos += len(chunk)
        return chunk


def _body(data: bytes) -> Body:
    return Body(io.BytesIO(data), len(data), False)


def test_chunked_upload_verified_then_visible(tmp_path) -> None:
    store = Store(str(tmp_path))
    data = os.urandom(3000)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    uid = store.start_upload("ns/img")
    assert store.append("ns/img", uid, _body(data[:1000])) == 1000
    assert not store.has_link("ns/img", digest)
    assert store.append("ns/img", uid, _body(data[1000:])) == 3000
    assert store.finish("ns/img", uid, digest) == 3000
    assert store.has_link("ns/img", digest) and store.read_blob(digest) == data
    assert not store.has_link("other/img", digest)
    assert os.listdir(store.upload_dir) == []


def test_digest_mismatch_leaves_no_blob(tmp_path) -> None:
    store = Store(str(tmp_path))
    uid = store.start_upload("ns/img")
    store.append("ns/img", uid, _body(b"abc"))
    wrong = "sha256:" + hashlib.sha256(b"abd").hexdigest()
    with pytest.raises(DigestMismatch):
        store.finish("ns/img", uid, wrong)
    assert os.listdir(store.blob_dir) == [] and os.listdir(store.upload_dir) == []


def test_uploads_do_not_survive_a_restart(tmp_path) -> None:
    store = Store(str(tmp_path))
    uid = store.start_upload("ns/img")
    with pytest.raises(ConnectionError):
        store.append("ns/img", uid, _Cut(b"x" * 5000, 100))
    assert os.listdir(Store(str(tmp_path)).upload_dir) == []


def test_v1_layer_payload_checksum_and_cut_layer(tmp_path) -> None:
    v1 = V1Store(str(tmp_path))
    image_id = "a" * 64
    raw = json.dumps({"id": image_id}).encode()
    v1.put_json(image_id, raw, None, "")
    with pytest.raises(ConnectionError):
        v1.put_layer(image_id, _Cut(b"L" * 4096, 10))
    assert not os.path.exists(v1.layer_path(image_id))
    assert [f for f in os.listdir(os.path.dirname(v1.layer_path(image_id))) if f.startswith(".tmp")] == []
    payload = v1.put_layer(image_id, _body(b"layer bytes"))
    # Docker 0.9's push: sha256 over the json, a newline, then the layer as sent.
    assert payload == "sha256:" + hashlib.sha256(raw + b"\n" + b"layer bytes").hexdigest()
    assert json.loads(v1.read(image_id, "ancestry")) == [image_id]
    child = "b" * 64
    v1.put_json(child, json.dumps({"id": child, "parent": image_id}).encode(), image_id, "")
    assert json.loads(v1.read(child, "ancestry")) == [child, image_id]
    with pytest.raises(LookupError):
        v1.put_json("c" * 64, b"{}", "d" * 64, "")


def test_chunked_body_framing() -> None:
    body = Body(io.BytesIO(b"3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\n\r\n"), None, True)
    assert body.read_all(100) == b"abcde" and body.done
    with pytest.raises(BadRequest):
        Body(io.BytesIO(b"zz\r\nabc\r\n"), None, True).read_all(100)
    with pytest.raises(BadRequest):
        Body(io.BytesIO(b"3\r\nabcX\r\n"), None, True).read_all(100)


def test_passwords_are_salted_and_tokens_signed(tmp_path) -> None:
    one, two = hash_password("secret1"), hash_password("secret1")
    assert one["salt"] != two["salt"] and one["hash"] != two["hash"] and "secret1" not in json.dumps(one)
    assert check_password("secret1", one) and not check_password("secret2", one)
    accounts = Accounts(str(tmp_path))
    accounts.create("alice", "wonderland", "alice@example.org")
    with pytest.raises(AccountError):
        accounts.create("alice", "wonderland", "other@example.org")
    with pytest.raises(AccountError):
        accounts.create("../x", "wonderland", "x@example.org")
    import base64

    good = "Basic " + base64.b64encode(b"alice:wonderland").decode()
    bad = "Basic " + base64.b64encode(b"alice:wonder").decode()
    assert accounts.check(good) == "alice" and accounts.check(bad) is None
    token = accounts.token("alice/app", "write")
    assert accounts.check_token("Token " + token) == ("alice/app", "write")
    forged = token.replace('repository="alice/app"', 'repository="bob/app"')
    assert accounts.check_token("Token " + forged) is None
    # Tokens outlive a restart: the secret is on disk.
    assert Accounts(str(tmp_path)).check_token("Token " + token) == ("alice/app", "write")


def test_v2_bearer_tokens(tmp_path, monkeypatch) -> None:
    from lxc_docker.registry.server import v2auth

    accounts = Accounts(str(tmp_path))
    auth = v2auth.V2Auth(accounts, accounts.secret)
    token = auth.issue("alice")
    assert auth.bearer_user("Bearer " + token) == "alice"
    assert auth.bearer_user("Bearer " + auth.issue("")) == ""
    payload, _, signature = token.partition(".")
    assert auth.bearer_user(f"Bearer {payload}x.{signature}") is None
    assert auth.bearer_user("Token " + token) is None
    assert v2auth.V2Auth(accounts, b"another secret").bearer_user("Bearer " + token) is None
    now = v2auth.time.time()
    monkeypatch.setattr(v2auth.time, "time", lambda: now + v2auth.TOKEN_TTL + 1)
    assert auth.bearer_user("Bearer " + token) is None
