"""Named volumes (issue 11, item 3) through our CLI, the docker CLI 28, the docker SDK for Python 7 and
raw API calls: data shared between containers and kept across container removal and daemon restarts,
the image's content copied into an empty volume, in-use removal refused, filters, names Docker
refuses, driver options, anonymous volumes in the listing, events, and a crash inside `volume rm`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time

import pytest

from lib.daemon import docker_cmd, our_env
from lib.poll import wait_for
from lib.unixhttp import api, request

INVALID = 'includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed'


def vapi(daemon, method: str, path: str, body=None) -> tuple[int, object]:
    status, data = api(daemon, method, "/v1.24" + path, body)
    return status, (json.loads(data) if data.strip() else None)


def names(daemon, *flags: str) -> list[str]:
    return daemon.out("volume", "ls", "-q", *flags).split()


def mounted(path: str) -> bool:
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == path for line in f)


def volume_events(daemon, since: int, name: str) -> list[tuple[str, str]]:
    """(action, container id) of the volume's events from `since` until now."""
    query = f'since={since}&until={int(time.time()) + 1}&filters={{"volume":["{name}"]}}'
    status, _, body = request(daemon.sock, "GET", f"/v1.24/events?{query}", timeout=30)
    assert status == 200, body
    events = [json.loads(line) for line in body.splitlines() if line.strip()]
    return [(e["Action"], e["Actor"]["Attributes"].get("container", "")) for e in events]


def cid_of(daemon, name: str) -> str:
    return daemon.out("inspect", "-f", "{{.ID}}", name).strip()


@pytest.fixture
def hostdir():
    path = tempfile.mkdtemp(prefix="ldt-nvol-", dir="/tmp")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_our_cli_shares_keeps_and_removes_a_named_volume(daemon):
    assert daemon.out("volume", "create", "--name", "shared", "--label", "team=db").strip() == "shared"
    assert "shared" in names(daemon)
    daemon.out("run", "--name", "writer", "-v", "shared:/data", "busybox", "sh", "-c", "echo hello > /data/f")
    assert daemon.out("run", "--rm", "-v", "shared:/data:ro", "busybox", "cat", "/data/f") == "hello\n"
    ro = daemon.cli("run", "--rm", "-v", "shared:/data:ro", "busybox", "sh", "-c", "echo x > /data/g")
    assert ro.returncode != 0
    writer = cid_of(daemon, "writer")
    mounts = vapi(daemon, "GET", "/containers/writer/json")[1]["Mounts"]  # our CLI speaks 1.9
    assert [(m["Type"], m["Name"], m["Driver"], m["Destination"], m["RW"]) for m in mounts] == [
        ("volume", "shared", "local", "/data", True)
    ]
    assert daemon.out("ps", "-a", "-q", "--no-trunc", "-f", "volume=shared").split() == [writer]
    # In use by a stopped container: refused, with the users' ids, and nothing changes.
    refused = daemon.cli("volume", "rm", "shared")
    assert refused.returncode == 1
    assert f"remove shared: volume is in use - [{writer}]" in refused.stderr.decode()
    assert "shared" not in names(daemon, "-f", "dangling=true")
    assert "shared" in names(daemon, "-f", "dangling=false")
    # rm -v never removes a named volume.
    daemon.out("rm", "-v", "writer")
    assert "shared" in names(daemon, "-f", "dangling=true")
    out = daemon.out("volume", "inspect", "-f", "{{.Driver}} {{.Labels.team}} {{.Scope}}", "shared")
    assert out == "local db local\n"
    doc = json.loads(daemon.out("volume", "inspect", "shared"))[0]
    assert doc["Mountpoint"] == os.path.join(daemon.root, "volumes", "shared", "_data")
    assert open(os.path.join(doc["Mountpoint"], "f")).read() == "hello\n"
    assert daemon.out("volume", "rm", "shared") == "shared\n"
    assert daemon.cli("volume", "inspect", "shared").returncode == 1
    assert not os.path.exists(os.path.join(daemon.root, "volumes", "shared"))
    assert daemon.cli("volume", "rm", "shared").returncode == 1


def test_an_empty_named_volume_gets_the_image_content_once(daemon):
    script = "mkdir -p /srv/app && echo seed > /srv/app/seed && chown 7:7 /srv/app && chmod 710 /srv/app"
    daemon.out("run", "--name", "nvseed", "busybox", "sh", "-c", script)
    daemon.out("commit", "nvseed", "nvimage")
    try:
        # Made by -v on first use: it takes the image's files, owner and mode.
        out = daemon.out(
            "run",
            "--rm",
            "-v",
            "appdata:/srv/app",
            "nvimage",
            "sh",
            "-c",
            "cat /srv/app/seed; rm /srv/app/seed; touch /srv/app/mine; stat -c '%u %a' /srv/app",
        )
        assert out == "seed\n7 710\n"
        # Not empty (a file taken out, another put in): nothing is copied again; Docker's rule.
        assert daemon.out("run", "--rm", "-v", "appdata:/srv/app", "nvimage", "ls", "/srv/app").split() == [
            "mine"
        ]
        # A path the image does not have: an empty volume, no error.
        daemon.out("run", "--rm", "-v", "appdata2:/nowhere/x", "busybox", "ls", "/nowhere/x")
    finally:
        daemon.cli("rm", "nvseed")
        daemon.cli("rmi", "nvimage")
        daemon.cli("volume", "rm", "appdata", "appdata2")


def test_anonymous_volumes_are_listed_and_removable_when_unused(daemon):
    daemon.out("run", "--name", "anon", "-v", "/scratch", "busybox", "true")
    source = json.loads(daemon.out("inspect", "anon"))[0]["Volumes"]["/scratch"]
    vid = os.path.basename(os.path.dirname(source))
    assert len(vid) == 64 and vid in names(daemon)
    status, doc = vapi(daemon, "GET", f"/volumes/{vid}")
    assert status == 200 and doc["Mountpoint"] == source and doc["Driver"] == "local"
    status, doc = vapi(daemon, "DELETE", f"/volumes/{vid}")
    assert status == 409 and "volume is in use" in doc["message"]
    daemon.out("rm", "anon")  # without -v: the volume stays, dangling now
    assert vid in names(daemon, "-f", "dangling=true")
    daemon.out("volume", "rm", vid)
    assert not os.path.exists(os.path.dirname(source))


def test_bad_names_drivers_and_options_are_refused_like_docker(daemon):
    for bad in ("../x", "a/b", "  ", "x", "-lead"):
        status, doc = vapi(daemon, "POST", "/volumes/create", {"Name": bad})
        assert status == 400, (bad, doc)
        assert doc["message"] == f'create {bad}: "{bad}" {INVALID}'
    status, doc = vapi(daemon, "POST", "/volumes/create", {"Name": "okname", "Driver": "flocker"})
    assert status == 404 and "plugin not found" in doc["message"]
    status, doc = vapi(daemon, "POST", "/volumes/create", {"Name": "okname", "DriverOpts": {"size": "1"}})
    assert status == 400 and doc["message"] == 'invalid option key: "size"'
    status, doc = vapi(daemon, "POST", "/volumes/create", {"Name": "okname", "DriverOpts": {"type": "ext4"}})
    assert status == 400 and "type='ext4' is not supported" in doc["message"]
    # A create naming a bad volume in Binds is refused before anything is made.
    body = {"Image": "busybox", "Cmd": ["true"], "HostConfig": {"Binds": ["../x:/data"]}}
    status, doc = vapi(daemon, "POST", "/containers/create", body)
    assert status == 400 and INVALID in doc["message"]
    assert "okname" not in names(daemon)
    # A create that fails after `-v NAME:` made its volume takes the volume back: nothing changed.
    failed = daemon.cli("run", "-v", "latefail:/etc/passwd", "busybox", "true")
    assert failed.returncode != 0 and b"/etc/passwd" in failed.stderr
    assert "latefail" not in names(daemon)
    status, doc = vapi(daemon, "GET", "/volumes/missing")
    assert status == 404 and doc["message"] == "get missing: no such volume"
    assert vapi(daemon, "DELETE", "/volumes/missing")[0] == 404
    assert vapi(daemon, "DELETE", "/volumes/missing?force=1")[0] == 204
    status, doc = vapi(daemon, "GET", '/volumes?filters={"dangling":["maybe"]}')
    assert status == 400 and doc["message"] == "Invalid filter 'dangling=maybe'"
    # No name: Docker's 64-hex one; the same name again: the same volume, 201 both times.
    status, made = vapi(daemon, "POST", "/volumes/create", {})
    assert status == 201 and len(made["Name"]) == 64 and made["Labels"] == {} and made["Scope"] == "local"
    status, again = vapi(daemon, "POST", "/volumes/create", {"Name": made["Name"]})
    assert status == 201 and again == made
    status, listing = vapi(daemon, "GET", f'/volumes?filters={{"name":["{made["Name"][:20]}"]}}')
    assert status == 200 and [v["Name"] for v in listing["Volumes"]] == [made["Name"]]
    assert listing["Warnings"] is None
    assert vapi(daemon, "DELETE", f"/volumes/{made['Name']}")[0] == 204


def test_tmpfs_and_bind_options_are_mounted_while_used(daemon, hostdir):
    daemon.out(
        "volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "-o", "o=size=1m,mode=0700", "tv"
    )
    data = os.path.join(daemon.root, "volumes", "tv", "_data")
    out = daemon.out(
        "run", "--rm", "-v", "tv:/t", "busybox", "sh", "-c", "grep ' /t ' /proc/mounts; stat -c %a /t"
    )
    assert out.split()[2] == "tmpfs" and "size=1024k" in out and out.split()[-1] == "700"
    assert not mounted(data)
    # Two users: mounted once, until the last of them stops.
    since = int(time.time()) - 1
    first, second = (daemon.out("run", "-d", "-v", "tv:/t", "busybox", "sleep", "60").strip() for _ in "12")
    assert mounted(data)
    daemon.out("kill", first)
    assert wait_for(lambda: ("unmount", first) in volume_events(daemon, since, "tv"), timeout=30)
    assert mounted(data)
    daemon.out("kill", second)
    assert wait_for(lambda: ("unmount", second) in volume_events(daemon, since, "tv"), timeout=30)
    assert not mounted(data)
    daemon.out("rm", first, second)
    daemon.out("volume", "create", "-o", "type=none", "-o", "o=bind", "-o", f"device={hostdir}", "bv")
    daemon.out("run", "--rm", "-v", "bv:/b", "busybox", "sh", "-c", "echo via-bind > /b/f")
    assert open(os.path.join(hostdir, "f")).read() == "via-bind\n"
    assert not mounted(os.path.join(daemon.root, "volumes", "bv", "_data"))
    daemon.out("volume", "rm", "tv", "bv")
    assert os.path.exists(os.path.join(hostdir, "f"))  # a bind's device is the user's: never deleted


def test_volume_events(daemon):
    since = time.time() - 1
    daemon.out("run", "--name", "evc", "-v", "evvol:/e", "busybox", "true")
    daemon.out("rm", "evc")
    daemon.out("volume", "rm", "evvol")
    until = time.time() + 1
    query = f'since={since:.0f}&until={until:.0f}&filters={{"type":["volume"],"volume":["evvol"]}}'
    status, _, body = request(daemon.sock, "GET", f"/v1.24/events?{query}", timeout=30)
    assert status == 200
    events = [json.loads(line) for line in body.splitlines() if line.strip()]
    assert [e["Action"] for e in events] == ["create", "mount", "unmount", "destroy"]
    assert all(e["Type"] == "volume" and e["Actor"]["ID"] == "evvol" for e in events)
    mount = events[1]["Actor"]["Attributes"]
    assert mount["destination"] == "/e" and mount["driver"] == "local" and mount["read/write"] == "true"


def test_docker_cli_28(real_cli):
    assert real_cli("volume", "create", "cli28vol").stdout.decode().strip() == "cli28vol"
    assert "cli28vol" in real_cli("volume", "ls", "-q").stdout.decode().split()
    real_cli("run", "--rm", "-v", "cli28vol:/d", "busybox", "sh", "-c", "echo x > /d/f")
    assert real_cli("run", "--rm", "-v", "cli28vol:/d", "busybox", "cat", "/d/f").stdout == b"x\n"
    doc = json.loads(real_cli("volume", "inspect", "cli28vol").stdout)[0]
    assert doc["Name"] == "cli28vol" and doc["Driver"] == "local"
    assert "cli28vol" in real_cli("volume", "ls", "-q", "-f", "dangling=true").stdout.decode().split()
    bad = real_cli("volume", "create", "../x", check=False)
    assert bad.returncode != 0 and f'create ../x: "../x" {INVALID}' in bad.stderr.decode()
    real_cli("create", "--name", "cli28user", "-v", "cli28vol:/d", "busybox", "true")
    refused = real_cli("volume", "rm", "cli28vol", check=False)
    assert refused.returncode != 0 and b"volume is in use" in refused.stderr
    real_cli("rm", "-v", "cli28user")
    real_cli("volume", "rm", "cli28vol")
    assert "cli28vol" not in real_cli("volume", "ls", "-q").stdout.decode().split()


def test_docker_sdk(sdk):
    import docker

    vol = sdk.volumes.create(name="sdkvol", labels={"k": "v"})
    assert vol.name == "sdkvol" and vol.attrs["Labels"] == {"k": "v"}
    assert "sdkvol" in [v.name for v in sdk.volumes.list()]
    sdk.containers.run(
        "busybox", ["sh", "-c", "echo sdk > /data/f"], volumes={"sdkvol": {"bind": "/data"}}, remove=True
    )
    out = sdk.containers.run(
        "busybox", ["cat", "/data/f"], volumes={"sdkvol": {"bind": "/data", "mode": "ro"}}, remove=True
    )
    assert out == b"sdk\n"
    user = sdk.containers.create("busybox", "true", volumes=["sdkvol:/data"])
    with pytest.raises(docker.errors.APIError) as refused:
        sdk.volumes.get("sdkvol").remove()
    assert refused.value.status_code == 409
    assert [v.name for v in sdk.volumes.list(filters={"dangling": True})].count("sdkvol") == 0
    user.remove(v=True)
    assert "sdkvol" in [v.name for v in sdk.volumes.list(filters={"dangling": True})]
    sdk.volumes.get("sdkvol").remove()
    with pytest.raises(docker.errors.NotFound):
        sdk.volumes.get("sdkvol")


def test_named_volume_survives_restart_and_a_crash_inside_volume_rm(daemon_factory, busybox_tar):
    d = daemon_factory().start()
    d.out("import", "-", "busybox", input=open(busybox_tar, "rb").read())
    d.out("run", "--rm", "-v", "keep:/k", "busybox", "sh", "-c", "echo kept > /k/f")
    d.out("volume", "create", "doomed")
    d.stop()
    check = subprocess.run(
        docker_cmd() + ["-d", "--check", "-g", d.root, "-p", d.pidfile],
        capture_output=True,
        text=True,
        env=our_env(),
        timeout=60,
    )
    assert check.returncode == 0, check.stdout + check.stderr  # a named volume is never an orphan
    # Killed inside `volume rm`, after the volume was renamed away: the next start finishes it.
    os.environ["LXC_DOCKER_TEST_CRASH"] = "volume-rm:1"
    try:
        d.start()
    finally:
        os.environ.pop("LXC_DOCKER_TEST_CRASH")
    d.cli("volume", "rm", "doomed")
    d.proc.wait(30)
    assert d.proc.returncode == -9, d.log()
    d.start()
    assert d.out("volume", "ls", "-q").split() == ["keep"]
    assert d.out("run", "--rm", "-v", "keep:/k", "busybox", "cat", "/k/f") == "kept\n"
    assert not [n for n in os.listdir(os.path.join(d.root, "volumes")) if n.startswith(".")]
    assert not os.listdir(os.path.join(d.root, "journal"))
