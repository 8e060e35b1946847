"""`docker registry`: the v1 registry (standalone and with --index) driven with plain requests in
the documented client sequence (the v2 API: test_registry_server_v2.py)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import socket
import subprocess

import pytest
import requests

from lib.daemon import docker_cmd, our_env
from lib.poll import poll
from lib.registryserver import Registry
from lib.tarballs import tar_of
from lib.unixhttp import request as unix_request


@pytest.fixture
def registry():
    reg = Registry()
    yield reg
    reg.stop()


@pytest.fixture
def index():
    reg = Registry("--index")
    yield reg
    reg.stop()


def _image(image_id: str, parent: str | None, files: dict[str, bytes]) -> tuple[bytes, bytes]:
    doc = {"id": image_id, "created": "2014-03-01T00:00:00Z", "container_config": {"Cmd": ["/bin/sh"]}}
    if parent:
        doc["parent"] = parent
    return json.dumps(doc).encode(), tar_of(files)


BASE, TOP = "1" * 64, "2" * 64


def _push_v1(url: str, repo: str, headers: dict[str, str]) -> dict[str, str]:
    """Docker 0.9's push: repository, then json/layer/checksum per image (parents first), tags, images."""
    images = {
        BASE: _image(BASE, None, {"etc/base": b"base\n"}),
        TOP: _image(TOP, BASE, {"top": b"x" * 70000}),
    }
    r = requests.put(f"{url}/v1/repositories/{repo}/", json=[{"id": BASE}, {"id": TOP}], headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["X-Docker-Endpoints"] == url.split("//", 1)[1]
    token_headers = {"Authorization": "Token " + r.headers["X-Docker-Token"]}
    checksums = {}
    for image_id, (raw, layer) in images.items():
        r = requests.put(f"{url}/v1/images/{image_id}/json", data=raw, headers=token_headers)
        assert r.status_code == 200, r.text
        # The layer goes chunked, as Docker 0.9 sends it (a generator body has no length).
        r = requests.put(
            f"{url}/v1/images/{image_id}/layer",
            data=iter([layer[:1000], layer[1000:]]),
            headers=token_headers,
        )
        assert r.status_code == 200, r.text
        payload = "sha256:" + hashlib.sha256(raw + b"\n" + layer).hexdigest()
        checksums[image_id] = payload
        hdrs = dict(
            token_headers,
            **{"X-Docker-Checksum": "tarsum+sha256:unused", "X-Docker-Checksum-Payload": payload},
        )
        r = requests.put(f"{url}/v1/images/{image_id}/checksum", headers=hdrs)
        assert r.status_code == 200, r.text
    r = requests.put(f"{url}/v1/repositories/{repo}/tags/latest", data=json.dumps(TOP), headers=token_headers)
    assert r.status_code == 200, r.text
    body = [{"id": i, "checksum": c} for i, c in checksums.items()]
    r = requests.put(f"{url}/v1/repositories/{repo}/images", json=body, headers=headers)
    assert r.status_code == 204, r.text
    return checksums


def test_v1_standalone_push_and_pull(registry) -> None:
    url = registry.url
    status, headers, _ = unix_request(registry.sock, "GET", "/v1/_ping")
    assert status == 200 and headers["X-Docker-Registry-Standalone"] == "true"
    assert headers["X-Docker-Registry-Version"]
    # A second registry on the same root is refused (its start would empty our upload area).
    second = subprocess.run(
        docker_cmd() + ["registry", "-H", f"unix://{registry.base}/second.sock", "-g", registry.root],
        env=our_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert second.returncode == 1 and "pid file found" in second.stderr
    # Bad options are refused before anything is created.
    fresh = os.path.join(registry.base, "fresh")
    bad = subprocess.run(
        docker_cmd() + ["registry", "-H", "fd://", "-g", fresh],
        env=our_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2 and "tcp:// or unix://" in bad.stderr and not os.path.exists(fresh)
    # Docker 0.9's push asks for a token even here, and fails without one.
    checksums = _push_v1(url, "ns/app", {"X-Docker-Token": "true"})
    assert requests.get(f"{url}/v1/repositories/ns/app/tags").json() == {"latest": TOP}
    assert requests.get(f"{url}/v1/repositories/ns/app/tags/latest").json() == TOP
    assert requests.get(f"{url}/v1/images/{TOP}/ancestry").json() == [TOP, BASE]
    raw, layer = _image(TOP, BASE, {"top": b"x" * 70000})
    r = requests.get(f"{url}/v1/images/{TOP}/json")
    assert r.content == raw and r.headers["X-Docker-Size"] == str(len(layer))
    assert r.headers["X-Docker-Checksum-Payload"] == checksums[TOP]
    assert requests.get(f"{url}/v1/images/{TOP}/layer").content == layer
    r = requests.get(f"{url}/v1/images/{TOP}/layer", headers={"Range": "bytes=1000-"})
    assert r.status_code == 206 and r.content == layer[1000:]
    assert r.headers["Content-Range"] == f"bytes 1000-{len(layer) - 1}/{len(layer)}"
    images = requests.get(f"{url}/v1/repositories/ns/app/images").json()
    assert {i["id"]: i.get("checksum") for i in images} == checksums
    assert requests.get(f"{url}/v1/search?q=app").json()["results"][0]["name"] == "ns/app"
    # Unknown things are 404; a second push of a finished image is refused.
    assert requests.get(f"{url}/v1/images/{'3' * 64}/json").status_code == 404
    assert requests.get(f"{url}/v1/repositories/ns/app/tags/nope").status_code == 404
    assert requests.get(f"{url}/v1/repositories/ns/none/tags").status_code == 404
    assert requests.put(f"{url}/v1/images/{TOP}/json", data=raw).status_code == 409
    # Bad names never reach the disk.
    assert requests.get(f"{url}/v1/images/..%2f..%2fetc/json").status_code in (400, 404)
    assert requests.put(f"{url}/v1/repositories/NS/App/tags/x", data='"' + TOP + '"').status_code == 400
    assert (
        requests.put(f"{url}/v1/repositories/ns/app/tags/latest", data=json.dumps("4" * 64)).status_code
        == 404
    )
    # A wrong checksum leaves the image unfinished and invisible.
    bad_id = "5" * 64
    raw, layer = _image(bad_id, BASE, {"f": b"y"})
    assert requests.put(f"{url}/v1/images/{bad_id}/json", data=raw).status_code == 200
    assert requests.get(f"{url}/v1/images/{bad_id}/json").status_code == 400
    assert requests.put(f"{url}/v1/images/{bad_id}/layer", data=layer).status_code == 200
    r = requests.put(
        f"{url}/v1/images/{bad_id}/checksum", headers={"X-Docker-Checksum-Payload": "sha256:" + "0" * 64}
    )
    assert r.status_code == 400 and "Checksum mismatch" in r.text
    assert requests.get(f"{url}/v1/images/{bad_id}/layer").status_code == 400
    # A layer upload cut mid-way leaves no layer and no temporary file.
    cut_id = "8" * 64
    assert requests.put(f"{url}/v1/images/{cut_id}/json", data=_image(cut_id, None, {})[0]).status_code == 200
    image_dir = os.path.join(registry.root, "v1", "images", cut_id)
    head = f"PUT /v1/images/{cut_id}/layer HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n"
    with socket.create_connection(("127.0.0.1", registry.port)) as s:
        s.sendall(head.encode() + b"x" * 5000)
        poll(
            lambda: any(f.startswith(".tmp") for f in os.listdir(image_dir)), what="the layer upload to start"
        )
    poll(
        lambda: not any(f.startswith(".tmp") for f in os.listdir(image_dir)),
        what="the cut layer to be removed",
    )
    assert "layer" not in os.listdir(image_dir)
    assert requests.get(f"{url}/v1/images/{cut_id}/layer").status_code == 400
    # The older flow: the payload checksum comes with the json; the layer PUT then completes it.
    for image_id, good in (("6" * 64, True), ("7" * 64, False)):
        raw, layer = _image(image_id, BASE, {"g": image_id.encode()})
        payload = "sha256:" + hashlib.sha256(raw + b"\n" + (layer if good else b"other")).hexdigest()
        r = requests.put(f"{url}/v1/images/{image_id}/json", data=raw, headers={"X-Docker-Checksum": payload})
        assert r.status_code == 200
        assert requests.put(f"{url}/v1/images/{image_id}/layer", data=layer).status_code == (
            200 if good else 400
        )
        assert requests.get(f"{url}/v1/images/{image_id}/json").status_code == (200 if good else 400)
    assert requests.delete(f"{url}/v1/repositories/ns/app/tags/latest").status_code == 200
    assert requests.delete(f"{url}/v1/repositories/ns/app/").status_code == 200
    assert requests.get(f"{url}/v1/repositories/ns/app/tags").status_code == 404


def _basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_index_users_tokens_and_search(index) -> None:
    url = index.url
    r = requests.get(f"{url}/v1/_ping")
    assert r.headers["X-Docker-Registry-Standalone"] == "false"
    user = {"username": "alice", "password": "wonderland", "email": "alice@example.org"}
    assert requests.post(f"{url}/v1/users/", json=user).status_code == 201
    r = requests.post(f"{url}/v1/users/", json=user)
    assert r.status_code == 400 and "already exists" in r.text
    assert (
        requests.post(f"{url}/v1/users/", json=dict(user, username="bob_", email="b@example.org")).status_code
        == 201
    )
    assert requests.get(f"{url}/v1/users/", headers=_basic("alice", "wonderland")).status_code == 200
    assert requests.get(f"{url}/v1/users/", headers=_basic("alice", "wrong")).status_code == 401
    stored = open(os.path.join(index.root, "index", "users", "alice.json")).read()
    assert "wonderland" not in stored
    # Writes need the owner's credentials, then the token the index hands out.
    assert requests.put(f"{url}/v1/repositories/alice/app/", json=[{"id": BASE}]).status_code == 401
    r = requests.put(f"{url}/v1/repositories/alice/app/", json=[], headers=dict(_basic("bob_", "wonderland")))
    assert r.status_code == 403
    r = requests.put(f"{url}/v1/images/{BASE}/json", data=_image(BASE, None, {})[0])
    assert r.status_code == 401
    auth = dict(_basic("alice", "wonderland"), **{"X-Docker-Token": "true"})
    r = requests.put(f"{url}/v1/repositories/alice/app/", json=[{"id": BASE}], headers=auth)
    assert r.status_code == 200
    assert r.headers["WWW-Authenticate"] == "Token " + r.headers["X-Docker-Token"]
    assert r.headers["X-Docker-Endpoints"] == index.hostport
    forged = r.headers["X-Docker-Token"].replace("signature=", "signature=0")[:-1]
    assert (
        requests.put(
            f"{url}/v1/images/{BASE}/json", data=b"{}", headers={"Authorization": "Token " + forged}
        ).status_code
        == 401
    )
    checksums = _push_v1(url, "alice/app", auth)
    r = requests.get(f"{url}/v1/repositories/alice/app/images", headers={"X-Docker-Token": "true"})
    assert {i["id"]: i["checksum"] for i in r.json()} == checksums
    assert "access=read" in r.headers["X-Docker-Token"]
    # Search: stars and descriptions of the index's repositories.
    desc = {"description": "an app for tests"}
    assert (
        requests.put(
            f"{url}/v1/repositories/alice/app/description", json=desc, headers=_basic("alice", "wonderland")
        ).status_code
        == 204
    )
    assert (
        requests.put(
            f"{url}/v1/repositories/alice/app/star", headers=_basic("bob_", "wonderland")
        ).status_code
        == 204
    )
    result = requests.get(f"{url}/v1/search", params={"q": "tests"}).json()
    assert result["num_results"] == 1
    assert result["results"][0] == {
        "name": "alice/app",
        "description": "an app for tests",
        "star_count": 1,
        "is_official": False,
        "is_trusted": False,
    }
    # v2: Docker's token flow. The base endpoint challenges; the realm hands out tokens (anonymous
    # without credentials, refused with wrong ones); writes need the namespace's owner.
    r = requests.get(f"{url}/v2/")
    assert r.status_code == 401
    challenge = r.headers["WWW-Authenticate"]
    assert challenge == f'Bearer realm="{url}/v2/token",service="lxc-docker-registry"'
    assert requests.get(f"{url}/v2/token", headers=_basic("alice", "wrong")).status_code == 401
    anonymous = requests.get(f"{url}/v2/token?scope=repository:alice/x:pull").json()["token"]
    alice = requests.get(f"{url}/v2/token", headers=_basic("alice", "wonderland")).json()["access_token"]
    bearer = {"Authorization": "Bearer " + anonymous}
    assert requests.get(f"{url}/v2/", headers=bearer).status_code == 200
    assert requests.get(f"{url}/v2/alice/x/tags/list").json()["errors"][0]["code"] == "NAME_UNKNOWN"
    r = requests.post(f"{url}/v2/alice/x/blobs/uploads/", headers=bearer)
    assert r.status_code == 401 and r.json()["errors"][0]["code"] == "UNAUTHORIZED"
    forged = {"Authorization": "Bearer " + alice[:-1] + ("0" if alice[-1] != "0" else "1")}
    assert requests.post(f"{url}/v2/alice/x/blobs/uploads/", headers=forged).status_code == 401
    r = requests.post(f"{url}/v2/other/x/blobs/uploads/", headers={"Authorization": "Bearer " + alice})
    assert r.status_code == 403 and r.json()["errors"][0]["code"] == "DENIED"
    assert (
        requests.post(
            f"{url}/v2/alice/x/blobs/uploads/", headers={"Authorization": "Bearer " + alice}
        ).status_code
        == 202
    )
    assert (
        requests.post(f"{url}/v2/alice/x/blobs/uploads/", headers=_basic("alice", "wonderland")).status_code
        == 202
    )
