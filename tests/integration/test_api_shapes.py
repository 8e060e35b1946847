"""Response shapes by API version (issue 11, item 7): `sha256:` image ids from 1.22, the 1.24 `Mounts`,
the `POST /images/load` stream, stream headers sent at once; 1.9 requests keep their 1.9 shapes."""

from __future__ import annotations

import json
import os
import socket
import time

import pytest

from lib.tarballs import tar_of
from lib.unixhttp import request


def get(daemon, path: str):
    status, _, body = request(daemon.sock, "GET", path)
    assert status == 200, body
    return json.loads(body)


def test_image_ids_by_version(daemon, sdk):
    bare = get(daemon, "/v1.9/images/busybox/json")["id"]
    assert len(bare) == 64 and ":" not in bare
    assert get(daemon, "/v1.24/images/busybox/json")["Id"] == "sha256:" + bare
    assert get(daemon, "/v1.21/images/busybox/json")["Id"] == bare
    rows = {r["RepoTags"][0]: r for r in get(daemon, "/v1.24/images/json")}
    assert rows["busybox:latest"]["Id"] == "sha256:" + bare
    assert {r["RepoTags"][0]: r for r in get(daemon, "/v1.9/images/json")}["busybox:latest"]["Id"] == bare
    assert get(daemon, "/v1.24/images/busybox/history")[0]["Id"] == "sha256:" + bare
    assert get(daemon, "/v1.9/images/busybox/history")[0]["Id"] == bare
    # An id with its prefix names the image everywhere a name does.
    assert get(daemon, f"/v1.24/images/sha256:{bare}/json")["Id"] == "sha256:" + bare
    c = sdk.containers.create("busybox", "true")
    try:
        assert c.attrs["Image"] == "sha256:" + bare
        assert c.image.id == "sha256:" + bare and "busybox:latest" in c.image.tags
        assert get(daemon, f"/v1.9/containers/{c.id}/json")["Image"] == bare
        row = next(r for r in get(daemon, "/v1.24/containers/json?all=1") if r["Id"] == c.id)
        assert (row["Image"], row["ImageID"]) == ("busybox", "sha256:" + bare)
        assert (
            next(r for r in get(daemon, "/v1.9/containers/json?all=1") if r["Id"] == c.id)["ImageID"] == bare
        )
    finally:
        c.remove()


def test_docker_cli_28_sees_sha256_ids_and_deletes_by_them(daemon, real_cli):
    bare = real_cli("import", "-", "shapes/one:v1", input=tar_of({"f": b"1\n"})).stdout.decode().strip()
    assert bare.startswith("sha256:")
    assert (
        real_cli("image", "inspect", "--format", "{{.Id}}", "shapes/one:v1").stdout.decode().strip() == bare
    )
    out = real_cli("rmi", bare).stdout.decode()
    assert out == f"Untagged: shapes/one:v1\nDeleted: {bare}\n"


def test_mounts_in_the_1_24_shape(daemon, real_cli, tmp_path):
    host = tmp_path / "host"
    host.mkdir()
    cid = real_cli("create", "-v", "/vol", "-v", f"{host}:/h:ro", "busybox", "true").stdout.decode().strip()
    try:
        mounts = {m["Destination"]: m for m in get(daemon, f"/v1.24/containers/{cid}/json")["Mounts"]}
        volume = mounts["/vol"]
        assert volume["Source"] == os.path.join(daemon.root, "volumes", volume["Name"], "_data")
        assert volume == {
            "Type": "volume",
            "Name": volume["Name"],
            "Source": volume["Source"],
            "Destination": "/vol",
            "Driver": "local",
            "Mode": "",
            "RW": True,
            "Propagation": "",
        }
        assert mounts["/h"] == {
            "Type": "bind",
            "Source": str(host),
            "Destination": "/h",
            "Mode": "ro",
            "RW": False,
            "Propagation": "rprivate",
        }
        assert "Mounts" not in get(daemon, f"/v1.9/containers/{cid}/json")
        fmt = "{{range .Mounts}}{{.Destination}} {{.Propagation}};{{end}}"
        assert real_cli("inspect", "--format", fmt, cid).stdout.decode() == "/h rprivate;/vol ;\n"
    finally:
        real_cli("rm", "-v", cid)


def test_load_is_a_json_stream_from_1_23(daemon, sdk):
    docker = pytest.importorskip("docker")
    image_id = daemon.out("import", "-", input=tar_of({"g": b"2\n"})).strip()
    status, _, saved = request(daemon.sock, "GET", f"/v1.24/images/get?names={image_id}")
    assert status == 200
    daemon.out("rmi", image_id)
    status, headers, body = request(daemon.sock, "POST", "/v1.24/images/load?quiet=1", saved)
    assert (status, headers["Content-Type"]) == (200, "application/json")
    assert [json.loads(line) for line in body.splitlines()] == [
        {"stream": f"Loaded image ID: sha256:{image_id}\n"}
    ]
    daemon.out("tag", image_id, "shapes/loaded:t")
    data = b"".join(sdk.images.get("shapes/loaded:t").save(named="shapes/loaded:t"))
    sdk.images.remove("shapes/loaded:t")
    daemon.cli("rmi", image_id)
    loaded = sdk.images.load(data)
    assert [(img.id, img.tags) for img in loaded] == [("sha256:" + image_id, ["shapes/loaded:t"])]
    # A bad archive: an error inside the stream at 1.24 (the SDK raises ImageLoadError), an HTTP
    # error at 1.9.
    status, _, body = request(daemon.sock, "POST", "/v1.24/images/load", b"not a tar archive" * 100)
    message = json.loads(body)
    assert status == 200 and message["error"] and message["errorDetail"]["message"] == message["error"]
    with pytest.raises(docker.errors.ImageLoadError):
        sdk.images.load(b"not a tar archive" * 100)
    status, _, body = request(daemon.sock, "POST", "/v1.9/images/load", b"not a tar archive" * 100)
    assert status >= 400 and not body.startswith(b"{")
    status, _, body = request(daemon.sock, "POST", "/v1.9/images/load", data)
    assert (status, body) == (200, b"")
    daemon.out("rmi", "shapes/loaded:t")


def read_head(sock: socket.socket) -> bytes:
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk:
            break
        head += chunk
    return head


def test_stream_headers_come_before_the_first_event(daemon):
    cid = daemon.out("create", "busybox", "true").strip()
    try:
        for target in ("GET /v1.24/events", f"POST /v1.24/containers/{cid}/attach?stream=1&stdout=1"):
            with socket.socket(socket.AF_UNIX) as s:
                s.settimeout(10)  # nothing happens meanwhile: a head that waited would time out
                s.connect(daemon.sock)
                upgrade = "Upgrade: tcp\r\nConnection: Upgrade\r\n"
                s.sendall(f"{target} HTTP/1.1\r\nHost: localhost\r\n{upgrade}\r\n".encode())
                head = read_head(s)
                assert head.split(b"\r\n")[0] in (b"HTTP/1.1 200 OK", b"HTTP/1.1 101 UPGRADED"), head
    finally:
        daemon.cli("rm", cid)


def test_image_events_name_the_image_by_version(daemon):
    since = int(time.time()) - 1
    bare = get(daemon, "/v1.9/images/busybox/json")["id"]
    daemon.out("tag", "busybox", "shapes/evt:1")
    daemon.out("rmi", "shapes/evt:1")
    until = int(time.time()) + 1
    query = f'since={since}&until={until}&filters={{"type":["image"],"image":["shapes/evt"]}}'
    status, _, body = request(daemon.sock, "GET", f"/v1.24/events?{query}")
    events = [json.loads(line) for line in body.splitlines()]
    assert status == 200
    assert [(e["Action"], e["id"], e["Actor"]["ID"], e["Actor"]["Attributes"]["name"]) for e in events] == [
        ("tag", "sha256:" + bare, "sha256:" + bare, "shapes/evt:1"),
        ("untag", "sha256:" + bare, "sha256:" + bare, "shapes/evt:1"),
    ]
    status, _, body = request(daemon.sock, "GET", f"/v1.9/events?{query}")
    assert [json.loads(line) for line in body.splitlines()] == [
        {"status": "tag", "id": bare, "time": events[0]["time"]},
        {"status": "untag", "id": bare, "time": events[1]["time"]},
    ]


def test_swarm_endpoints_answer_as_a_node_outside_any_swarm(daemon, sdk):
    """Swarm mode is out of scope; the answers are those of a Docker node not in a swarm, so clients
    that leave a swarm "just in case" (the docker SDK's own test teardown does) go on."""
    for method, path in (("GET", "/v1.24/swarm"), ("POST", "/v1.24/swarm/leave?force=1")):
        status, _, body = request(daemon.sock, method, path)
        assert status == 503, (path, status, body)
        assert json.loads(body)["message"] == "This node is not part of a swarm"
    assert sdk.swarm.leave(force=True) is True
