"""Named volumes without a daemon: Docker's name rule and messages, the local driver's options, the
store on disk (atomic create, retire), the `/volumes` filters and the in-use rule."""

from __future__ import annotations

import json
import os
import threading

import pytest

from lxc_docker.daemon.container import Container
from lxc_docker.daemon.filtering import FilterArgs
from lxc_docker.daemon.namedvolumes import NamedVolumes
from lxc_docker.daemon.volumestore import VolumeStore, check_driver, check_options, validate_name
from lxc_docker.errors import Conflict, InvalidParameter, NotFound

ALLOWED = 'only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed'


@pytest.mark.parametrize("name", ["ab", "data_1.x", "A-b", "0" * 64])
def test_valid_names(name):
    validate_name(name)


@pytest.mark.parametrize("name", ["../x", "a/b", "  ", "x", ".hidden", "-x", "_x", "a b", "é1", ""])
def test_invalid_names_get_dockers_message(name):
    with pytest.raises(InvalidParameter) as e:
        validate_name(name)
    assert (
        str(e.value)
        == f'create {name}: "{name}" includes invalid characters for a local volume name, {ALLOWED}'
    )


def test_drivers():
    check_driver(None)
    check_driver("local")
    with pytest.raises(NotFound, match="plugin not found"):
        check_driver("flocker")


def test_options(tmp_path):
    assert check_options(None) == {}
    tmpfs = {"type": "tmpfs", "device": "tmpfs", "o": "size=1m,uid=1000,noexec"}
    assert check_options(tmpfs) == tmpfs
    bind = {"type": "none", "o": "bind,ro", "device": str(tmp_path)}
    assert check_options(bind) == bind
    for bad, message in [
        ({"size": "1m"}, 'invalid option key: "size"'),
        ({"type": "ext4", "device": "/dev/sda1"}, "type='ext4' is not supported"),
        ({"o": "bind", "device": "relative"}, "o=bind needs device="),
        ({"o": "bind", "device": str(tmp_path / "missing")}, "o=bind needs device="),
        ({"type": "tmpfs", "o": "weird"}, "unknown mount option 'weird'"),
        ({"type": 1}, "DriverOpts must be an object of strings"),
    ]:
        with pytest.raises(InvalidParameter, match=message):
            check_options(bad)


class _Refs:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.users: dict[str, list[str]] = {}

    def users_of(self, host_path: str) -> list[str]:
        return self.users.get(host_path, [])


class _Events:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str]] = []

    def publish(self, action: str, id: str, *, type: str = "container", from_: str = "", **attributes: str):
        self.seen.append((type, action, id))


@pytest.fixture
def named(tmp_path):
    vdir = tmp_path / "volumes"
    vdir.mkdir()
    return NamedVolumes(str(tmp_path), VolumeStore(str(vdir)), _Refs(), _Events())


def test_create_inspect_list_remove(named):
    doc = named.create({"Name": "one", "Labels": {"a": "b"}})
    assert doc == {
        "Name": "one",
        "Driver": "local",
        "Mountpoint": named.store.data("one"),
        "Labels": {"a": "b"},
        "Scope": "local",
        "Options": {},
    }
    assert named.create({"Name": "one", "Labels": {"other": "x"}}) == doc  # exists: returned as it is
    generated = named.create(None)["Name"]
    assert len(generated) == 64
    assert sorted(v["Name"] for v in named.list(FilterArgs())) == sorted(["one", generated])
    named.refs.users[named.store.data("one")] = ["c1", "c2"]
    assert [v["Name"] for v in named.list(FilterArgs({"dangling": ["true"]}))] == [generated]
    assert [v["Name"] for v in named.list(FilterArgs({"dangling": ["0"]}))] == ["one"]
    assert [v["Name"] for v in named.list(FilterArgs({"name": ["^on"]}))] == ["one"]
    assert [v["Name"] for v in named.list(FilterArgs({"label": ["a=b"]}))] == ["one"]
    with pytest.raises(InvalidParameter, match="Invalid filter 'color'"):
        named.list(FilterArgs({"color": ["red"]}))
    with pytest.raises(Conflict, match=r"^remove one: volume is in use - \[c1, c2\]$"):
        named.remove("one")
    named.refs.users.clear()
    named.remove("one")
    with pytest.raises(NotFound, match="^get one: no such volume$"):
        named.inspect("one")
    named.remove("one", force=True)
    assert not [n for n in os.listdir(named.store.dir) if n != generated]
    assert os.listdir(os.path.join(named.root, "journal")) == []
    assert [(t, a) for t, a, _ in named.events.seen] == [("volume", "create")] * 2 + [("volume", "destroy")]


def test_bad_bodies_change_nothing(named):
    for body in (
        {"Name": 3},
        {"Name": "ok", "Labels": {"a": 1}},
        {"Name": "ok", "DriverOpts": {"x": "y"}},
        [],
    ):
        with pytest.raises(InvalidParameter):
            named.create(body)
    assert os.listdir(named.store.dir) == []


def test_anonymous_volumes_are_listed_with_null_labels(named):
    vid = "f" * 64
    os.makedirs(os.path.join(named.store.dir, vid, "_data"))
    with open(os.path.join(named.store.dir, vid, "config.json"), "w") as f:
        json.dump({"ID": vid, "Path": "/data", "Container": "c"}, f)
    (doc,) = named.list(FilterArgs())
    assert doc["Name"] == vid and doc["Labels"] is None and doc["Options"] is None
    assert not named.store.is_named(vid)


def test_events_of_a_container_run(named):
    named.create({"Name": "vol"})
    c = Container(named.root, "c" * 64)
    c.volumes = {"/d": named.store.data("vol"), "/h": "/host/dir"}
    c.volumes_rw = {"/d": False, "/h": True}
    named.prepare_run(c, None)
    named.release_run(c)
    assert [a for _, a, _ in named.events.seen] == ["create", "mount", "unmount"]


def test_run_flag_v_names_a_volume_unless_it_is_a_path(tmp_path, monkeypatch):
    from lxc_docker.runconfig.parse import parse_volume

    monkeypatch.chdir(tmp_path)
    assert parse_volume("data:/x") == ("/x", "data:/x")
    assert parse_volume("data:/x:ro") == ("/x", "data:/x:ro")
    assert parse_volume("./here:/x") == ("/x", f"{tmp_path}/here:/x")
    assert parse_volume("/abs/../p:/x") == ("/x", "/p:/x")
