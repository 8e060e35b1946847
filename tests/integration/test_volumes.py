"""Volumes through our own CLI (and raw API calls for what the CLI refuses before sending): new
volumes, an image's VOLUME, host binds, `--volumes-from`, their lifetime, and what diff, commit,
export and cp make of them.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import sys
import tarfile
import tempfile

import pytest

from lib.daemon import APP
from lib.poll import poll
from lib.unixhttp import api


def volume_ids(daemon) -> set[str]:
    return {n for n in os.listdir(os.path.join(daemon.root, "volumes")) if not n.startswith(".")}


def volumes_of(daemon, name: str) -> set[str]:
    """Ids of the volumes (not binds) of a container."""
    paths = inspect(daemon, name)["Volumes"].values()
    return {os.path.basename(os.path.dirname(p)) for p in paths if p.endswith("/_data")}


def container_ids(daemon) -> set[str]:
    return set(daemon.out("ps", "-a", "-q", "--no-trunc").split())


def inspect(daemon, name: str) -> dict:
    return json.loads(daemon.out("inspect", name))[0]


def sh(daemon, flags: list[str], script: str) -> str:
    """`docker run FLAGS busybox sh -c SCRIPT`; its output (it must succeed)."""
    return daemon.out("run", *flags, "busybox", "sh", "-c", script)


def try_sh(daemon, flags: list[str], script: str):
    return daemon.cli("run", *flags, "busybox", "sh", "-c", script)


def load_busybox(d, busybox_tar: str) -> None:
    with open(busybox_tar, "rb") as f:
        d.cli("import", "-", "busybox", input=f.read(), check=True)


@pytest.fixture
def hostdir():
    path = tempfile.mkdtemp(prefix="ldt-vol-", dir="/tmp")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_couchdb_example_shares_data_with_volumes_from(daemon):
    # The documentation's CouchDB example with busybox: the first "database" keeps running.
    write = "echo '{\"doc\": 1}' > /var/lib/couchdb/db.couch; exec sleep 600"
    cid = sh(daemon, ["-d", "-v", "/var/lib/couchdb", "--name", "couch1"], write).strip()
    try:

        def read() -> str:
            r = try_sh(daemon, ["--rm", "--volumes-from", cid], "cat /var/lib/couchdb/db.couch")
            return r.stdout.decode() if r.returncode == 0 else ""

        assert poll(read, what="the first container's write") == '{"doc": 1}\n'
        couch1 = inspect(daemon, "couch1")
        assert list(couch1["Volumes"]) == ["/var/lib/couchdb"]
        assert couch1["VolumesRW"] == {"/var/lib/couchdb": True}
        host = couch1["Volumes"]["/var/lib/couchdb"]
        assert host.startswith(os.path.join(os.path.realpath(daemon.root), "volumes") + "/")
        assert host.endswith("/_data")
        with open(os.path.join(host, "db.couch")) as f:
            assert f.read() == '{"doc": 1}\n'
    finally:
        daemon.out("rm", "-f", "-v", "couch1")


def test_middleman_chain_and_repeated_volumes_from(daemon):
    daemon.out("run", "-v", "/var/volume1", "-v", "/var/volume2", "--name", "DATA", "busybox", "true")
    sh(
        daemon,
        ["--volumes-from", "DATA", "--name", "client1"],
        "echo one > /var/volume1/f; echo two > /var/volume2/f",
    )
    out = sh(
        daemon,
        ["--rm", "--volumes-from", "client1", "--name", "client2"],
        "cat /var/volume1/f /var/volume2/f",
    )
    assert out == "one\ntwo\n"
    assert inspect(daemon, "client1")["Volumes"] == inspect(daemon, "DATA")["Volumes"]

    sh(daemon, ["-v", "/other", "--name", "OTHER"], "echo three > /other/f")
    for flags in (["--volumes-from", "DATA,OTHER"], ["--volumes-from", "client1", "--volumes-from", "OTHER"]):
        out = sh(daemon, ["--rm", *flags], "cat /var/volume2/f /other/f")
        assert out == "two\nthree\n"
    daemon.out("rm", "-v", "DATA", "client1", "OTHER")


def test_bind_mounts_ro_rw_and_missing_host_dir(daemon, hostdir):
    with open(os.path.join(hostdir, "in"), "w") as f:
        f.write("from host\n")
    out = sh(daemon, ["--rm", "-v", f"{hostdir}:/h"], "cat /h/in; echo back > /h/out")
    assert out == "from host\n"
    with open(os.path.join(hostdir, "out")) as f:
        assert f.read() == "back\n"

    r = try_sh(daemon, ["--rm", "-v", f"{hostdir}:/h:ro"], "cat /h/in && touch /h/new")
    assert r.returncode != 0
    assert r.stdout == b"from host\n"
    assert b"Read-only file system" in r.stderr
    assert not os.path.exists(os.path.join(hostdir, "new"))

    missing = os.path.join(hostdir, "does", "not", "exist")
    daemon.out("run", "--rm", "-v", f"{missing}:/m", "busybox", "touch", "/m/made")
    assert os.path.isfile(os.path.join(missing, "made"))


def test_file_binds(daemon, hostdir):
    path = os.path.join(hostdir, "app.conf")
    with open(path, "w") as f:
        f.write("key=1\n")
    assert sh(daemon, ["--rm", "-v", f"{path}:/etc/app.conf"], "cat /etc/app.conf") == "key=1\n"
    sh(daemon, ["--rm", "-v", f"{path}:/etc/app.conf"], "echo key=2 > /etc/app.conf")
    with open(path) as f:
        assert f.read() == "key=2\n"
    r = try_sh(daemon, ["--rm", "-v", f"{path}:/etc/app.conf:ro"], "echo x > /etc/app.conf")
    assert r.returncode != 0 and b"Read-only file system" in r.stderr


def test_volumes_from_modes(daemon, hostdir):
    daemon.out("run", "-v", "/rw", "-v", f"{hostdir}:/robind:ro", "--name", "modes", "busybox", "true")
    assert inspect(daemon, "modes")["VolumesRW"] == {"/rw": True, "/robind": False}

    # Default: each volume keeps the source's mode.
    r = try_sh(daemon, ["--rm", "--volumes-from", "modes"], "touch /rw/a && touch /robind/a")
    assert b"/robind/a: Read-only file system" in r.stderr
    assert not os.path.exists(os.path.join(hostdir, "a"))
    # :ro makes every volume read-only.
    r = daemon.cli("run", "--rm", "--volumes-from", "modes:ro", "busybox", "touch", "/rw/b")
    assert r.returncode != 0 and b"Read-only file system" in r.stderr
    # :rw does not make a read-only volume writable.
    daemon.out("create", "--volumes-from", "modes:rw", "--name", "modes-rw", "busybox", "true")
    assert inspect(daemon, "modes-rw")["VolumesRW"] == {"/rw": True, "/robind": False}
    daemon.out("rm", "-v", "modes", "modes-rw")


def test_volume_from_an_image_config_is_initialized_with_the_image_content(daemon):
    seed = "mkdir -p /srv/www && echo index > /srv/www/index.html && chown 1:1 /srv/www && chmod 750 /srv/www"
    sh(daemon, ["--name", "seed"], seed)
    image = daemon.out("commit", "--run", '{"Volumes": {"/srv/www": {}}}', "seed", "withvolume").strip()
    try:
        assert json.loads(daemon.out("inspect", image))[0]["config"]["Volumes"] == {"/srv/www": {}}
        script = "cat /srv/www/index.html; echo new > /srv/www/new.html; stat -c '%u:%g %a' /srv/www"
        out = daemon.out("run", "--name", "web", "withvolume", "sh", "-c", script)
        assert out == "index\n1:1 750\n"
        web = inspect(daemon, "web")
        host = web["Volumes"]["/srv/www"]
        assert sorted(os.listdir(host)) == ["index.html", "new.html"]
        st = os.stat(host)
        assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (1, 1, 0o750)
        # The volume's data is not a change of the container's filesystem.
        assert daemon.out("diff", "web") == ""
        # A second container of the image gets its own copy, not web's.
        out = daemon.out("run", "--rm", "withvolume", "ls", "/srv/www")
        assert out.split() == ["index.html"]
    finally:
        daemon.cli("rm", "-v", "seed", "web")
        daemon.cli("rmi", "withvolume")


def test_diff_commit_export_exclude_volume_data_and_cp_reads_it(daemon, tmp_path):
    sh(
        daemon,
        ["-v", "/data", "--name", "worker"],
        "echo secret > /data/f; mkdir /other; echo plain > /other/f",
    )
    changes = daemon.out("diff", "worker").split("\n")
    assert "A /other/f" in changes
    assert not any("/data" in line for line in changes)

    image = daemon.out("commit", "worker", "committed").strip()
    try:
        out = daemon.out("run", "--rm", "committed", "sh", "-c", "cat /other/f; ls -A /data")
        assert out == "plain\n"
    finally:
        daemon.cli("rmi", image)

    exported = daemon.cli("export", "worker", check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(exported)) as tar:
        names = {n.lstrip("./").rstrip("/") for n in tar.getnames()}
    assert "other/f" in names
    assert not any(n == "data" or n.startswith("data/") for n in names)

    copied = daemon.cli("cp", "worker:/data/f", str(tmp_path), check=True)
    assert copied.returncode == 0
    assert (tmp_path / "f").read_text() == "secret\n"
    daemon.out("rm", "-v", "worker")


def test_rm_v_removes_only_unreferenced_volumes_and_rm_keeps_them(daemon, hostdir):
    sh(daemon, ["-v", "/d", "-v", f"{hostdir}:/h", "--name", "owner"], "echo x > /d/f")
    daemon.out("create", "--volumes-from", "owner", "--name", "user", "busybox", "true")
    (vid,) = volumes_of(daemon, "owner")

    daemon.out("rm", "-v", "owner")  # user still references it
    assert vid in volume_ids(daemon)
    assert daemon.out("run", "--rm", "--volumes-from", "user", "busybox", "cat", "/d/f") == "x\n"

    daemon.out("rm", "-v", "user")  # the last reference
    assert vid not in volume_ids(daemon)
    assert os.path.isdir(hostdir)  # a bound host directory is never deleted

    daemon.out("run", "-v", "/kept", "--name", "plain", "busybox", "true")
    (kept,) = volumes_of(daemon, "plain")
    daemon.out("rm", "plain")
    assert kept in volume_ids(daemon)


def test_bind_of_the_docker_socket_lets_a_container_drive_the_daemon(daemon):
    # Our CLI runs inside busybox from the host's interpreter, bound read-only.
    prefix = os.path.realpath(sys.prefix)
    binds = [f"{daemon.sock}:/var/run/docker.sock", "/usr:/usr:ro", f"{prefix}:{prefix}:ro", f"{APP}:/app:ro"]
    binds += [f"{d}:{d}:ro" for d in ("/lib", "/lib64") if os.path.exists(d)]
    flags = [arg for b in binds for arg in ("-v", b)]
    cli = [os.path.realpath(sys.executable), "-m", "lxc_docker", "-H", "unix:///var/run/docker.sock"]
    out = daemon.out(
        "run", "--name", "sockclient", *flags, "-e", "PYTHONPATH=/app", "busybox",
        *cli, "inspect", "-f", "{{.Name}}", "sockclient",
    )  # fmt: skip
    assert out.strip() == "/sockclient"
    daemon.out("rm", "sockclient")


def test_bad_input_is_refused_and_leaves_nothing_behind(daemon, hostdir):
    containers, volumes = container_ids(daemon), volume_ids(daemon)
    image = {"Image": "busybox", "Cmd": ["true"]}
    cases = [
        {**image, "Volumes": {"data": {}}},
        {**image, "HostConfig": {"Binds": [f"{hostdir}:/b:rx"]}},
        {**image, "HostConfig": {"Binds": ["relative/path:/b"]}},  # `relative:/b` names a volume
        {**image, "HostConfig": {"Binds": [f"{hostdir}:relative"]}},
        {**image, "Volumes": {"/v": {}}, "HostConfig": {"VolumesFrom": ["no-such-container"]}},
        {**image, "Volumes": {"/v": {}}, "VolumesFrom": "no-such-container:ro"},
        {**image, "HostConfig": {"VolumesFrom": ["whatever:rx"]}},
    ]
    for body in cases:
        status, text = api(daemon, "POST", "/containers/create", body)
        assert status == 400, (body, text)
    r = daemon.cli("run", "--volumes-from", "no-such-container", "-v", "/v", "busybox", "true")
    assert r.returncode != 0 and b"no-such-container not found" in r.stderr

    # Failing late, after a new volume and a missing host directory were made: both are taken back.
    missing = os.path.join(hostdir, "missing")
    r = daemon.cli("run", "-v", "/v", "-v", f"{missing}/deep:/etc/passwd", "busybox", "true")
    assert r.returncode != 0 and b"/etc/passwd" in r.stderr
    assert not os.path.exists(missing)

    assert container_ids(daemon) == containers
    assert volume_ids(daemon) == volumes
    tmp = [n for n in os.listdir(os.path.join(daemon.root, "volumes")) if n.startswith(".")]
    assert tmp == []


def test_binds_given_at_start_as_api_1_9_clients_do(daemon, hostdir):
    volumes = volume_ids(daemon)
    create = {"Image": "busybox", "Cmd": ["sh", "-c", "echo hi > /data/f"], "Volumes": {"/data": {}}}
    status, body = api(daemon, "POST", "/v1.9/containers/create", create)
    assert status == 201
    cid = json.loads(body)["Id"]
    assert len(volume_ids(daemon) - volumes) == 1  # made at create, replaced by the bind below

    status, text = api(daemon, "POST", f"/v1.9/containers/{cid}/start", {"Binds": [f"{hostdir}:/data:xx"]})
    assert status == 400, text
    status, text = api(daemon, "POST", f"/v1.9/containers/{cid}/start", {"Binds": [f"{hostdir}:/data"]})
    assert status == 204, text
    assert daemon.out("wait", cid).strip() == "0"
    with open(os.path.join(hostdir, "f")) as f:
        assert f.read() == "hi\n"
    assert inspect(daemon, cid)["Volumes"] == {"/data": os.path.realpath(hostdir)}
    assert volume_ids(daemon) == volumes  # the unused volume made at create is gone
    daemon.out("rm", "-v", cid)


def test_a_host_config_refused_at_start_is_not_kept(daemon):
    create = {"Image": "busybox", "Cmd": ["sh", "-c", "echo hi > /data/f"], "Volumes": {"/data": {}}}
    status, body = api(daemon, "POST", "/v1.9/containers/create", create)
    cid = json.loads(body)["Id"]
    status, text = api(daemon, "POST", f"/v1.9/containers/{cid}/start", {"VolumesFrom": ["no-such-one"]})
    assert status == 400 and b"no-such-one not found" in text
    status, text = api(daemon, "POST", f"/v1.9/containers/{cid}/start", {})
    assert status == 204, text
    assert daemon.out("wait", cid).strip() == "0"
    (vid,) = volumes_of(daemon, cid)
    with open(os.path.join(daemon.root, "volumes", vid, "_data", "f")) as f:
        assert f.read() == "hi\n"
    daemon.out("rm", "-v", cid)
    assert vid not in volume_ids(daemon)


def test_volume_references_survive_a_daemon_restart(daemon_factory, busybox_tar):
    d = daemon_factory().start()
    load_busybox(d, busybox_tar)
    sh(d, ["-v", "/d", "--name", "DATA"], "echo kept > /d/f")
    d.out("create", "--volumes-from", "DATA", "--name", "client", "busybox", "true")
    before = inspect(d, "DATA")
    d.stop()
    d.start()
    assert inspect(d, "DATA")["Volumes"] == before["Volumes"]
    assert inspect(d, "client")["Volumes"] == before["Volumes"]
    assert d.out("run", "--rm", "--volumes-from", "client", "busybox", "cat", "/d/f") == "kept\n"
    (vid,) = volume_ids(d)
    d.out("rm", "-v", "DATA")
    assert volume_ids(d) == {vid}  # client still references it, as recorded before the restart
    d.out("rm", "-v", "client")
    assert volume_ids(d) == set()


def test_volumes_with_the_vfs_driver(daemon_factory, busybox_tar):
    # vfs copies the init layer when it makes the container's: the mount points must still be
    # out of `diff` there.
    d = daemon_factory("-s", "vfs").start()
    load_busybox(d, busybox_tar)
    sh(d, ["-v", "/data", "--name", "vfsdata"], "echo vfs > /data/f")
    assert d.out("diff", "vfsdata") == ""
    assert d.out("run", "--rm", "--volumes-from", "vfsdata", "busybox", "cat", "/data/f") == "vfs\n"
