"""The graph and tag store over a stand-in storage driver (pure bookkeeping, no kernel)."""

from __future__ import annotations

import io
import json
import os

import pytest

from lxc_docker.errors import Conflict, InvalidParameter, NotFound
from lxc_docker.image.graph import Graph
from lxc_docker.image.image import Image
from lxc_docker.image.tags import TagStore


class FakeDriver:
    """Records layers in memory; `fail_on` makes apply_diff fail like a corrupt archive would."""

    name = "fake"

    def __init__(self) -> None:
        self.layers: dict[str, bytes] = {}
        self.fail_on: bytes | None = None

    def create(self, id, parent):
        self.layers[id] = b""

    def apply_diff(self, id, stream):
        data = stream.read()
        if self.fail_on is not None and self.fail_on in data:
            raise InvalidParameter("corrupt layer")
        self.layers[id] = data
        return len(data)

    def remove(self, id):
        self.layers.pop(id, None)

    def exists(self, id):
        return id in self.layers

    def list_ids(self):
        return list(self.layers)

    def diff(self, id, parent, out):
        out.write(self.layers[id])


@pytest.fixture
def store(tmp_path):
    driver = FakeDriver()
    return Graph(str(tmp_path), driver), driver, tmp_path


def test_create_register_and_history(store):
    graph, driver, root = store
    base = graph.create(io.BytesIO(b"base"), comment="Imported from -")
    child = graph.create(io.BytesIO(b"child!"), parent=base.id)
    assert [i.id for i in graph.history(child.id)] == [child.id, base.id]
    assert graph.virtual_size(child.id) == 10
    doc = json.load(open(root / "graph" / child.id / "json"))
    assert doc["parent"] == base.id and doc["Size"] == 6
    assert open(root / "graph" / child.id / "layersize").read() == "6"
    with pytest.raises(Conflict):
        graph.delete(base.id)


def test_failed_layer_leaves_nothing(store):
    graph, driver, root = store
    driver.fail_on = b"bad"
    with pytest.raises(InvalidParameter):
        graph.create(io.BytesIO(b"bad data"))
    assert graph.all() == [] and driver.layers == {}
    assert os.listdir(root / "graph") == []


def test_prefix_resolution(store):
    graph, _, _ = store
    a = graph.register(Image(id="ab" + "0" * 62), io.BytesIO(b""))
    graph.register(Image(id="ac" + "0" * 62), io.BytesIO(b""))
    assert graph.resolve_prefix("ab") == a.id
    assert graph.resolve_prefix("ff") is None
    with pytest.raises(InvalidParameter, match="Multiple IDs"):
        graph.resolve_prefix("a")


def test_restore_drops_debris_and_broken_images(store):
    graph, driver, root = store
    base = graph.create(io.BytesIO(b"base"))
    child = graph.create(io.BytesIO(b"kid"), parent=base.id)
    os.makedirs(root / "graph" / ".tmp-deadbeef")
    (root / "graph" / ("f" * 64)).mkdir()  # not an image: no json
    driver.layers["orphan"] = b"x"
    # The parent's layer vanished: both it and its child become unusable and are dropped.
    del driver.layers[base.id]
    again = Graph(str(root), driver)
    assert again.all() == []
    assert sorted(os.listdir(root / "graph")) == []
    assert sorted(again.remove_orphan_layers()) == sorted([child.id, "orphan"])
    assert driver.layers == {}


def test_unknown_image(store):
    graph, _, _ = store
    with pytest.raises(NotFound, match="No such image"):
        graph.get("0" * 64)


def test_tags_atomic_and_conflicts(tmp_path):
    tags = TagStore(str(tmp_path), "fake")
    a, b = "a" * 64, "b" * 64
    tags.set("repo", "latest", a)
    with pytest.raises(Conflict, match="already set"):
        tags.set("repo", "latest", b)
    tags.set("repo", "latest", b, force=True)
    tags.set("repo", "v1", a)
    assert TagStore(str(tmp_path), "fake").repositories == {"repo": {"latest": b, "v1": a}}
    assert tags.by_id() == {b: ["repo:latest"], a: ["repo:v1"]}
    with pytest.raises(InvalidParameter):
        tags.set("Bad", "x", a)
    assert tags.delete("repo", "v1") and not tags.delete("repo", "v1")
    tags.prune({a})
    assert tags.repositories == {}
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".tmp")]
