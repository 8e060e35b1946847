"""Pull and push over the v1 protocol against our own `docker registry` on 127.0.0.1, standalone and
with `--index`, made v1-only by a proxy that answers 404 to `/v2` (lib/regproxy.py); `pull -a` over
v1 and v2; checksums, cut transfers, credentials, unknown repositories; the docker CLI 28 and SDK
through our daemon (they never speak v1 themselves: the daemon does)."""

from __future__ import annotations

import base64
import io
import json
import os
import tarfile

import pytest
import requests

from lib.clients import cli28
from lib.registryserver import Registry
from lib.registrytests import DAMAGES, check_clean, check_damaged_pull, fresh
from lib.regproxy import RegistryProxy
from lib.require import require_module
from lib.unixhttp import request

DOCKER_CLI = "/usr/local/bin/docker"
BUILD = 'FROM busybox\nENV PUSHED=yes\nRUN echo pushed > /pushed.txt\nCMD ["cat", "/pushed.txt"]\n'


@pytest.fixture(scope="module")
def registry():
    reg = Registry()
    yield reg
    reg.stop()


@pytest.fixture(scope="module")
def v1only(registry):
    proxy = RegistryProxy(registry.port, hide_v2=True)
    yield proxy
    proxy.close()


@pytest.fixture(scope="module")
def pushed(daemon, registry, v1only):
    """busybox with a layer of its own, pushed over v1 by the module's daemon as ns/bb:v1 and :v2."""
    name = f"{v1only.host}/ns/bb"
    daemon.cli("build", "-t", f"{name}:v1", "-", input=BUILD.encode(), check=True, timeout=120)
    daemon.out("tag", f"{name}:v1", f"{name}:v2")
    result = daemon.cli("push", name, check=True, timeout=120)
    return name, result.stdout.decode()


def image_ids(d, name: str) -> list[str]:
    """The image's id and its ancestors' (API 1.9 spells them `id` and `parent`)."""
    chain = []
    current = name
    while current:
        status, _, body = request(d.sock, "GET", f"/v1.9/images/{current}/json")
        assert status == 200, body
        doc = json.loads(body)
        chain.append(doc["id"])
        current = doc.get("parent") or ""
    return chain


def test_push_sequence_and_pull_into_a_fresh_daemon(pushed, daemon, registry, daemon_factory, tmp_path):
    name, out = pushed
    assert f"The push refers to a repository [{name}]" in out
    assert "Image successfully pushed" in out and "Pushing tag for rev" in out
    ids = image_ids(daemon, f"{name}:v1")
    assert len(ids) == 4  # busybox, then ENV, RUN and CMD of the build
    # The registry holds both images under their v1 ids, finished, and both tags.
    for image_id in ids:
        d = os.path.join(registry.root, "v1", "images", image_id)
        assert os.path.exists(os.path.join(d, "layer")) and not os.path.exists(os.path.join(d, "_inprogress"))
    assert requests.get(f"{registry.url}/v1/repositories/ns/bb/tags").json() == {"v1": ids[0], "v2": ids[0]}
    listed = {
        i["id"]: i.get("checksum", "")
        for i in requests.get(f"{registry.url}/v1/repositories/ns/bb/images").json()
    }
    assert set(listed) == set(ids) and all(c.startswith("sha256:") for c in listed.values())
    # A second push finds everything there.
    again = daemon.cli("push", f"{name}:v1", check=True, timeout=120).stdout.decode()
    assert again.count("Image already pushed, skipping") == 4

    b = fresh(daemon_factory)
    result = b.cli("pull", f"{name}:v1", timeout=120)
    assert result.returncode == 0, result.stderr
    text = result.stdout.decode()
    assert "Pulling from ns/bb" in text and "Pull complete" in text and "Verifying Checksum" in text
    assert f"Status: Downloaded newer image for {name}:v1" in text
    assert image_ids(b, f"{name}:v1") == ids  # v1 ids and parents kept
    assert b.out("run", "--rm", f"{name}:v1").strip() == "pushed"
    assert "Image is up to date" in b.out("pull", f"{name}:v1")
    # `save` writes Docker 0.9's layout: <id>/json, <id>/layer.tar, repositories.
    saved = tmp_path / "bb.tar"
    b.out("save", "-o", str(saved), f"{name}:v1")
    with tarfile.open(saved) as tf:
        names = tf.getnames()
        assert all(f"{i}/layer.tar" in names and f"{i}/json" in names for i in ids)
        repos = json.load(tf.extractfile("repositories"))
        assert repos == {name: {"v1": ids[0]}}
        top = json.load(tf.extractfile(f"{ids[0]}/json"))
        assert top["id"] == ids[0] and top["parent"] == ids[1]
    check_clean(b)


def test_pull_falls_back_to_v1_when_v2_does_not_know_the_repository(pushed, registry, daemon_factory):
    # Straight to the registry (it speaks v2 too): ns/bb exists only in v1 there.
    b = fresh(daemon_factory)
    name = f"{registry.hostport}/ns/bb:v2"
    result = b.cli("pull", name, timeout=120)
    assert result.returncode == 0, result.stderr
    assert b.out("run", "--rm", name).strip() == "pushed"
    missing = b.cli("pull", f"{registry.hostport}/ns/nothere:v1")
    assert missing.returncode == 1
    assert missing.stderr.decode().strip() == f"Error: image {registry.hostport}/ns/nothere:v1 not found"


def test_pull_all_tags_v1_and_v2(pushed, daemon, registry, v1only, daemon_factory):
    name, _ = pushed
    b = fresh(daemon_factory)
    result = b.cli("pull", "-a", name, timeout=120)
    assert result.returncode == 0, result.stderr
    listed = b.out("images", "--format", "{{.Repository}}:{{.Tag}}", name).split()
    assert sorted(listed) == [f"{name}:v1", f"{name}:v2"]
    assert b.cli("pull", "-a", f"{name}:v1").returncode != 0  # a tag and -a together: refused
    # v2: two tags pushed over v2 to the same registry, `pull -a` lists them with /tags/list.
    v2name = f"{registry.hostport}/ns/v2bb"
    daemon.out("tag", f"{name}:v1", f"{v2name}:one")
    daemon.out("tag", f"{name}:v1", f"{v2name}:two")
    daemon.cli("push", v2name, check=True, timeout=120)
    assert b.cli("pull", "-a", v2name, timeout=120).returncode == 0
    listed = b.out("images", "--format", "{{.Tag}}", v2name).split()
    assert sorted(listed) == ["one", "two"]
    # The API without a tag is every tag (what CLI 28's `pull -a` sends), over v1.
    c = fresh(daemon_factory)
    status, _, body = request(c.sock, "POST", f"/v1.24/images/create?fromImage={name}")
    assert status == 200 and b"error" not in body, body
    assert sorted(c.out("images", "--format", "{{.Tag}}", name).split()) == ["v1", "v2"]
    missing = b.cli("pull", "-a", f"{v1only.host}/ns/none")
    assert missing.returncode == 1 and b"not found" in missing.stderr


def test_pull_with_tag_flag(pushed, daemon_factory):
    name, _ = pushed
    b = fresh(daemon_factory)
    assert b.cli("pull", "-t", "v2", name, timeout=120).returncode == 0
    assert b.out("images", "--format", "{{.Tag}}", name).split() == ["v2"]
    assert b.cli("pull", "-t", "v2", f"{name}:v1").returncode != 0


def test_run_and_build_pull_a_missing_image_over_v1(pushed, daemon_factory):
    name, _ = pushed
    b = fresh(daemon_factory)
    ran = b.cli("run", "--rm", f"{name}:v1", timeout=120)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.decode().strip() == "pushed"
    assert f"Unable to find image '{name}:v1' locally" in ran.stderr.decode()
    c = fresh(daemon_factory)
    built = c.cli(
        "build", "-t", "from/v1", "-", input=f"FROM {name}:v2\nRUN cat /pushed.txt\n".encode(), timeout=120
    )
    assert built.returncode == 0, built.stdout + built.stderr
    assert "Pull complete" in built.stdout.decode() and "pushed" in built.stdout.decode()


def _tar(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for path, data in files.items():
            info = tarfile.TarInfo(path)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _corrupt(path: str) -> None:
    with open(path, "r+b") as f:
        f.seek(os.path.getsize(path) // 2)
        byte = f.read(1)
        f.seek(-1, 1)
        f.write(bytes([byte[0] ^ 0xFF]))


def test_checksum_mismatch_is_refused_naming_the_layer(daemon, registry, v1only, daemon_factory):
    # An image of its own: the layer corrupted here is nobody else's.
    name = f"{v1only.host}/ns/corrupt:v1"
    daemon.cli("import", "-", name, input=_tar({"data.bin": os.urandom(300_000)}), check=True)
    daemon.cli("push", name, check=True, timeout=120)
    layer_id = image_ids(daemon, name)[0]
    _corrupt(os.path.join(registry.root, "v1", "images", layer_id, "layer"))
    b = fresh(daemon_factory)
    result = b.cli("pull", name, timeout=120)
    assert result.returncode == 1
    err = result.stderr.decode()
    assert f"layer {layer_id}: checksum mismatch" in err, err
    assert b.out("images", "-q", "-a") == ""
    check_clean(b)


def test_a_layer_known_only_by_its_tarsum_is_checked_against_it(daemon, registry, v1only, daemon_factory):
    """A registry of Docker 0.9's time: no payload checksum, the tarsum in `X-Docker-Checksum` and in
    the index's list. Ours is made so by rewriting its files after a push."""
    from lxc_docker.registry import tarsum

    name = f"{v1only.host}/ns/tarsummed:v1"
    daemon.cli("import", "-", name, input=_tar({"t.bin": os.urandom(200_000)}), check=True)
    daemon.cli("push", name, check=True, timeout=120)
    image_id = image_ids(daemon, name)[0]
    d = os.path.join(registry.root, "v1", "images", image_id)
    with open(os.path.join(d, "layer"), "rb") as layer:
        json_raw = open(os.path.join(d, "json"), "rb").read()
        ts = tarsum.compute(layer, json_raw, "tarsum")
    os.unlink(os.path.join(d, "_payload_checksum"))
    with open(os.path.join(d, "_client_checksum"), "w") as f:
        f.write(ts)
    put = requests.put(
        f"{registry.url}/v1/repositories/ns/tarsummed/images", json=[{"id": image_id, "checksum": ts}]
    )
    assert put.status_code == 204
    b = fresh(daemon_factory)
    assert b.cli("pull", name, timeout=120).returncode == 0
    assert image_ids(b, name) == [image_id]
    _corrupt(os.path.join(d, "layer"))
    c = fresh(daemon_factory)
    result = c.cli("pull", name, timeout=120)
    assert result.returncode == 1
    err = result.stderr.decode()
    assert f"layer {image_id}: checksum mismatch: its tarsum is tarsum+sha256:" in err, err
    assert f"the index lists {ts}" in err
    assert c.out("images", "-q", "-a") == ""
    check_clean(c)


@DAMAGES
def test_damaged_transfers(pushed, registry, daemon_factory, mode, times, ok):
    errors = ("checksum mismatch",) if mode == "flip" else ("transfer interrupted",)
    check_damaged_pull(daemon_factory, registry.port, "ns/bb:v1", mode, times, ok, errors, hide_v2=True)


def test_pull_killed_midway_leaves_a_store_the_next_start_cleans(pushed, daemon_factory, monkeypatch):
    name, _ = pushed
    monkeypatch.setenv("LXC_DOCKER_TEST_CRASH", "pull:1")  # after the first image is in
    b = fresh(daemon_factory)
    assert b.cli("pull", f"{name}:v1", timeout=120).returncode != 0
    assert b.proc.wait(30) == -9
    monkeypatch.delenv("LXC_DOCKER_TEST_CRASH")
    again = daemon_factory(base=b.base).start()
    assert again.out("images", "-q", "-a") == ""
    assert again.cli("pull", f"{name}:v1", timeout=120).returncode == 0
    check_clean(again)


# -- an index: users, tokens, credentials ------------------------------------------------------------


def _dockercfg(home, user: str, password: str) -> dict[str, str]:
    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    cfg = {"https://index.docker.io/v1/": {"auth": auth, "email": f"{user}@example.com"}}
    (home / ".dockercfg").write_text(json.dumps(cfg))
    return {"HOME": str(home)}


def test_index_login_push_and_pull_with_tokens(busybox_tar, daemon_factory, monkeypatch, tmp_path):
    index = Registry("--index")
    proxy = RegistryProxy(index.port, hide_v2=True)
    try:
        user = {"username": "alice", "password": "wonderland", "email": "alice@example.com"}
        assert requests.post(f"{index.url}/v1/users/", json=user).status_code == 201
        # Names without a registry host go to the default index: here, ours behind the v1-only proxy.
        monkeypatch.setenv("LXC_DOCKER_DEFAULT_REGISTRY", proxy.host)
        a = fresh(daemon_factory)
        a.cli("import", "-", "alice/bb:v1", input=open(busybox_tar, "rb").read(), check=True)
        a.out("tag", "alice/bb:v1", "bob/bb:v1")
        anonymous = a.cli("push", "alice/bb", env={"HOME": str(tmp_path)})
        assert anonymous.returncode == 1 and b"unauthorized" in anonymous.stderr, anonymous.stderr
        (tmp_path / "wrong").mkdir()
        wrong = a.cli("push", "alice/bb", env=_dockercfg(tmp_path / "wrong", "alice", "nope"))
        assert wrong.returncode == 1 and b"unauthorized" in wrong.stderr, wrong.stderr
        (tmp_path / "good").mkdir()
        env = _dockercfg(tmp_path / "good", "alice", "wonderland")
        other = a.cli("push", "bob/bb", env=env)
        assert other.returncode == 1 and b"denied" in other.stderr, other.stderr
        pushed = a.cli("push", "alice/bb", env=env, timeout=120)
        assert pushed.returncode == 0, pushed.stderr
        image_id = image_ids(a, "alice/bb:v1")[0]
        listed = requests.get(f"{index.url}/v1/repositories/alice/bb/images").json()
        assert listed == [{"id": image_id, "checksum": listed[0]["checksum"]}]
        assert listed[0]["checksum"].startswith("sha256:")

        b = fresh(daemon_factory)  # an anonymous pull: reads are public, the index gives a read token
        result = b.cli("pull", "alice/bb:v1", env={"HOME": str(tmp_path)}, timeout=120)
        assert result.returncode == 0, result.stderr
        assert image_ids(b, "alice/bb:v1")[0] == image_id
        assert b.out("run", "--rm", "alice/bb:v1", "echo", "hi").strip() == "hi"
        missing = b.cli("pull", "alice/none:v1", env={"HOME": str(tmp_path)})
        assert missing.returncode == 1
        assert missing.stderr.decode().strip() == "Error: image alice/none:v1 not found"
        check_clean(b)
    finally:
        proxy.close()
        index.stop()


# -- clients we did not write ----------------------------------------------------------------------


def test_docker_cli_28_pulls_from_a_v1_registry(pushed, daemon_factory):
    name, _ = pushed
    b = fresh(daemon_factory)
    docker = cli28(b.host)
    pulled = docker("pull", f"{name}:v1")
    assert b"Pull complete" in pulled.stdout
    assert b.out("run", "--rm", f"{name}:v1").strip() == "pushed"
    docker("pull", "-a", name)
    assert sorted(b.out("images", "--format", "{{.Tag}}", name).split()) == ["v1", "v2"]
    missing = docker("pull", name.replace("/bb", "/none") + ":v1", check=False)
    assert missing.returncode == 1 and b"not found" in missing.stderr


def test_docker_sdk_pulls_and_pushes_over_v1(pushed, v1only, daemon_factory):
    docker = require_module("docker", "pip install docker; scripts/setup-dev.sh installs it")
    name, _ = pushed
    b = fresh(daemon_factory)
    client = docker.DockerClient(base_url=b.host, version="auto", timeout=120)
    try:
        image = client.images.pull(name, tag="v1")
        assert f"{name}:v1" in image.tags
        every = client.images.pull(name, all_tags=True)
        assert sorted(t for i in every for t in i.tags) == [f"{name}:v1", f"{name}:v2"]
        image.tag(f"{v1only.host}/sdk/bb", "v3")
        lines = list(client.images.push(f"{v1only.host}/sdk/bb", tag="v3", stream=True, decode=True))
        assert not any("error" in m for m in lines), lines
        assert any(m.get("status") == "Image already pushed, skipping" for m in lines)
        with pytest.raises(docker.errors.NotFound):
            client.images.pull(f"{v1only.host}/sdk/none", tag="v1")
    finally:
        client.close()


def test_pushed_layer_is_an_uncompressed_tar_with_the_image_files(pushed, daemon, registry):
    name, _ = pushed
    ids = image_ids(daemon, f"{name}:v1")  # CMD, RUN, ENV, busybox
    with open(os.path.join(registry.root, "v1", "images", ids[1], "layer"), "rb") as f:
        data = f.read()
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tf:
        assert tf.extractfile("pushed.txt").read() == b"pushed\n"
    stored = json.loads(open(os.path.join(registry.root, "v1", "images", ids[0], "json"), "rb").read())
    assert stored["id"] == ids[0] and stored["parent"] == ids[1]
    assert stored["config"]["Cmd"] == ["cat", "/pushed.txt"] and "Size" not in stored
