"""`docker registry`'s v2 API: skopeo copies images in and out, and uploads, ranges and faults by hand."""

from __future__ import annotations

import gzip
import hashlib
import http.client
import io
import json
import os
import socket
import subprocess
import tarfile

import pytest
import requests

from lib.poll import poll
from lib.registryserver import Registry
from lib.require import require_tools
from lib.tarballs import tar_of


@pytest.fixture
def registry():
    reg = Registry()
    yield reg
    reg.stop()


def _docker_archive(path: str) -> tuple[bytes, list[bytes]]:
    layers = [tar_of({"etc/hello": b"hello\n"}), tar_of({"data.bin": os.urandom(2 << 20)})]
    diff_ids = ["sha256:" + hashlib.sha256(layer).hexdigest() for layer in layers]
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Cmd": ["/bin/sh"]},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        }
    ).encode()
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    manifest = [
        {
            "Config": config_name,
            "RepoTags": ["ns/img:t1"],
            "Layers": [f"l{i}/layer.tar" for i in range(len(layers))],
        }
    ]
    with tarfile.open(path, "w") as tar:
        for name, data in [
            (config_name, config),
            *((f"l{i}/layer.tar", layer) for i, layer in enumerate(layers)),
            ("manifest.json", json.dumps(manifest).encode()),
        ]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return config, layers


def test_v2_skopeo_copies_in_and_out(registry, tmp_path) -> None:
    require_tools("skopeo", hint="apt-get install skopeo (scripts/setup-dev.sh)")
    archive = str(tmp_path / "img.tar")
    config, layers = _docker_archive(archive)
    dest = f"docker://{registry.hostport}/ns/img:t1"
    subprocess.run(
        ["skopeo", "copy", "-q", "--dest-tls-verify=false", f"docker-archive:{archive}", dest],
        check=True,
        timeout=120,
    )
    out = tmp_path / "out"
    subprocess.run(
        ["skopeo", "copy", "-q", "--src-tls-verify=false", dest, f"dir:{out}"], check=True, timeout=120
    )
    manifest = json.loads((out / "manifest.json").read_bytes())
    assert (out / manifest["config"]["digest"].split(":")[1]).read_bytes() == config
    got = []
    for desc in manifest["layers"]:
        blob = (out / desc["digest"].split(":")[1]).read_bytes()
        got.append(gzip.decompress(blob) if blob[:2] == b"\x1f\x8b" else blob)
    assert got == layers
    url = registry.url
    assert requests.get(f"{url}/v2/ns/img/tags/list").json() == {"name": "ns/img", "tags": ["t1"]}
    assert requests.get(f"{url}/v2/_catalog").json() == {"repositories": ["ns/img"]}
    r = requests.head(f"{url}/v2/ns/img/manifests/t1", headers={"Accept": manifest["mediaType"]})
    assert r.status_code == 200 and r.headers["Docker-Content-Digest"].startswith("sha256:")
    assert r.headers["Content-Type"] == manifest["mediaType"]
    # A second tag by digest reference, then pull by digest with skopeo inspect.
    digest = r.headers["Docker-Content-Digest"]
    raw = requests.get(f"{url}/v2/ns/img/manifests/{digest}").content
    assert "sha256:" + hashlib.sha256(raw).hexdigest() == digest
    r = requests.put(
        f"{url}/v2/ns/img/manifests/t2", data=raw, headers={"Content-Type": manifest["mediaType"]}
    )
    assert r.status_code == 201 and r.headers["Docker-Content-Digest"] == digest
    r = requests.get(f"{url}/v2/ns/img/tags/list?n=1")
    assert r.json()["tags"] == ["t1"] and 'rel="next"' in r.headers["Link"]
    assert requests.get(f"{url}/v2/ns/img/tags/list?n=1&last=t1").json()["tags"] == ["t2"]
    # An OCI index over that manifest; one naming a manifest the repository lacks is refused.
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {
                "mediaType": manifest["mediaType"],
                "digest": digest,
                "size": len(raw),
                "platform": {"architecture": "amd64", "os": "linux"},
            }
        ],
    }
    index_type = {"Content-Type": index["mediaType"]}
    assert requests.put(f"{url}/v2/ns/img/manifests/multi", json=index, headers=index_type).status_code == 201
    r = requests.get(f"{url}/v2/ns/img/manifests/multi", headers={"Accept": index["mediaType"]})
    assert r.headers["Content-Type"] == index["mediaType"] and r.json() == index
    r = requests.get(f"{url}/v2/ns/img/manifests/multi", headers={"Accept": manifest["mediaType"]})
    assert r.status_code == 404
    index["manifests"][0]["digest"] = "sha256:" + "f" * 64
    r = requests.put(f"{url}/v2/ns/img/manifests/bad", json=index, headers=index_type)
    assert r.status_code == 400 and _code(r) == "MANIFEST_BLOB_UNKNOWN"
    assert requests.delete(f"{url}/v2/ns/img/manifests/t2").status_code == 202
    assert requests.get(f"{url}/v2/ns/img/manifests/t2").json()["errors"][0]["code"] == "MANIFEST_UNKNOWN"


def _code(r: requests.Response) -> str:
    return r.json()["errors"][0]["code"]


def test_v2_uploads_ranges_and_faults(registry) -> None:
    url, data = registry.url, os.urandom(300000)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    blob = f"{url}/v2/ns/a/blobs/{digest}"
    # A digest mismatch is refused and leaves no blob.
    r = requests.post(f"{url}/v2/ns/a/blobs/uploads/?digest=sha256:{'0' * 64}", data=data)
    assert r.status_code == 400 and _code(r) == "DIGEST_INVALID"
    assert requests.head(blob).status_code == 404
    # An upload cut mid-way (the client closes with bytes missing) leaves no blob either.
    uploads = os.path.join(registry.root, "uploads")
    target = f"/v2/ns/a/blobs/uploads/?digest={digest}"
    head = f"POST {target} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(data)}\r\n\r\n"
    with socket.create_connection(("127.0.0.1", registry.port)) as s:
        s.sendall(head.encode() + data[:5000])
        poll(lambda: os.listdir(uploads), what="the upload to start")
    poll(lambda: os.listdir(uploads) == [], what="the cut upload to be removed")
    assert requests.head(blob).status_code == 404
    # Chunked: PATCH with Content-Range, a wrong offset is 416, status, then PUT with the digest.
    r = requests.post(f"{url}/v2/ns/a/blobs/uploads/")
    assert r.status_code == 202 and r.headers["Range"] == "0-0"
    location, uuid = r.headers["Location"], r.headers["Docker-Upload-UUID"]
    r = requests.patch(url + location, data=data[:100000], headers={"Content-Range": "0-99999"})
    assert r.status_code == 202 and r.headers["Range"] == "0-99999"
    assert (
        requests.patch(url + location, data=data[100000:], headers={"Content-Range": "5-199999"}).status_code
        == 416
    )
    assert requests.get(url + location).headers["Range"] == "0-99999"
    assert requests.patch(url + location, data=iter([data[100000:]])).status_code == 202
    r = requests.put(f"{url}{location}?digest={digest}")
    assert r.status_code == 201 and r.headers["Docker-Content-Digest"] == digest
    assert requests.get(url + location).status_code == 404 and uuid
    # Ranges on the finished blob.
    r = requests.get(blob, headers={"Range": "bytes=10-19"})
    assert (
        r.status_code == 206
        and r.content == data[10:20]
        and r.headers["Content-Range"] == f"bytes 10-19/{len(data)}"
    )
    assert requests.get(blob).content == data
    assert requests.get(blob, headers={"Range": f"bytes={len(data)}-"}).status_code == 416
    # Cross-repository mount, and a blob the other repository never got.
    r = requests.post(f"{url}/v2/ns/b/blobs/uploads/?mount={digest}&from=ns/a")
    assert r.status_code == 201 and requests.head(f"{url}/v2/ns/b/blobs/{digest}").status_code == 200
    assert requests.head(f"{url}/v2/ns/c/blobs/{digest}").status_code == 404
    # A manifest naming a blob the repository lacks; bad names; a cancelled upload.
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": digest,
            "size": len(data),
        },
        "layers": [
            {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": "sha256:" + "e" * 64, "size": 1}
        ],
    }
    r = requests.put(
        f"{url}/v2/ns/a/manifests/v1", json=manifest, headers={"Content-Type": manifest["mediaType"]}
    )
    assert r.status_code == 400 and _code(r) == "MANIFEST_BLOB_UNKNOWN"
    assert _code(requests.get(f"{url}/v2/ns/a/manifests/v1")) == "MANIFEST_UNKNOWN"
    conn = http.client.HTTPConnection("127.0.0.1", registry.port, timeout=30)
    conn.request("POST", "/v2/ns/../x/blobs/uploads/")  # sent as is: requests would resolve the ".."
    answer = conn.getresponse()
    assert answer.status == 400 and json.loads(answer.read())["errors"][0]["code"] == "NAME_INVALID"
    conn.close()
    assert _code(requests.post(f"{url}/v2/ns/A_/blobs/uploads/")) == "NAME_INVALID"
    location = requests.post(f"{url}/v2/ns/a/blobs/uploads/").headers["Location"]
    assert requests.delete(url + location).status_code == 204
    assert _code(requests.patch(url + location, data=b"x")) == "BLOB_UPLOAD_UNKNOWN"
    assert _code(requests.get(f"{url}/v2/ns/zzz/tags/list")) == "NAME_UNKNOWN"
    # A repository may have a component named like a route part.
    assert requests.post(f"{url}/v2/ns/blobs/blobs/uploads/?digest={digest}", data=data).status_code == 201
    assert requests.get(f"{url}/v2/ns/blobs/blobs/{digest}").content == data
    assert not os.listdir(os.path.join(registry.root, "uploads"))
