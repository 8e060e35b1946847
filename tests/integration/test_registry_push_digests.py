"""Streamed v2 push (to Debian's docker-registry and to our own `docker registry`), layers the
registry already holds skipped from what a pull or push remembered, and images named by digest:
`run NAME@sha256:...`, `FROM NAME@sha256:...`, and the docker CLI 28's `run` by digest."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from lib.registryserver import Registry as OurRegistry
from lib.registrytests import distribution_registry
from lib.require import require, require_tools
from lib.unixhttp import api
from lib.v2registry import BINARY, Registry

DOCKER_CLI = "/usr/local/bin/docker"
BUILD = "FROM busybox\nRUN head -c 300000 /dev/urandom > /noise && echo streamed > /s.txt\nCMD cat /s.txt\n"


@pytest.fixture(scope="module")
def registry():
    yield from distribution_registry()


@pytest.fixture(scope="module")
def pushed(daemon, registry):
    """An image of three layers, pushed by the module's daemon; (name, push output, manifest digest)."""
    name = f"{registry.host}/stream/img:v1"
    daemon.cli("build", "-t", name, "-", input=BUILD.encode(), check=True, timeout=120)
    out = daemon.out("push", name)
    digest = out.split("v1: digest: ")[1].split()[0]
    return name, out, digest


def test_streamed_push_then_fresh_pull_runs(pushed, daemon_factory):
    name, out, digest = pushed
    layers = out.count("Preparing")  # busybox, the RUN and the CMD image
    assert layers == 3 and out.count("Pushed") == layers, out
    b = daemon_factory().start()
    pulled = b.out("pull", name)
    assert f"Digest: {digest}" in pulled
    assert b.out("run", "--rm", name).strip() == "streamed"


def test_second_push_skips_layers_the_registry_has(pushed, daemon):
    name, _, _ = pushed
    again = f"{name.rsplit(':', 1)[0]}:v2"
    daemon.out("tag", name, again)
    out = daemon.out("push", again)
    assert out.count("Layer already exists") == 3 and "Pushed" not in out, out


def test_pulled_image_pushed_back_reuses_known_blobs(pushed, registry, daemon_factory):
    # A pull remembers each layer's blob. Another repository of the registry has none of them
    # linked: the layers are streamed there; a third repository mounts them from the second; the
    # repository the image came from has every layer, found by digest without making a tar.
    name, _, _ = pushed
    b = daemon_factory().start()
    b.out("pull", name)
    other = f"{registry.host}/elsewhere/img:v1"
    b.out("tag", name, other)
    out = b.out("push", other)
    assert out.count("Pushed") == 3, out
    third = f"{registry.host}/third/img:v1"
    b.out("tag", name, third)
    out = b.out("push", third)
    assert out.count("Mounted from elsewhere/img") == 3, out
    same = f"{name.rsplit(':', 1)[0]}:v3"
    b.out("tag", name, same)
    out = b.out("push", same)
    assert out.count("Layer already exists") == 3 and "Pushed" not in out, out
    c = daemon_factory().start()
    assert c.out("run", "--rm", other).strip() == "streamed"
    assert c.out("run", "--rm", third).strip() == "streamed"


def test_streamed_push_to_our_registry_server(pushed, daemon, daemon_factory):
    name, _, _ = pushed
    ours = OurRegistry()
    try:
        target = f"{ours.hostport}/stream/img:v1"
        daemon.out("tag", name, target)
        out = daemon.out("push", target)
        assert out.count("Pushed") == 3, out
        b = daemon_factory().start()
        assert b.out("run", "--rm", target).strip() == "streamed"
    finally:
        daemon.cli("rmi", target)
        ours.stop()


def test_run_and_build_from_a_digest(pushed, daemon_factory):
    name, _, digest = pushed
    by_digest = f"{name.rsplit(':', 1)[0]}@{digest}"
    b = daemon_factory().start()
    result = b.cli("run", "--rm", by_digest, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode().strip() == "streamed"
    assert f"Unable to find image '{by_digest}' locally" in result.stderr.decode()
    # Now present: inspect and a second run find it without a pull.
    assert json.loads(b.out("inspect", by_digest))[0]["config"]["Cmd"][-1] == "cat /s.txt"
    again = b.cli("run", "--rm", by_digest)
    assert again.returncode == 0 and b"Unable to find" not in again.stderr
    c = daemon_factory().start()
    dockerfile = f"FROM {by_digest}\nRUN cat /s.txt > /copy.txt\nCMD cat /copy.txt\n"
    built = c.cli("build", "-t", "from/digest", "-", input=dockerfile.encode(), timeout=120)
    assert built.returncode == 0, built.stdout + built.stderr
    assert "Pull complete" in built.stdout.decode()
    assert c.out("run", "--rm", "from/digest").strip() == "streamed"
    wrong = c.cli("build", "-", input=f"FROM {name.rsplit(':', 1)[0]}@sha256:{'0' * 64}\n".encode())
    assert wrong.returncode == 1 and b"not found" in (wrong.stdout + wrong.stderr)
    # An image pulled by tag is found by its digest too, as Docker's RepoDigests are.
    d = daemon_factory().start()
    d.out("pull", name)
    assert d.cli("inspect", by_digest).returncode == 0
    status, body = api(d, "GET", f"/v1.24/images/{name}/json")
    assert status == 200 and json.loads(body)["RepoDigests"] == [by_digest]
    status, body = api(d, "GET", "/v1.24/images/json")
    assert [r["RepoDigests"] for r in json.loads(body) if f"{name}" in r["RepoTags"]] == [[by_digest]]
    status, body = api(d, "GET", "/v1.9/images/json")
    assert all("RepoDigests" not in r for r in json.loads(body))  # not a key of the 0.9 rows
    if shutil.which(DOCKER_CLI):  # the CLI 28's `images --digests` column comes from RepoDigests
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
        env["DOCKER_CONFIG"] = "/tmp/lxc-docker-test-cli-config"
        listed = subprocess.run(
            [DOCKER_CLI, "-H", d.host, "images", "--digests"], capture_output=True, env=env, timeout=60
        )
        assert digest in listed.stdout.decode(), listed


def test_docker_cli_28_runs_by_digest(pushed, daemon_factory):
    require(shutil.which(DOCKER_CLI), "the docker CLI 28 is not installed at /usr/local/bin/docker")
    name, _, digest = pushed
    by_digest = f"{name.rsplit(':', 1)[0]}@{digest}"
    b = daemon_factory().start()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    env["DOCKER_CONFIG"] = "/tmp/lxc-docker-test-cli-config"
    result = subprocess.run(
        [DOCKER_CLI, "-H", b.host, "run", "--rm", by_digest], capture_output=True, env=env, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode().strip() == "streamed"


def test_build_from_a_private_image_sends_the_stored_credentials(daemon, daemon_factory, tmp_path):
    require_tools(BINARY, "htpasswd", hint="apt-get install docker-registry apache2-utils")
    reg = Registry(users={"alice": "s3cret"}).start()
    try:
        home = {"HOME": str(tmp_path)}
        name = f"{reg.host}/private/base:v1"
        daemon.out("tag", "busybox", name)
        daemon.cli(
            "login", "-u", "alice", "-p", "s3cret", "-e", "a@example.com", reg.host, env=home, check=True
        )
        daemon.cli("push", name, env=home, check=True, timeout=120)
        b = daemon_factory().start()
        dockerfile = f"FROM {name}\nRUN echo built > /b.txt\n".encode()
        anonymous = b.cli("build", "-", input=dockerfile, env={"HOME": str(tmp_path / "nobody")}, timeout=120)
        assert anonymous.returncode == 1 and b"unauthorized" in anonymous.stdout + anonymous.stderr
        built = b.cli("build", "-t", "from/private", "-", input=dockerfile, env=home, timeout=120)
        assert built.returncode == 0, built.stdout + built.stderr
        assert b.out("run", "--rm", "from/private", "cat", "/b.txt").strip() == "built"
    finally:
        daemon.cli("rmi", f"{reg.host}/private/base:v1")
        reg.stop()


class TLSRegistry(Registry):
    """Debian's docker-registry serving HTTPS only, with a self-signed certificate."""

    def config(self) -> str:
        crt, key = os.path.join(self.dir, "tls.crt"), os.path.join(self.dir, "tls.key")
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", crt]
            + ["-days", "1", "-subj", "/CN=127.0.0.1"],
            check=True,
            capture_output=True,
        )
        addr = f"  addr: {self.host}\n"
        return super().config().replace(addr, addr + f"  tls:\n    certificate: {crt}\n    key: {key}\n")


def test_insecure_registry_tried_over_https_first(daemon, daemon_factory):
    # Loopback is insecure by default: HTTPS without verifying the certificate, HTTP only when that
    # fails. A registry that speaks only HTTPS with a self-signed certificate therefore works.
    require_tools(BINARY, "openssl", hint="apt-get install docker-registry openssl")
    reg = TLSRegistry().start()
    try:
        plain = subprocess.run(
            ["curl", "-s", f"http://{reg.host}/v2/"], capture_output=True, timeout=30
        ) if shutil.which("curl") else None  # fmt: skip
        if plain is not None:
            assert b"HTTP request to an HTTPS server" in plain.stdout
        name = f"{reg.host}/tls/bb:v1"
        daemon.out("tag", "busybox", name)
        out = daemon.out("push", name)
        assert "v1: digest: sha256:" in out
        b = daemon_factory().start()
        assert b.out("run", "--rm", name, "echo", "over-tls").strip() == "over-tls"
    finally:
        daemon.cli("rmi", f"{reg.host}/tls/bb:v1")
        reg.stop()


def _put(registry, path: str, data: bytes, content_type: str = "application/octet-stream") -> None:
    import urllib.request

    req = urllib.request.Request(
        f"http://{registry.host}{path}", method="PUT", data=data, headers={"Content-Type": content_type}
    )
    with urllib.request.urlopen(req, timeout=10):
        pass


def _blob(registry, repo: str, data: bytes) -> str:
    import hashlib
    import urllib.request

    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    req = urllib.request.Request(f"http://{registry.host}/v2/{repo}/blobs/uploads/", method="POST", data=b"")
    with urllib.request.urlopen(req, timeout=10) as resp:
        location = resp.headers["Location"]
    url = location if location.startswith("http") else f"http://{registry.host}{location}"
    _put(registry, url.split(registry.host, 1)[1] + ("&" if "?" in url else "?") + f"digest={digest}", data)
    return digest


def test_uncompressed_layer_pulled_is_pushed_back_as_gzip(registry, daemon_factory):
    # An OCI image whose layer is a plain tar: a push names every layer gzip, so that blob must not
    # be reused from what the pull saw; it is compressed and sent.
    import hashlib
    import io
    import tarfile
    import urllib.request

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("plain.txt")
        info.size = 6
        tar.addfile(info, io.BytesIO(b"plain\n"))
    layer = buf.getvalue()
    repo = "plain/img"
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "created": "2026-12-04T00:00:00Z",
            "config": {"Cmd": ["/bin/sh"]},
            "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(layer).hexdigest()]},
        }
    ).encode()
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": _blob(registry, repo, config),
            "size": len(config),
        },
        "layers": [
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar",
                "digest": _blob(registry, repo, layer),
                "size": len(layer),
            }
        ],
    }
    _put(registry, f"/v2/{repo}/manifests/v1", json.dumps(manifest).encode(), manifest["mediaType"])
    b = daemon_factory().start()
    b.out("pull", f"{registry.host}/{repo}:v1")
    b.out("tag", f"{registry.host}/{repo}:v1", f"{registry.host}/{repo}:v2")
    out = b.out("push", f"{registry.host}/{repo}:v2")
    assert "Pushed" in out and "Layer already exists" not in out, out
    req = urllib.request.Request(
        f"http://{registry.host}/v2/{repo}/manifests/v2",
        headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        (pushed,) = json.loads(resp.read())["layers"]
    with urllib.request.urlopen(
        f"http://{registry.host}/v2/{repo}/blobs/{pushed['digest']}", timeout=10
    ) as resp:
        assert resp.read(2) == b"\x1f\x8b"  # gzip, as the manifest says
