"""`import -c/--change` and `-m/--message` (`POST /images/create?fromSrc=...&changes=...&message=`):
the imported image's config and comment, through our CLI, the docker CLI 28 and the docker SDK for
Python 7; a change Docker does not allow is refused and leaves no image."""

from __future__ import annotations

import io
import json
import os
import subprocess

import pytest

from lib.require import require, require_module
from lib.unixhttp import api

pytestmark = pytest.mark.root

DOCKER_CLI = "/usr/local/bin/docker"


def inspect(d, name: str) -> dict:
    status, body = api(d, "GET", f"/v1.24/images/{name}/json")
    assert status == 200, body
    return json.loads(body)


def image_count(d) -> int:
    status, body = api(d, "GET", "/v1.24/images/json?all=1")
    return len(json.loads(body))


def test_our_cli_import_with_changes_and_message(daemon, busybox_tar):
    r = daemon.cli(
        "import",
        "-c", 'CMD ["sh", "-c", "echo $GREETING from $(pwd) as $(id -u)"]',
        "-c", "ENV GREETING=hello",
        "-c", "WORKDIR /srv",
        "-c", "USER 4242",
        "-c", "EXPOSE 8080",
        "-c", "LABEL team=infra",
        "-m", "from a tarball",
        busybox_tar, "changed:1",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    doc = inspect(daemon, "changed:1")
    assert doc["Comment"] == "from a tarball"
    assert doc["Config"]["User"] == "4242"
    assert doc["Config"]["ExposedPorts"] == {"8080/tcp": {}}
    assert doc["Config"]["Labels"] == {"team": "infra"}
    # What users see: the container runs the imported CMD, with its ENV, WORKDIR and USER.
    assert daemon.out("run", "--rm", "changed:1").strip() == "hello from /srv as 4242"


def test_a_change_docker_refuses_leaves_no_image(daemon, busybox_tar):
    before = image_count(daemon)
    r = daemon.cli("import", "-c", "RUN rm -rf /", busybox_tar, "refused:1")
    assert r.returncode != 0
    assert "RUN is not a valid change command" in r.stderr.decode()
    assert image_count(daemon) == before


def test_without_changes_the_comment_names_the_source(daemon, busybox_tar):
    daemon.cli("import", "-", "plain:1", input=open(busybox_tar, "rb").read(), check=True)
    assert inspect(daemon, "plain:1")["Comment"] == "Imported from -"


def test_docker_cli_28_import_change(daemon, busybox_tar):
    require(os.access(DOCKER_CLI, os.X_OK), f"the docker CLI 28 is not installed at {DOCKER_CLI}")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    env.update({"DOCKER_HOST": daemon.host, "DOCKER_CONFIG": "/tmp/lxc-docker-test-cli-config"})
    argv = [DOCKER_CLI, "import", "--change", 'ENTRYPOINT ["/bin/echo"]', "-c", 'CMD ["from", "cli28"]']
    argv += ["-m", "cli28", busybox_tar, "cli28:1"]
    r = subprocess.run(argv, capture_output=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([DOCKER_CLI, "run", "--rm", "cli28:1"], capture_output=True, env=env, timeout=120)
    assert r.stdout.decode().strip() == "from cli28"
    assert inspect(daemon, "cli28:1")["Comment"] == "cli28"


def test_sdk_import_image_from_data_with_changes(daemon, busybox_tar):
    docker = require_module("docker", "pip install docker; scripts/setup-dev.sh installs it")
    client = docker.APIClient(base_url=daemon.host, version="1.24", timeout=60)
    try:
        with open(busybox_tar, "rb") as f:
            out = client.import_image_from_data(
                f.read(), repository="sdk/changes", changes=["USER foobar", 'CMD ["echo"]', "VOLUME /data"]
            )
        image_id = json.loads(out.splitlines()[-1])["status"]
        config = client.inspect_image(image_id)["Config"]
        assert (config["User"], config["Cmd"], config["Volumes"]) == ("foobar", ["echo"], {"/data": {}})
        with pytest.raises(docker.errors.APIError) as err:
            client.import_image_from_data(io.BytesIO(b"").getvalue(), changes=["FROM scratch"])
        assert err.value.status_code == 400
    finally:
        client.close()
