"""The registry client's pure parts: challenges, X-Registry-Auth, manifests, diff_ids, progress drawing,
the CLI's credentials file, and the v1-id mapping shared with `load`."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json

import pytest

from lxc_docker.cli import authconfig
from lxc_docker.cli.main import CommandError
from lxc_docker.cli.progress import display
from lxc_docker.image import v2config
from lxc_docker.registry import auth, blobs, manifest
from lxc_docker.registry.progress import bar


def test_bearer_and_basic_challenges():
    header = 'Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push"'
    (ch,) = auth.parse_challenges(header)
    assert ch.scheme == "bearer"
    assert ch.params == {
        "realm": "https://auth.example/token",
        "service": "registry.example",
        "scope": "repository:a/b:pull,push",
    }
    (basic,) = auth.parse_challenges('Basic realm="test-realm"')
    assert basic.scheme == "basic" and basic.params["realm"] == "test-realm"


def test_registry_auth_header_forms():
    doc = {"username": "u", "password": "p:w", "serveraddress": "127.0.0.1:5000"}
    raw = base64.urlsafe_b64encode(json.dumps(doc).encode()).decode().rstrip("=")
    assert auth.decode_header(raw) == doc  # unpadded, as Go's URLEncoding without padding
    assert auth.decode_header("e30=") == {}
    assert auth.decode_header("!!not base64!!") == {}
    creds = auth.credentials({"auth": base64.b64encode(b"alice:s3:cret").decode()})
    assert (creds.username, creds.password) == ("alice", "s3:cret")
    assert auth.credentials({"identitytoken": "tok"}).identitytoken == "tok"
    assert auth.credentials({}).anonymous


def test_manifest_kinds_and_refusals():
    layer = {"mediaType": manifest.LAYER_GZIP, "digest": "sha256:" + "a" * 64, "size": 3}
    doc = {
        "schemaVersion": 2,
        "mediaType": manifest.SCHEMA2,
        "config": dict(layer, size=2),
        "layers": [layer],
    }
    kind, parsed = manifest.parse(json.dumps(doc).encode(), "")
    assert kind == manifest.SCHEMA2 and len(manifest.image_manifest(parsed).layers) == 1
    with pytest.raises(manifest.ManifestError, match="schema 1 is not supported"):
        manifest.parse(json.dumps({"schemaVersion": 1, "fsLayers": []}).encode(), "")
    foreign = dict(doc, layers=[dict(layer, urls=["http://elsewhere/blob"])])
    with pytest.raises(manifest.ManifestError, match="foreign layer"):
        manifest.image_manifest(foreign)
    bad = dict(doc, layers=[dict(layer, digest="sha256:../../etc")])
    with pytest.raises(manifest.ManifestError, match="digest"):
        manifest.image_manifest(bad)
    index = {
        "schemaVersion": 2,
        "manifests": [
            dict(layer, platform={"os": "linux", "architecture": "arm64"}),
            dict(layer, digest="sha256:" + "b" * 64, platform={"os": "linux", "architecture": "amd64"}),
        ],
    }
    kind, parsed = manifest.parse(json.dumps(index).encode(), "application/vnd.oci.image.index.v1+json")
    assert manifest.pick_platform(parsed).digest == "sha256:" + "b" * 64
    with pytest.raises(manifest.ManifestError, match="no matching manifest"):
        manifest.pick_platform({"manifests": index["manifests"][:1]})


def test_layer_reader_hashes_what_it_decompresses():
    import bz2

    from lxc_docker.errors import ArchiveError

    tar = b"x" * 5000
    want = "sha256:" + hashlib.sha256(tar).hexdigest()
    for data in (
        gzip.compress(tar),
        tar,
        gzip.compress(tar[:100]) + gzip.compress(tar[100:]),
        bz2.compress(tar),
    ):
        reader = blobs.LayerReader(io.BytesIO(data))
        assert reader.read(10) == tar[:10]  # the extractor stops early; diff_id reads the rest
        assert reader.diff_id() == want
    broken = bytearray(gzip.compress(tar))
    broken[-6] ^= 0xFF
    with pytest.raises(ArchiveError):
        blobs.LayerReader(io.BytesIO(bytes(broken))).diff_id()


def test_chain_ids_are_the_loads_and_config_round_trips():
    config = {
        "created": "2026-12-04T00:00:00Z",
        "config": {"Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + "1" * 64, "sha256:" + "2" * 64]},
    }
    chain = v2config.chain_images(config)
    assert [i.id for i in chain] == v2config.chain_ids(config["rootfs"]["diff_ids"])
    assert chain[1].parent == chain[0].id and chain[1].config == {"Cmd": ["sh"]} and chain[0].config is None
    back = v2config.config_for(chain, config["rootfs"]["diff_ids"])
    assert (
        back["rootfs"] == config["rootfs"] and back["config"] == {"Cmd": ["sh"]} and len(back["history"]) == 2
    )
    with pytest.raises(ValueError):
        v2config.chain_images({"rootfs": {"diff_ids": [1]}})


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_live_lines_on_a_terminal_plain_elsewhere():
    msgs = [
        {"status": "Pulling from ns/img", "id": "v1"},
        {"status": "Pulling fs layer", "id": "aaa"},
        {"status": "Pulling fs layer", "id": "bbb"},
        {
            "status": "Downloading",
            "id": "aaa",
            "progressDetail": {"current": 5, "total": 10},
            "progress": bar(5, 10),
        },
        {"status": "Pull complete", "id": "bbb"},
        {"status": "Status: Downloaded newer image for ns/img:v1"},
    ]
    tty = _Tty()
    display(msgs, tty)
    out = tty.getvalue()
    assert "\x1b[2A\r\x1b[2Kaaa: Downloading [=========================>" in out  # two lines up: aaa
    assert "\x1b[1A\r\x1b[2Kbbb: Pull complete\x1b[1B\r" in out
    plain = io.StringIO()
    display(msgs, plain)
    assert plain.getvalue().splitlines() == [
        "v1: Pulling from ns/img",
        "aaa: Pulling fs layer",
        "bbb: Pulling fs layer",
        "bbb: Pull complete",
        "Status: Downloaded newer image for ns/img:v1",
    ]
    with pytest.raises(CommandError, match="image x not found"):
        display([{"errorDetail": {"message": "image x not found"}, "error": "image x not found"}], plain)


def test_dockercfg_written_as_documented_and_config_json_read(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("DOCKER_CONFIG", raising=False)
    authconfig.save_entry("127.0.0.1:5000", "bob", "pw", "bob@example.com")
    doc = json.loads((tmp_path / ".dockercfg").read_text())
    assert doc == {
        "127.0.0.1:5000": {"auth": base64.b64encode(b"bob:pw").decode(), "email": "bob@example.com"}
    }
    assert (tmp_path / ".dockercfg").stat().st_mode & 0o077 == 0
    header = authconfig.header_for("127.0.0.1:5000/ns/img")["X-Registry-Auth"]
    sent = json.loads(base64.urlsafe_b64decode(header))
    assert sent["username"] == "bob" and sent["password"] == "pw"
    (tmp_path / ".docker").mkdir()
    entry = {"auth": base64.b64encode(b"carol:x").decode()}
    (tmp_path / ".docker" / "config.json").write_text(
        json.dumps({"auths": {"https://reg.example:444/v2/": entry}})
    )
    sent = json.loads(
        base64.urlsafe_b64decode(authconfig.header_for("reg.example:444/a/b")["X-Registry-Auth"])
    )
    assert sent["username"] == "carol"
    assert json.loads(base64.urlsafe_b64decode(authconfig.header_for("plain/name")["X-Registry-Auth"])) == {}
    assert authconfig.remove_entry("127.0.0.1:5000") and not authconfig.remove_entry("127.0.0.1:5000")
