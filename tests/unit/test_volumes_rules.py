"""Volume specs and rules: bind and volumes-from parsing, which source serves a path, and the
lifetime rule (rm -v deletes only what no other container, nor one being created, references)."""

from __future__ import annotations

import os
import threading

import pytest

from lxc_docker.daemon.container import Container
from lxc_docker.daemon.volumes import VolumeService
from lxc_docker.daemon.volumespec import (
    Bind,
    clean_destination,
    parse_bind,
    parse_binds,
    parse_volumes_from,
    plan,
    volume_id_of,
    volumes_from_specs,
)
from lxc_docker.errors import InvalidParameter, NotFound

# -- parsing -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spec, expected",
    [
        ("/host:/ctr", Bind("/host", "/ctr", True)),
        ("/host:/ctr:rw", Bind("/host", "/ctr", True)),
        ("/host:/ctr:ro", Bind("/host", "/ctr", False)),
        ("/host/file.conf:/etc//app.conf/", Bind("/host/file.conf", "/etc/app.conf", True)),
        (
            "/var/run/docker.sock:/var/run/docker.sock",
            Bind("/var/run/docker.sock", "/var/run/docker.sock", True),
        ),
        ("data_1.x:/ctr:ro", Bind("data_1.x", "/ctr", False)),
    ],
)
def test_parse_bind(spec, expected):
    assert parse_bind(spec) == expected


@pytest.mark.parametrize(
    "spec, message",
    [
        ("/host:/ctr:rx", "Invalid bind mode 'rx'"),
        ("/host:/ctr:RO", "Invalid bind mode"),
        ("/host:/ctr:ro:extra", "Invalid bind specification"),
        ("/host", "Invalid bind specification"),
        ("/host::ro", "Invalid bind specification"),
        ("../host:/ctr", 'create ../host: "../host" includes invalid characters for a local volume name'),
        ("a/b:/ctr", "includes invalid characters"),
        ("x:/ctr", "includes invalid characters"),
        ("/host:ctr", "must be an absolute path"),
        ("/host:/", "cannot be mounted on /"),
        ("/host:/..", "cannot be mounted on /"),
    ],
)
def test_parse_bind_refuses(spec, message):
    with pytest.raises(InvalidParameter, match=message.replace("(", r"\(")):
        parse_bind(spec)


def test_duplicate_bind_destinations_are_refused():
    with pytest.raises(InvalidParameter, match="Duplicate bind mount /x"):
        parse_binds(["/a:/x", "/b:/x/"])
    assert parse_binds(None) == []


@pytest.mark.parametrize(
    "spec, expected",
    [("DATA", ("DATA", None)), ("DATA:ro", ("DATA", False)), ("abc123:rw", ("abc123", True))],
)
def test_parse_volumes_from(spec, expected):
    assert parse_volumes_from(spec) == expected


@pytest.mark.parametrize("spec", ["", ":ro", "DATA:", "DATA:rx", "DATA:ro:rw"])
def test_parse_volumes_from_refuses(spec):
    with pytest.raises(InvalidParameter, match="Malformed volumes-from"):
        parse_volumes_from(spec)


def test_volumes_from_specs_merges_host_config_and_the_1_9_config_field():
    assert volumes_from_specs({"VolumesFrom": "a,b:ro"}, {"VolumesFrom": ["c", "a"]}) == ["c", "a", "b:ro"]
    assert volumes_from_specs({"VolumesFrom": ""}, {"VolumesFrom": "x, y"}) == ["x", "y"]
    assert volumes_from_specs({}, {}) == []


def test_clean_destination():
    assert clean_destination("/a/./b//c/") == "/a/b/c"
    assert clean_destination("//a") == "/a"
    for bad in ("a", "", "./a", "/", "/a/../.."):
        with pytest.raises(InvalidParameter):
            clean_destination(bad)


def test_volume_id_of_recognizes_only_our_data_directories():
    vid = "a" * 64
    assert volume_id_of("/r/volumes", f"/r/volumes/{vid}/_data") == vid
    assert volume_id_of("/r/volumes", f"/r/volumes/{vid}/_data/") == vid
    assert volume_id_of("/r/volumes", f"/r/volumes/{vid}") is None
    assert volume_id_of("/r/volumes", f"/elsewhere/{vid}/_data") is None
    assert volume_id_of("/r/volumes", "/r/volumes/short/_data") is None
    assert volume_id_of("/r/volumes", "/home/me/src") is None


# -- which source serves a path ----------------------------------------------------------------------


def test_plan_new_volumes_for_config_paths():
    assert plan(["/a", "/b"], [], []) == {"/a": ("", True), "/b": ("", True)}


def test_plan_binds_win_over_volumes_from_which_win_over_new_volumes():
    source = ({"/data": "/v/1/_data", "/logs": "/v/2/_data"}, {"/data": True, "/logs": True}, None)
    result = plan(["/data", "/logs", "/new"], [Bind("/host", "/logs", False)], [source])
    assert result == {"/logs": ("/host", False), "/data": ("/v/1/_data", True), "/new": ("", True)}


def test_plan_first_volumes_from_source_wins():
    first = ({"/d": "/v/1/_data"}, {"/d": True}, None)
    second = ({"/d": "/v/2/_data", "/e": "/v/3/_data"}, {"/d": True, "/e": True}, None)
    assert plan([], [], [first, second]) == {"/d": ("/v/1/_data", True), "/e": ("/v/3/_data", True)}


def test_plan_volumes_from_modes():
    source = ({"/rw": "/v/1/_data", "/ro": "/host"}, {"/rw": True, "/ro": False}, None)
    assert plan([], [], [source]) == {"/rw": ("/v/1/_data", True), "/ro": ("/host", False)}
    as_ro = (source[0], source[1], False)
    assert plan([], [], [as_ro]) == {"/rw": ("/v/1/_data", False), "/ro": ("/host", False)}
    as_rw = (source[0], source[1], True)
    assert plan([], [], [as_rw]) == {"/rw": ("/v/1/_data", True), "/ro": ("/host", False)}


def test_plan_fixed_entries_win_and_reusable_volumes_are_kept():
    fixed = {"/d": ("/v/1/_data", True)}
    result = plan(["/d", "/e"], [Bind("/host", "/d", True)], [], fixed, {"/e": "/v/9/_data"})
    assert result == {"/d": ("/v/1/_data", True), "/e": ("/v/9/_data", True)}


# -- lifetime ----------------------------------------------------------------------------------------


class _Containers:
    def __init__(self) -> None:
        self.registered: dict[str, Container] = {}

    def all(self) -> list[Container]:
        return list(self.registered.values())

    def get(self, name: str) -> Container:
        for c in self.registered.values():
            if name in (c.id, c.name):
                return c
        raise NotFound(f"No such container: {name}")


class _Driver:
    """Layers as plain directories, as the vfs driver has them."""

    def __init__(self, root: str) -> None:
        self.root = root

    def get(self, layer: str) -> str:
        path = os.path.join(self.root, layer)
        os.makedirs(path, exist_ok=True)
        return path

    def put(self, layer: str) -> None:
        pass


@pytest.fixture
def service(tmp_path):
    root = str(tmp_path / "root")
    os.makedirs(root)
    return VolumeService(root, _Containers(), _Driver(str(tmp_path / "layers")))


def _root(service: VolumeService) -> str:
    return os.path.dirname(service.dir)


def _create(service: VolumeService, name: str, volumes=(), binds=(), volumes_from=()) -> Container:
    c = Container(_root(service), f"{name:0<64}"[:64])
    c.name = name
    c.config = {"Volumes": {v: {} for v in volumes}}
    c.host_config = {"Binds": list(binds), "VolumesFrom": list(volumes_from)}
    service.on_create(c)
    service.containers.registered[c.id] = c
    return c


def _remove(service: VolumeService, c: Container, volumes: bool) -> None:
    del service.containers.registered[c.id]
    service.on_remove(c, volumes)


def _ids(service: VolumeService) -> set[str]:
    return {n for n in os.listdir(service.dir) if not n.startswith(".")}


def test_rm_v_deletes_a_volume_only_with_its_last_reference(service):
    data = _create(service, "data", volumes=["/d"])
    middle = _create(service, "middle", volumes_from=["data"])
    last = _create(service, "last", volumes_from=["middle:ro"])
    assert middle.volumes == data.volumes == last.volumes
    assert last.volumes_rw == {"/d": False}
    (vid,) = _ids(service)
    _remove(service, data, volumes=True)
    _remove(service, middle, volumes=True)
    assert _ids(service) == {vid}
    _remove(service, last, volumes=True)
    assert _ids(service) == set()


def test_plain_rm_keeps_the_volume_even_without_references(service):
    c = _create(service, "alone", volumes=["/d"])
    _remove(service, c, volumes=False)
    assert len(_ids(service)) == 1


def test_rm_v_never_deletes_a_bound_host_directory(service, tmp_path):
    host = tmp_path / "host"
    c = _create(service, "binder", binds=[f"{host}:/h"])
    assert host.is_dir() and c.volumes == {"/h": str(host)}
    _remove(service, c, volumes=True)
    assert host.is_dir()


def test_a_container_being_created_holds_its_volumes(service):
    data = _create(service, "data", volumes=["/d"])
    # Created but not registered yet (config.json still being written) when `rm -v data` runs.
    pending = Container(_root(service), "p" * 64)
    pending.config, pending.host_config = {}, {"VolumesFrom": ["data"]}
    undo = service.on_create(pending)
    _remove(service, data, volumes=True)
    assert len(_ids(service)) == 1
    # Its create failed after all: the volume goes with the last `rm -v` of a container using it.
    undo()
    assert pending.volumes == {}


def test_failed_create_takes_back_what_it_made(service, tmp_path):
    layers = service.driver
    os.makedirs(os.path.join(layers.get("x" * 64 + "-init"), "etc"))
    with open(os.path.join(layers.get("x" * 64 + "-init"), "etc", "passwd"), "w"):
        pass
    c = Container(_root(service), "x" * 64)
    c.config = {"Volumes": {"/new": {}}}
    c.host_config = {"Binds": [f"{tmp_path}/made/here:/etc/passwd"]}
    with pytest.raises(InvalidParameter, match="/etc/passwd"):
        service.on_create(c)
    assert _ids(service) == set()
    assert not (tmp_path / "made").exists()
    assert os.listdir(service.dir) == []


def test_unknown_volumes_from_is_a_400_not_a_404(service):
    c = Container(_root(service), "y" * 64)
    c.config, c.host_config = {"Volumes": {"/v": {}}}, {"VolumesFrom": ["ghost"]}
    with pytest.raises(InvalidParameter, match="ghost not found"):
        service.on_create(c)
    assert os.listdir(service.dir) == []


def test_concurrent_rm_v_of_the_last_two_users_deletes_once(service):
    first = _create(service, "first", volumes=["/d"])
    second = _create(service, "second", volumes_from=["first"])
    del service.containers.registered[first.id]
    del service.containers.registered[second.id]
    threads = [threading.Thread(target=service.on_remove, args=(c, True)) for c in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert os.listdir(service.dir) == []


def test_mount_points_in_a_copied_layer_keep_the_init_layers_times(service):
    # vfs copies the init layer before the volumes are resolved, so the mount points are made twice;
    # if their times differed, `docker diff` would show `C /data` (it compares mtimes).
    c = _create(service, "timed", volumes=["/data", "/srv/www/html"])
    init, own = service.driver.get(c.init_id), service.driver.get(c.id)
    for path in ("data", "srv", "srv/www", "srv/www/html"):
        assert os.lstat(os.path.join(own, path)).st_mtime_ns == os.lstat(os.path.join(init, path)).st_mtime_ns
