"""Create and start bodies of the wrong JSON types, sent raw to a real daemon: each is a 400 that names
the key, no container is left behind, and the daemon's log holds no traceback."""

from __future__ import annotations

import json

import pytest

from lib.unixhttp import api


def container_count(daemon) -> int:
    status, body = api(daemon, "GET", "/containers/json?all=1")
    assert status == 200
    return len(json.loads(body))


B = {"Image": "busybox", "Cmd": ["true"]}


@pytest.mark.parametrize("prefix", ["", "/v1.9", "/v1.24"])
@pytest.mark.parametrize(
    ("body", "key"),
    [
        ({**B, "Memory": "100m"}, "Config.Memory"),
        ({**B, "Env": "A=1"}, "Config.Env"),
        ({**B, "Tty": "yes"}, "Config.Tty"),
        ({**B, "ExposedPorts": ["80/tcp"]}, "Config.ExposedPorts"),
        ({"Image": ["busybox"], "Cmd": ["true"]}, "Config.Image"),
        ({**B, "HostConfig": {"Binds": "/tmp:/x"}}, "HostConfig.Binds"),
        ({**B, "HostConfig": {"PortBindings": {"80/tcp": "1"}}}, "HostConfig.PortBindings"),
        ({**B, "HostConfig": {"Memory": "1g"}}, "HostConfig.Memory"),
        ({**B, "HostConfig": ["Binds"]}, "HostConfig"),
    ],
)  # fmt: skip
def test_create_with_a_wrong_type_is_a_400_naming_the_key(daemon, prefix, body, key):
    before = container_count(daemon)
    status, text = api(daemon, "POST", f"{prefix}/containers/create", body)
    assert status == 400, text
    assert key.encode() in text
    assert container_count(daemon) == before
    assert "Traceback" not in daemon.log()


def test_start_with_a_wrong_type_is_a_400_and_a_good_start_still_works(daemon):
    status, body = api(daemon, "POST", "/v1.9/containers/create", {"Image": "busybox", "Cmd": ["true"]})
    assert status == 201, body
    cid = json.loads(body)["Id"]
    status, text = api(daemon, "POST", f"/v1.9/containers/{cid}/start", {"Links": "db:db"})
    assert status == 400 and b"HostConfig.Links" in text, text
    status, text = api(daemon, "POST", f"/v1.9/containers/{cid}/start", {})
    assert status == 204, text
    assert daemon.out("wait", cid).strip() == "0"
    daemon.out("rm", cid)
    assert "Traceback" not in daemon.log()
