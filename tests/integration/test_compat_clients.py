"""Clients we did not write: the docker CLI 28 and the docker SDK for Python, against our daemon."""

from __future__ import annotations

import json
import os

import pytest

from lib.require import require_module
from lib.tarballs import tar_of


def test_docker_cli_version_and_info(real_cli):
    version = real_cli("version").stdout.decode()
    assert "Server:" in version and "0.9.1" in version
    assert "API version:       1.24" in version
    info = real_cli("info").stdout.decode()
    assert "Storage Driver:" in info and "Images:" in info


def test_docker_cli_image_lifecycle(real_cli, tmp_path):
    image_id = (
        real_cli("import", "-", "cli28/one:v1", input=tar_of({"f.txt": b"cli28\n"})).stdout.decode().strip()
    )
    assert image_id.removeprefix("sha256:")[:12]
    listing = real_cli("images").stdout.decode()
    assert any(line.split()[:2] == ["cli28/one", "v1"] for line in listing.splitlines())
    real_cli("tag", "cli28/one:v1", "cli28/two:latest")
    real_cli("tag", "cli28/one:v1", "docker.io/library/cli28plain:x")
    assert "cli28plain" in real_cli("images").stdout.decode()
    history = real_cli("history", "cli28/one:v1").stdout.decode()
    assert "Imported from -" in history
    doc = json.loads(real_cli("inspect", "cli28/one:v1").stdout)
    assert doc[0]["RepoTags"] and "cli28/one:v1" in doc[0]["RepoTags"]
    fmt = real_cli("image", "inspect", "--format", "{{.Os}} {{len .RepoTags}}", "cli28/two").stdout.decode()
    assert fmt.strip() == "linux 3"
    archive = tmp_path / "cli.tar"
    real_cli("save", "-o", str(archive), "cli28/one:v1", "cli28/two")
    out = real_cli("rmi", "cli28/one:v1", "cli28/two", "cli28plain:x").stdout.decode()
    assert "Untagged: cli28/one:v1" in out and "Deleted:" in out
    loaded = real_cli("load", "-i", str(archive)).stdout.decode()
    assert "Loaded image: cli28/one:v1" in loaded
    assert "cli28/two" in real_cli("images").stdout.decode()
    missing = real_cli("rmi", "cli28/none", check=False)
    assert missing.returncode != 0 and b"No such image" in missing.stderr
    real_cli("rmi", "cli28/one:v1", "cli28/two")


def test_docker_cli_loads_docker_20_10_fixture(real_cli):
    real_cli(
        "load",
        "-i",
        "/work/shared/fixtures/docker-20.10-save.tar"
        if os.path.exists("/work/shared/fixtures/docker-20.10-save.tar")
        else os.path.join(os.path.dirname(__file__), "../../../shared/fixtures/docker-20.10-save.tar"),
    )
    listing = real_cli("images", "fx/child").stdout.decode()
    assert "v1" in listing
    real_cli("rmi", "fx/child:v1", "fx/base")


def test_docker_sdk_images_api(daemon, tmp_path):
    docker = require_module("docker", "pip install docker; scripts/setup-dev.sh installs it")
    client = docker.DockerClient(base_url=daemon.host, version="auto", timeout=60)
    try:
        assert client.version()["ApiVersion"] == "1.24"
        image = client.images.get("busybox")
        assert image.id.endswith(image.id[-12:]) and "busybox:latest" in image.tags
        assert image.tag("sdk/tagged", "t1") is True
        assert "sdk/tagged:t1" in client.images.get("sdk/tagged:t1").tags
        names = {t for img in client.images.list() for t in img.tags}
        assert {"busybox:latest", "sdk/tagged:t1"} <= names
        assert client.images.list(name="sdk/tagged")[0].id == image.id
        data = b"".join(client.images.get("sdk/tagged:t1").save(named="sdk/tagged:t1"))
        client.images.remove("sdk/tagged:t1")
        with pytest.raises(docker.errors.ImageNotFound):
            client.images.get("sdk/tagged:t1")
        loaded = client.images.load(data)
        assert any("sdk/tagged:t1" in img.tags for img in loaded)
        history = client.images.get("busybox").history()
        assert history and "Id" in history[0]
        client.images.remove("sdk/tagged:t1")
    finally:
        client.close()
