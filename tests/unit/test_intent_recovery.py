"""The intent journal and the start-up recovery rules, on a real graph and tag store over the vfs
driver, with containers and volumes faked."""

from __future__ import annotations

import io
import os
import signal
import tarfile

import pytest

from lxc_docker.daemon import recovery
from lxc_docker.daemon.recovery import Store, recover
from lxc_docker.errors import NotFound
from lxc_docker.image.graph import Graph
from lxc_docker.image.tags import TagStore
from lxc_docker.storage.vfs import VfsDriver
from lxc_docker.sysutil.journal import CRASH_ENV, Journal


def empty_layer() -> io.BytesIO:
    buf = io.BytesIO()
    tarfile.open(fileobj=buf, mode="w").close()
    buf.seek(0)
    return buf


class FakeContainers:
    def __init__(self) -> None:
        self.known: dict[str, object] = {}
        self.removed: list[tuple[str, bool]] = []

    def get(self, name: str):
        if name not in self.known:
            raise NotFound(name)
        return self.known[name]

    def remove(self, c, force: bool = False, volumes: bool = False) -> None:
        self.removed.append((c.id, volumes))
        del self.known[c.id]


class FakeVolumes:
    def __init__(self) -> None:
        self.finished: list[tuple[str, list[str], bool]] = []
        self.discarded: list[str] = []

    def finish_remove(self, container_id: str, host_paths: list[str], remove_volumes: bool) -> None:
        self.finished.append((container_id, host_paths, remove_volumes))

    def discard_made_for(self, container_id: str) -> list[str]:
        self.discarded.append(container_id)
        return []


class Ref:
    def __init__(self, cid: str) -> None:
        self.id = cid


@pytest.fixture
def store(tmp_path) -> Store:
    root = str(tmp_path)
    driver = VfsDriver(os.path.join(root, "vfs"))
    graph = Graph(root, driver)
    return Store(root, graph, TagStore(root, "vfs"), driver, FakeContainers(), FakeVolumes())


def test_an_intent_is_on_disk_during_the_operation_and_gone_after(tmp_path):
    journal = Journal(str(tmp_path))
    with journal.begin("commit", Images=["x"]) as intent:
        [(path, doc)] = journal.pending()
        assert doc["Op"] == "commit" and doc["Images"] == ["x"]
        intent.step(Images=["x", "y"])
        assert journal.pending()[0][1]["Images"] == ["x", "y"]
    assert journal.pending() == []


def test_the_test_hook_kills_at_the_named_step_only(tmp_path, monkeypatch):
    kills = []
    monkeypatch.setattr(os, "kill", lambda pid, sig: kills.append((pid, sig)))
    monkeypatch.setenv(CRASH_ENV, "rm:2")
    journal = Journal(str(tmp_path))
    with journal.begin("commit") as intent:
        intent.step()
        intent.step()
    assert kills == []
    with journal.begin("rm") as intent:  # step 0
        intent.step()
        assert kills == []
        intent.step()
    assert kills == [(os.getpid(), signal.SIGKILL)]


def test_unreadable_intents_are_dropped_and_unknown_ones_kept(store):
    journal = Journal(store.root)
    os.makedirs(journal.dir)
    with open(os.path.join(journal.dir, "rm-torn.json"), "w") as f:
        f.write("{")
    journal.begin("frobnicate")
    assert recover(store) == []
    assert [os.path.basename(p) for p, _ in journal.pending()][0].startswith("frobnicate-")
    assert len(journal.pending()) == 1


def test_an_image_operation_whose_images_all_arrived_gets_its_tags(store):
    image = store.graph.create(empty_layer())
    Journal(store.root).begin("commit", Images=[image.id], Tags=[["crash/c", "a1", image.id]])
    [line] = recover(store)
    assert "completed" in line
    assert store.tags.get("crash/c", "a1") == image.id
    assert Journal(store.root).pending() == []


def test_an_image_operation_missing_an_image_is_rolled_back(store):
    first = store.graph.create(empty_layer())
    missing = store.graph.new_image_id()
    Journal(store.root).begin("load", Images=[first.id, missing], Tags=[["crash/l", "latest", missing]])
    recover(store)
    assert not store.graph.exists(first.id)
    assert store.tags.get("crash/l", "latest") is None


def test_a_pull_intent_is_recovered_like_a_load(store):
    assert "pull" in recovery.RULES
    image = store.graph.create(empty_layer())
    Journal(store.root).begin("pull", Images=[image.id, store.graph.new_image_id()], Tags=[])
    recover(store)
    assert not store.graph.exists(image.id)


def test_rollback_keeps_an_image_something_else_tagged_since(store):
    image = store.graph.create(empty_layer())
    store.tags.set("other", "latest", image.id)
    Journal(store.root).begin("import", Images=[image.id, store.graph.new_image_id()], Tags=[])
    recover(store)
    assert store.graph.exists(image.id)


def test_rmi_is_rolled_forward(store):
    parent = store.graph.create(empty_layer())
    child = store.graph.create(empty_layer(), parent=parent.id)
    store.tags.set("crash/r", "latest", child.id)
    store.tags.set("crash/r", "keep", parent.id)
    Journal(store.root).begin("rmi", Untag=[["crash/r", "latest"]], Delete=[child.id])
    recover(store)
    assert store.tags.get("crash/r", "latest") is None
    assert not store.graph.exists(child.id) and store.graph.exists(parent.id)


def test_rm_of_a_container_still_registered_is_done_again(store):
    store.containers.known["c1"] = Ref("c1")
    Journal(store.root).begin("rm", Container="c1", Layers=["c1", "c1-init"], Volumes=[], RemoveVolumes=True)
    recover(store)
    assert store.containers.removed == [("c1", True)]


def test_rm_of_a_container_already_gone_finishes_layers_and_volumes(store):
    cid = "f" * 64
    store.driver.create(cid, None)
    store.driver.create(f"{cid}-init", None)
    Journal(store.root).begin(
        "rm", Container=cid, Layers=[cid, f"{cid}-init"], Volumes=["/v/_data"], RemoveVolumes=False
    )
    recover(store)
    assert store.driver.list_ids() == []
    assert store.volumes.finished == [(cid, ["/v/_data"], False)]


def test_create_is_undone_unless_the_container_got_registered(store):
    Journal(store.root).begin("create", Container="gone")
    store.containers.known["made"] = Ref("made")
    Journal(store.root).begin("create", Container="made")
    recover(store)
    assert store.volumes.discarded == ["gone"]
    assert Journal(store.root).pending() == []
