"""The store checker (`docker -d --check`) on crafted stores: a consistent one is clean, and each kind
of damage or leak is reported as its own finding, and nothing else."""

from __future__ import annotations

import json
import os

import pytest

from lxc_docker.daemon.check import check_store

IMG = "a" * 64
CHILD = "b" * 64
CID = "c" * 64
VID = "d" * 64
OTHER = "e" * 64
BRIDGE = "ldtchk0"


def write(path: str, doc: object) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(doc, f)


class Store:
    """A small consistent vfs store: two images (one tagged), a container of the child with one
    volume, on a bridge."""

    def __init__(self, root: str) -> None:
        self.root = root
        for image, parent in ((IMG, ""), (CHILD, IMG)):
            write(self.path("graph", image, "json"), {"id": image, "parent": parent})
            self.layer(image)
        write(self.path("repositories-vfs"), {"Repositories": {"busybox": {"latest": CHILD}}})
        self.volume = self.path("volumes", VID, "_data")
        os.makedirs(self.volume)
        write(self.path("volumes", VID, "config.json"), {"ID": VID, "Path": "/data", "Container": CID})
        self.container(CID, running=False)
        write(self.path("network.json"), {"version": 2, "bridge": BRIDGE, "chain": "DOCKER", "chains": []})
        self.mounts: list[str] = []
        self.rules: list[list[str]] = []
        self.ports: list[str] = []

    def path(self, *parts: str) -> str:
        return os.path.join(self.root, *parts)

    def layer(self, layer_id: str) -> None:
        os.makedirs(self.path("vfs", "dir", layer_id), exist_ok=True)

    def container(self, cid: str, running: bool, ip: str = "", image: str = CHILD) -> None:
        doc = {
            "ID": cid,
            "Image": image,
            "State": {"Running": running},
            "NetworkSettings": {"IPAddress": ip},
            "Volumes": {"/data": self.volume} if cid == CID else {},
        }
        write(self.path("containers", cid, "config.json"), doc)
        self.layer(cid)
        self.layer(f"{cid}-init")

    def check(self) -> list[tuple[str, str]]:
        findings = check_store(
            self.root,
            mounts=self.mounts,
            rules=lambda bridge: self.rules if bridge == BRIDGE else [],
            bridge_ports=lambda bridge: self.ports,
        )
        return [(f.kind, f.subject) for f in findings]


@pytest.fixture
def store(tmp_path) -> Store:
    return Store(str(tmp_path))


def test_a_consistent_store_is_clean(store):
    assert store.check() == []


def test_pending_intent(store):
    write(store.path("journal", "rm-0123.json"), {"Op": "rm", "Container": CID})
    assert store.check() == [("pending-intent", "rm-0123.json")]


@pytest.mark.parametrize("where", [("graph",), ("containers",), ("volumes",), ("vfs", "dir")])
def test_temp_debris(store, where):
    os.makedirs(store.path(*where, ".tmp-del-" + OTHER))
    assert store.check() == [("temp-debris", store.path(*where, ".tmp-del-" + OTHER))]


def test_bad_image(store):
    write(store.path("graph", OTHER, "json"), {"id": IMG})
    store.layer(OTHER)
    assert ("bad-image", OTHER) in store.check()


def test_image_without_layer(store):
    os.rmdir(store.path("vfs", "dir", CHILD))
    assert store.check() == [("image-without-layer", CHILD)]


def test_image_missing_parent(store):
    write(store.path("graph", OTHER, "json"), {"id": OTHER, "parent": "f" * 64})
    store.layer(OTHER)
    assert store.check() == [("image-missing-parent", OTHER)]


def test_dangling_tag(store):
    write(store.path("repositories-vfs"), {"Repositories": {"busybox": {"latest": CHILD, "old": OTHER}}})
    assert store.check() == [("dangling-tag", "busybox:old")]


def test_bad_tags(store):
    with open(store.path("repositories-vfs"), "w") as f:
        f.write("{torn")
    assert store.check() == [("bad-tags", "repositories-vfs")]


def test_orphan_layer(store):
    store.layer(OTHER)
    assert store.check() == [("orphan-layer", OTHER)]


def test_bad_container(store):
    os.makedirs(store.path("containers", OTHER))
    assert store.check() == [("bad-container", OTHER)]


def test_container_without_layer(store):
    os.rmdir(store.path("vfs", "dir", f"{CID}-init"))
    assert store.check() == [("container-without-layer", CID)]


def test_container_missing_image(store):
    store.container(OTHER, running=False, image="f" * 64)
    assert store.check() == [("container-missing-image", OTHER)]


def test_container_missing_volume(store):
    os.rename(store.path("volumes", VID), store.path("elsewhere"))
    assert store.check() == [("container-missing-volume", CID)]


def test_orphan_volume_but_not_a_kept_one(store):
    # What a crash in `rm -v` left on main: the container gone, its volume still there.
    for layer in (CID, f"{CID}-init"):
        os.rmdir(store.path("vfs", "dir", layer))
    os.remove(store.path("containers", CID, "config.json"))
    os.rmdir(store.path("containers", CID))
    assert store.check() == [("orphan-volume", VID)]
    # A plain `rm` keeps the volume on purpose and says so.
    write(store.path("volumes", VID, "config.json"), {"ID": VID, "Container": CID, "Kept": True})
    assert store.check() == []


def test_bad_volume(store):
    os.makedirs(store.path("volumes", OTHER, "_data"))
    assert store.check() == [("bad-volume", OTHER)]


def test_stale_mount_but_not_a_running_containers_root(store):
    home = store.path("vfs", "dir")
    store.mounts = [home, os.path.join(home, CID, "merged"), "/elsewhere/not/ours"]
    assert store.check() == [("stale-mount", os.path.join(home, CID, "merged"))]
    store.container(CID, running=True)
    store.ports = ["veth1"]
    assert store.check() == []


def test_stale_rule_but_not_a_running_containers(store):
    comment = ["-m", "comment", "--comment", f"lxc-docker:{BRIDGE}"]
    dnat = ["-t", "nat", "-A", "DOCKER", "-p", "tcp", "--dport", "8080", *comment]
    store.rules = [
        [*dnat, "-j", "DNAT", "--to-destination", "172.30.0.2:80"],
        [
            "-t",
            "nat",
            "-A",
            "POSTROUTING",
            "-s",
            "172.30.0.0/24",
            "!",
            "-o",
            BRIDGE,
            *comment,
            "-j",
            "MASQUERADE",
        ],
    ]
    assert store.check() == [("stale-rule", " ".join(store.rules[0]))]
    store.container(CID, running=True, ip="172.30.0.2")
    store.ports = ["veth1"]
    assert store.check() == []


def test_stale_bridge_port(store):
    store.ports = ["vethdead"]
    assert store.check() == [("stale-port", BRIDGE)]


def test_no_bridge_means_no_network_findings(store):
    write(store.path("network.json"), {"version": 2, "bridge": "none"})
    store.ports = ["vethdead"]
    store.rules = [["-A", "X", "-d", "10.0.0.9/32"]]
    assert store.check() == []
