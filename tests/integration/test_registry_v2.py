"""Pull and push over the v2 protocol against Debian's `docker-registry` (distribution 2.8) on
127.0.0.1: our CLI, the docker CLI 28 and the docker SDK for Python; progress; run and FROM of a
missing image; htpasswd login; manifests we must refuse; faults injected by a TCP proxy."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import urllib.request

import pytest

from lib.clients import cli28
from lib.daemon import docker_cmd, our_env
from lib.registrytests import DAMAGES, check_clean, check_damaged_pull, distribution_registry, fresh
from lib.require import require_module, require_tools
from lib.unixhttp import request
from lib.v2registry import BINARY, Registry, free_port

DOCKER_CLI = "/usr/local/bin/docker"


@pytest.fixture(scope="module")
def registry():
    yield from distribution_registry()


@pytest.fixture(scope="module")
def pushed(daemon, registry):
    """busybox with a config of its own, pushed by the module's daemon as ns/bb:v1."""
    name = f"{registry.host}/ns/bb:v1"
    build = 'FROM busybox\nENV PUSHED=yes\nRUN echo pushed > /pushed.txt\nCMD ["cat", "/pushed.txt"]\n'
    daemon.cli("build", "-t", name, "-", input=build.encode(), check=True, timeout=120)
    result = daemon.cli("push", name, check=True, timeout=120)
    return name, result.stdout.decode()


def registry_get(registry, path: str, accept: str = "") -> tuple[bytes, dict]:
    req = urllib.request.Request(
        f"http://{registry.host}{path}", headers={"Accept": accept} if accept else {}
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.read(), dict(resp.headers)


def put_blob(registry, repo: str, data: bytes) -> str:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    req = urllib.request.Request(f"http://{registry.host}/v2/{repo}/blobs/uploads/", method="POST", data=b"")
    with urllib.request.urlopen(req, timeout=10) as resp:
        location = resp.headers["Location"]
    sep = "&" if "?" in location else "?"
    url = location if location.startswith("http") else f"http://{registry.host}{location}"
    # An explicit type: with urllib's default (a form), the registry would read the body as form fields.
    headers = {"Content-Type": "application/octet-stream"}
    req = urllib.request.Request(f"{url}{sep}digest={digest}", method="PUT", data=data, headers=headers)
    with urllib.request.urlopen(req, timeout=10):
        pass
    return digest


def put_manifest(registry, repo: str, ref: str, doc: dict, media_type: str) -> str:
    body = json.dumps(doc).encode()
    req = urllib.request.Request(
        f"http://{registry.host}/v2/{repo}/manifests/{ref}", method="PUT", data=body,
        headers={"Content-Type": media_type},
    )  # fmt: skip
    with urllib.request.urlopen(req, timeout=10):
        pass
    return "sha256:" + hashlib.sha256(body).hexdigest()


def layer_tar(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def crafted_image(registry, repo: str, layers: list[bytes], diff_ids: list[str] | None = None) -> dict:
    """Blobs for `layers` (gzip) and their config; returns the OCI manifest document (not pushed)."""
    import gzip

    descs, ids = [], []
    for raw in layers:
        blob = gzip.compress(raw, mtime=0)
        descs.append({
            "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
            "digest": put_blob(registry, repo, blob), "size": len(blob),
        })  # fmt: skip
        ids.append("sha256:" + hashlib.sha256(raw).hexdigest())
    config = {
        "architecture": "amd64", "os": "linux", "created": "2026-12-04T00:00:00Z",
        "config": {"Cmd": ["/bin/sh"], "Env": ["CRAFTED=1"]},
        "rootfs": {"type": "layers", "diff_ids": ids if diff_ids is None else diff_ids},
    }  # fmt: skip
    data = json.dumps(config).encode()
    return {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": put_blob(registry, repo, data), "size": len(data)},
        "layers": descs,
    }  # fmt: skip


# -- our CLI ---------------------------------------------------------------------------------------


def test_push_progress_and_manifest_docker_pulls(pushed, registry):
    name, out = pushed
    assert f"The push refers to a repository [{registry.host}/ns/bb]" in out
    assert "Pushed" in out or "Layer already exists" in out
    assert "v1: digest: sha256:" in out and " size: " in out
    body, headers = registry_get(
        registry, "/v2/ns/bb/manifests/v1", "application/vnd.docker.distribution.manifest.v2+json"
    )
    doc = json.loads(body)
    assert doc["mediaType"] == "application/vnd.docker.distribution.manifest.v2+json"
    assert all(layer["mediaType"].endswith("diff.tar.gzip") for layer in doc["layers"])
    config = json.loads(registry_get(registry, f"/v2/ns/bb/blobs/{doc['config']['digest']}")[0])
    assert len(config["rootfs"]["diff_ids"]) == len(doc["layers"])
    assert "PUSHED=yes" in config["config"]["Env"] and config["config"]["Cmd"] == ["cat", "/pushed.txt"]


def test_pull_into_fresh_daemon_same_image_and_save_loads(pushed, daemon, daemon_factory, tmp_path):
    name, _ = pushed
    b = fresh(daemon_factory)
    result = b.cli("pull", name, check=True, timeout=120)
    out = result.stdout.decode()
    wanted = ["v1: Pulling from ns/bb", "Pulling fs layer", "Verifying Checksum", "Download complete"]
    wanted += ["Pull complete", "Digest: sha256:", f"Status: Downloaded newer image for {name}"]
    for line in wanted:
        assert line in out, out
    assert "\x1b[" not in out  # not a terminal: plain lines
    ours = json.loads(daemon.out("inspect", name))[0]
    theirs = json.loads(b.out("inspect", name))[0]
    assert (
        theirs["config"]["Env"] == ours["config"]["Env"] and theirs["config"]["Cmd"] == ours["config"]["Cmd"]
    )
    assert b.out("run", "--rm", name).strip() == "pushed"
    assert b.out("run", "--rm", name, "ls", "/bin/busybox").strip() == "/bin/busybox"
    # A second pull has nothing to fetch.
    again = b.out("pull", name)
    assert f"Status: Image is up to date for {name}" in again and "Already exists" in again
    # The pulled chain saves in the legacy layout, whose ids are content-derived: a fresh daemon
    # loading the archive gets the same ids, as a fresh daemon pulling gets them.
    archive = tmp_path / "pulled.tar"
    b.out("save", "-o", str(archive), name)
    with tarfile.open(archive) as tar:
        repos = json.load(tar.extractfile("repositories"))
        assert repos == {f"{name.rsplit(':', 1)[0]}": {"v1": theirs["id"]}}
        meta = json.load(tar.extractfile(f"{theirs['id']}/json"))
        assert meta["id"] == theirs["id"] and meta["parent"] == theirs["parent"]
        assert tar.extractfile(f"{theirs['id']}/VERSION").read() == b"1.0"
        tarfile.open(fileobj=tar.extractfile(f"{theirs['id']}/layer.tar")).getnames()
    c = fresh(daemon_factory)
    c.out("pull", name)
    assert json.loads(c.out("inspect", name))[0]["id"] == theirs["id"]
    check_clean(b)


def test_pull_progress_stream_over_the_api(pushed, daemon_factory):
    name, _ = pushed
    b = fresh(daemon_factory)
    repo, tag = name.rsplit(":", 1)
    status, _, body = request(b.sock, "POST", f"/v1.9/images/create?fromImage={repo}&tag={tag}", timeout=120)
    assert status == 200
    msgs = [json.loads(line) for line in body.splitlines() if line.strip()]
    statuses = [m.get("status", "") for m in msgs]
    assert statuses[0] == "Pulling from ns/bb" and msgs[0]["id"] == "v1"
    downloading = [m for m in msgs if m.get("status") == "Downloading"]
    assert downloading and all({"current", "total"} <= set(m["progressDetail"]) for m in downloading)
    assert all(m["progress"].startswith("[") for m in downloading)
    assert statuses[-1] == f"Status: Downloaded newer image for {name}"
    assert not any("error" in m for m in msgs)


def test_run_and_build_pull_a_missing_image(pushed, daemon_factory):
    name, _ = pushed
    b = fresh(daemon_factory)
    result = b.cli("run", "--rm", name, "cat", "/pushed.txt", timeout=120)
    assert result.returncode == 0, result.stderr
    assert f"Unable to find image '{name}' locally" in result.stderr.decode()
    assert result.stdout.decode().strip() == "pushed"
    c = fresh(daemon_factory)
    built = c.cli("build", "-t", "from/pulled", "-", input=f"FROM {name}\nRUN cat /pushed.txt\n".encode(),
                  timeout=120)  # fmt: skip
    assert built.returncode == 0, built.stdout + built.stderr
    assert "Pull complete" in built.stdout.decode() and "pushed" in built.stdout.decode()
    assert name.split(":")[0] in c.out("images")


def test_unknown_image_and_unreachable_default_index(registry, daemon_factory, monkeypatch):
    closed = free_port()
    # Names without a registry host go to the default index; here it is a closed loopback port.
    monkeypatch.setenv("LXC_DOCKER_DEFAULT_REGISTRY", f"127.0.0.1:{closed}")
    b = fresh(daemon_factory)
    result = b.cli("pull", f"{registry.host}/ns/nosuch:v9")
    assert result.returncode == 1
    assert result.stderr.decode().strip() == f"Error: image {registry.host}/ns/nosuch:v9 not found"
    status, _, body = request(
        b.sock, "POST", f"/v1.24/images/create?fromImage={registry.host}/ns/bb&tag=nosuch"
    )
    assert status == 404 and b"not found" in body
    result = b.cli("pull", "someimage", timeout=30)
    assert result.returncode == 1 and b"cannot reach the registry" in result.stderr
    assert b.out("images", "-q") == ""


def test_crafted_manifests(registry, daemon_factory):
    b = fresh(daemon_factory)
    good = crafted_image(
        registry, "crafted/img", [layer_tar({"a.txt": b"A\n"}), layer_tar({"b.txt": b"B\n"})]
    )
    digest = put_manifest(registry, "crafted/img", "one", good, good["mediaType"])
    arm = crafted_image(registry, "crafted/img", [layer_tar({"arm.txt": b"arm\n"})])
    arm_digest = put_manifest(registry, "crafted/img", "arm", arm, arm["mediaType"])
    entries = [(arm, arm_digest, "arm64"), (good, digest, "amd64")]
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {"mediaType": m["mediaType"], "digest": d, "size": len(json.dumps(m)),
             "platform": {"architecture": arch, "os": "linux"}}
            for m, d, arch in entries
        ],
    }  # fmt: skip
    put_manifest(registry, "crafted/img", "multi", index, index["mediaType"])
    b.out("pull", f"{registry.host}/crafted/img:multi")
    info = json.loads(b.out("inspect", f"{registry.host}/crafted/img:multi"))[0]
    assert "CRAFTED=1" in info["config"]["Env"] and info["parent"]  # two layers: the amd64 image

    more = crafted_image(registry, "crafted/img", [layer_tar({"c": b"c"}), layer_tar({"d": b"d"})])
    more["layers"].append(more["layers"][0])
    put_manifest(registry, "crafted/img", "more", more, more["mediaType"])
    result = b.cli("pull", f"{registry.host}/crafted/img:more")
    assert result.returncode == 1 and b"3 layers but the image config has 2 diff_ids" in result.stderr

    foreign = crafted_image(registry, "crafted/img", [layer_tar({"e": b"e"})])
    foreign["layers"][0]["urls"] = ["http://127.0.0.1:1/blob"]
    put_manifest(registry, "crafted/img", "foreign", foreign, foreign["mediaType"])
    result = b.cli("pull", f"{registry.host}/crafted/img:foreign")
    assert result.returncode == 1 and b"foreign layer" in result.stderr

    lying = crafted_image(registry, "crafted/img", [layer_tar({"f": b"f"})], diff_ids=["sha256:" + "1" * 64])
    put_manifest(registry, "crafted/img", "lying", lying, lying["mediaType"])
    result = b.cli("pull", f"{registry.host}/crafted/img:lying")
    assert result.returncode == 1 and b"does not match the image config's diff_id" in result.stderr

    malicious = crafted_image(registry, "crafted/img", [layer_tar({"../../escape.txt": b"x"})])
    put_manifest(registry, "crafted/img", "evil", malicious, malicious["mediaType"])
    result = b.cli("pull", f"{registry.host}/crafted/img:evil")
    assert result.returncode == 1
    assert not os.path.exists(os.path.join(os.path.dirname(b.root), "escape.txt"))
    tags = b.out("images")
    assert "more" not in tags and "foreign" not in tags and "lying" not in tags and "evil" not in tags
    check_clean(b)


# -- faults ----------------------------------------------------------------------------------------


@DAMAGES
def test_damaged_transfers(pushed, registry, daemon_factory, mode, times, ok):
    errors = ("verification failed for digest sha256:",)
    if mode == "cut":
        errors = ("transfer interrupted", "verification failed")
    check_damaged_pull(daemon_factory, registry.port, "ns/bb:v1", mode, times, ok, errors)


# -- login -----------------------------------------------------------------------------------------


def test_login_with_htpasswd_registry(daemon, daemon_factory, tmp_path):
    require_tools(BINARY, "htpasswd", hint="apt-get install docker-registry apache2-utils")
    reg = Registry(users={"alice": "s3cret"}).start()
    try:
        home = {"HOME": str(tmp_path)}
        name = f"{reg.host}/private/bb:v1"
        daemon.out("tag", "busybox", name)
        denied = daemon.cli("push", name, env=home)
        assert denied.returncode == 1 and b"unauthorized" in denied.stderr
        wrong = daemon.cli("login", "-u", "alice", "-p", "nope", "-e", "a@example.com", reg.host, env=home)
        assert wrong.returncode == 1 and b"unauthorized" in wrong.stderr
        assert not (tmp_path / ".dockercfg").exists()
        no_tty = daemon.cli("login", "-u", "alice", reg.host, env=home, input=b"")
        assert no_tty.returncode == 1 and b"non TTY" in no_tty.stderr
        ok = daemon.cli("login", "-u", "alice", "-p", "s3cret", "-e", "a@example.com", reg.host, env=home)
        assert ok.returncode == 0 and b"Login Succeeded" in ok.stdout, ok.stderr
        cfg = json.loads((tmp_path / ".dockercfg").read_text())
        assert cfg == {
            reg.host: {"auth": base64.b64encode(b"alice:s3cret").decode(), "email": "a@example.com"}
        }
        daemon.cli("push", name, env=home, check=True, timeout=120)
        b = fresh(daemon_factory)
        assert b.cli("pull", name, env=home, timeout=120).returncode == 0
        assert b.out("run", "--rm", name, "echo", "hi").strip() == "hi"
        c = fresh(daemon_factory)
        other = tmp_path / "other"
        other.mkdir()
        (other / ".docker").mkdir()
        # ~/.docker/config.json (later Docker's file) is read too.
        (other / ".docker" / "config.json").write_text(json.dumps({"auths": {reg.host: cfg[reg.host]}}))
        assert c.cli("pull", name, env={"HOME": str(other)}, timeout=120).returncode == 0
        out = (
            daemon.out("logout", reg.host) if False else daemon.cli("logout", reg.host, env=home, check=True)
        )
        assert b"Remove login credentials" in out.stdout
        assert json.loads((tmp_path / ".dockercfg").read_text()) == {}
        again = fresh(daemon_factory).cli("pull", name, env=home)
        assert again.returncode == 1 and b"unauthorized" in again.stderr
        if shutil.which(DOCKER_CLI):  # the docker CLI 28's login goes through our POST /auth too
            env = {
                "PATH": os.environ["PATH"],
                "DOCKER_CONFIG": str(tmp_path / "cli28"),
                "HOME": str(tmp_path),
            }
            cli28 = [DOCKER_CLI, "-H", daemon.host, "login", "-u", "alice", reg.host]
            bad = subprocess.run(cli28 + ["-p", "nope"], capture_output=True, env=env, timeout=60)
            assert bad.returncode == 1 and b"unauthorized" in bad.stderr, bad.stderr
            good = subprocess.run(cli28 + ["-p", "s3cret"], capture_output=True, env=env, timeout=60)
            assert good.returncode == 0 and b"Login Succeeded" in good.stdout, good.stderr
    finally:
        daemon.cli("rmi", f"{reg.host}/private/bb:v1")
        reg.stop()


# -- clients we did not write ----------------------------------------------------------------------


def test_docker_cli_28_pull_and_push(pushed, daemon, registry, daemon_factory):
    name, _ = pushed
    b = fresh(daemon_factory)
    docker = cli28(b.host)
    pulled = docker("pull", name)
    assert b"Pull complete" in pulled.stdout and b"Digest: sha256:" in pulled.stdout
    assert b.out("run", "--rm", name).strip() == "pushed"
    target = f"{registry.host}/cli28/bb:v2"
    b.out("tag", name, target)
    pushed28 = docker("push", target)
    assert b"v2: digest: sha256:" in pushed28.stdout
    missing = docker("pull", f"{registry.host}/cli28/none:v1", check=False)
    assert missing.returncode == 1 and b"not found" in missing.stderr


def test_docker_sdk_pull_and_push(pushed, registry, daemon_factory):
    docker = require_module("docker", "pip install docker; scripts/setup-dev.sh installs it")
    name, _ = pushed
    b = fresh(daemon_factory)
    client = docker.DockerClient(base_url=b.host, version="auto", timeout=120)
    try:
        repo, tag = name.rsplit(":", 1)
        image = client.images.pull(repo, tag=tag)
        assert name in image.tags
        image.tag(f"{registry.host}/sdk/bb", "v3")
        lines = list(client.images.push(f"{registry.host}/sdk/bb", tag="v3", stream=True, decode=True))
        assert any(m.get("status") in ("Pushed", "Layer already exists", "Mounted from ns/bb") for m in lines)
        assert any(m.get("aux", {}).get("Tag") == "v3" for m in lines)
        assert not any("error" in m for m in lines)
        with pytest.raises(docker.errors.NotFound):
            client.images.pull(f"{registry.host}/sdk/none", tag="v1")
    finally:
        client.close()


@pytest.mark.parametrize("step", [0, 1])
def test_pull_killed_midway_leaves_a_store_the_next_start_cleans(pushed, daemon_factory, monkeypatch, step):
    name, _ = pushed
    # The daemon SIGKILLs itself at that step of the pull's intent (0: intent written, 1: first image in).
    monkeypatch.setenv("LXC_DOCKER_TEST_CRASH", f"pull:{step}")
    b = fresh(daemon_factory)
    result = b.cli("pull", name, timeout=120)
    assert result.returncode != 0
    assert b.proc.wait(30) == -9
    monkeypatch.delenv("LXC_DOCKER_TEST_CRASH")
    again = daemon_factory(base=b.base).start()
    assert again.out("images", "-q", "-a") == ""
    assert again.out("pull", name)  # and the pull works afterwards
    assert again.out("run", "--rm", name).strip() == "pushed"
    check_clean(again)


def test_pull_killed_at_random_instants_is_all_or_nothing(pushed, daemon_factory):
    """kill -9 of the daemon at random instants over a pull's measured duration (seed printed, or
    LXC_DOCKER_FAULT_SEED to replay): after a restart the image is there whole and runs, or nothing
    of it is, and the store checks clean."""
    import random
    import time

    name, _ = pushed
    seed = int(os.environ.get("LXC_DOCKER_FAULT_SEED") or random.randrange(1 << 30))
    print(f"pull fault seed: {seed}")
    rng = random.Random(seed)
    probe = fresh(daemon_factory)
    started = time.monotonic()
    probe.out("pull", name)
    duration = time.monotonic() - started
    probe.stop()
    for _ in range(3):
        b = fresh(daemon_factory)
        client = subprocess.Popen(
            docker_cmd() + ["-H", b.host, "pull", name],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=our_env(),
        )
        time.sleep(rng.uniform(0, duration))
        b.kill()
        client.wait(60)
        again = daemon_factory(base=b.base).start()
        images = again.out("images", "-q", "-a").split()
        if again.out("images").count("ns/bb"):
            assert again.out("run", "--rm", name).strip() == "pushed"
        else:
            assert images == [], f"a partial pull is left (seed {seed}): {images}"
        check_clean(again)


def test_second_repository_mounts_blobs_we_pushed(pushed, daemon, registry):
    name, _ = pushed
    other = f"{registry.host}/other/bb:v1"
    daemon.out("tag", name, other)
    out = daemon.out("push", other)
    assert "Mounted from ns/bb" in out, out
    assert "Pushed" not in out
    body, _ = registry_get(
        registry, "/v2/other/bb/manifests/v1", "application/vnd.docker.distribution.manifest.v2+json"
    )
    assert len(json.loads(body)["layers"]) >= 2


def test_pull_by_digest(pushed, registry, daemon_factory):
    name, out = pushed
    digest = out.split("v1: digest: ")[1].split()[0]
    repo = name.rsplit(":", 1)[0]
    b = fresh(daemon_factory)
    pulled = b.out("pull", f"{repo}@{digest}")
    assert f"Status: Downloaded newer image for {repo}@{digest}" in pulled
    assert b.out("images", "-q") != ""
    wrong = b.cli("pull", f"{repo}@sha256:{'0' * 64}")
    assert wrong.returncode == 1 and b"not found" in wrong.stderr


def test_concurrent_pulls_sharing_layers(pushed, daemon, registry, daemon_factory):
    name, _ = pushed
    # A second name for the same layers, in another repository of the registry.
    twin = f"{registry.host}/twin/bb:v1"
    daemon.out("tag", name, twin)
    daemon.out("push", twin)
    b = fresh(daemon_factory)
    procs = [
        subprocess.Popen(docker_cmd() + ["-H", b.host, "pull", n], env=our_env(), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
        for n in (name, name, twin)
    ]  # fmt: skip
    results = [(p.wait(120), p.stderr.read()) for p in procs]
    for p in procs:
        p.stdout.close()
        p.stderr.close()
    assert all(code == 0 for code, _ in results), results
    ids = {json.loads(b.out("inspect", n))[0]["id"] for n in (name, twin)}
    assert len(ids) == 1
    check_clean(b)
