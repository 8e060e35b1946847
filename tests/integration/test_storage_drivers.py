"""Tests of the overlay and vfs storage drivers on the real kernel: layers, mounts, whiteouts,
diffs moved between drivers, and driver selection.
"""

from __future__ import annotations

import errno
import gzip
import hashlib
import io
import os
import stat
import tarfile
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from lxc_docker.errors import Conflict, DriverNotSupported, InvalidParameter, NotFound
from lxc_docker.storage import overlay, select
from lxc_docker.storage.base import backing_filesystem, docker_fs_name
from lxc_docker.storage.overlay import OverlayDriver
from lxc_docker.storage.vfs import VfsDriver
from lxc_docker.sysutil import syscalls

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(
        os.geteuid() != 0, reason="storage drivers need root (mounts, device nodes, file owners)"
    ),
]

DRIVERS = ["overlay", "vfs"]


# -- helpers ---------------------------------------------------------------------------------


def mounts_under(path) -> list[str]:
    prefix = os.path.realpath(path).rstrip("/") + "/"
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4].replace("\\040", " ") for line in f]
    return [p for p in points if p.startswith(prefix)]


def D(name, mode=0o755):
    info = tarfile.TarInfo(name)
    info.type, info.mode = tarfile.DIRTYPE, mode
    return info, None


def F(name, data: bytes = b"", mode=0o644, uid=0):
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.uid, info.gid = len(data), mode, uid, uid
    return info, data


def S(name, target):
    info = tarfile.TarInfo(name)
    info.type, info.linkname = tarfile.SYMTYPE, target
    return info, None


def H(name, target):
    info = tarfile.TarInfo(name)
    info.type, info.linkname = tarfile.LNKTYPE, target
    return info, None


def C(name, major, minor):
    info = tarfile.TarInfo(name)
    info.type, info.devmajor, info.devminor, info.mode = tarfile.CHRTYPE, major, minor, 0o666
    return info, None


def layer_tar(*entries, compress=False) -> io.BytesIO:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in entries:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    raw = buf.getvalue()
    return io.BytesIO(gzip.compress(raw) if compress else raw)


def tar_names(data: bytes) -> set[str]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {m.name.removeprefix("./").rstrip("/") for m in tar.getmembers()} - {"", "."}


def snapshot(root: str) -> dict[str, tuple]:
    """Everything that must survive a layer's trip through tar: type, mode, owner, content."""
    tree = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            rel = os.path.relpath(path, root)
            if stat.S_ISLNK(st.st_mode):
                detail = os.readlink(path)
            elif stat.S_ISREG(st.st_mode):
                with open(path, "rb") as f:
                    detail = f.read()
            elif stat.S_ISCHR(st.st_mode):
                detail = (os.major(st.st_rdev), os.minor(st.st_rdev))
            else:
                detail = None
            tree[rel] = (stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode), st.st_uid, detail)
    return tree


BASE = [
    D("bin"),
    F("bin/busybox", b"\x7fELF pretend busybox", mode=0o755),
    S("bin/sh", "busybox"),
    H("bin/ls", "bin/busybox"),
    D("dev"),
    C("dev/null", 1, 3),
    D("etc"),
    F("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n"),
    F("etc/hosts", b"127.0.0.1 localhost\n"),
    F("etc/group", b"root:x:0:\n"),
    D("opt"),
    D("opt/a"),
    F("opt/a/one", b"1"),
    F("opt/a/two", b"22", uid=1000),
    D("opt/a/sub"),
    F("opt/a/sub/deep", b"333"),
    D("opt/keep"),
    F("opt/keep/k", b"kept"),
]

NEW_PASSWD = b"root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n"

CHILD = [
    D("etc"),
    F("etc/.wh.hosts"),
    F("etc/passwd", NEW_PASSWD),
    D("opt"),
    D("opt/a"),
    F("opt/a/.wh..wh..opq"),
    F("opt/a/three", b"three"),
    D("usr"),
    F("usr/new", b"brand new", mode=0o600),
]

CHILD_FILE_BYTES = len(NEW_PASSWD) + len(b"three") + len(b"brand new")


def make_driver(name: str, graph_root: str, made: list):
    try:
        driver = select.new_driver(name, graph_root)
    except DriverNotSupported as e:
        pytest.skip(f"{name} driver not usable on this host: {e}")
    made.append(driver)
    return driver


def build_base_and_child(driver) -> None:
    driver.create("base", None)
    assert driver.apply_diff("base", layer_tar(*BASE, compress=True)) > 0
    driver.create("child", "base")
    driver.apply_diff("child", layer_tar(*CHILD))


# -- fixtures --------------------------------------------------------------------------------


@pytest.fixture
def made():
    drivers: list = []
    yield drivers
    for driver in drivers:
        driver.cleanup()


@pytest.fixture
def graph_root(tmp_path, made):
    root = tmp_path / "graph"
    root.mkdir()
    yield str(root)
    for driver in made:
        driver.cleanup()
    assert mounts_under(tmp_path) == [], "a test left mounts behind"


@pytest.fixture(params=DRIVERS)
def driver(request, graph_root, made):
    return make_driver(request.param, graph_root, made)


def other_graph_root(graph_root: str, name: str) -> str:
    path = os.path.join(os.path.dirname(graph_root), name)
    os.makedirs(path)
    return path


# -- layer lifecycle -------------------------------------------------------------------------


def test_create_exists_remove(driver):
    assert not driver.exists("base")
    driver.create("base", None)
    driver.create("child", "base")
    assert driver.exists("base") and driver.exists("child")
    assert driver.list_ids() == ["base", "child"]
    driver.remove("child")
    assert not driver.exists("child")
    driver.remove("child")  # idempotent
    assert driver.list_ids() == ["base"]


def test_create_errors(driver):
    with pytest.raises(NotFound):
        driver.create("orphan", "missing-parent")
    assert not driver.exists("orphan")
    driver.create("base", None)
    with pytest.raises(Conflict):
        driver.create("base", None)
    for bad in ("", "../escape", ".hidden", "a/b"):
        with pytest.raises(InvalidParameter):
            driver.create(bad, None)
    with pytest.raises(NotFound):
        driver.get("missing")
    assert driver.list_ids() == ["base"]


def test_get_put_refcount(driver):
    build_base_and_child(driver)
    base_root = driver.get("base")
    assert sorted(os.listdir(base_root)) == ["bin", "dev", "etc", "opt"]
    driver.put("base")

    root = driver.get("child")
    assert driver.get("child") == root
    if driver.name == "overlay":
        assert mounts_under(driver.home) == [root]
    with open(os.path.join(root, "etc", "passwd"), "rb") as f:
        assert f.read() == NEW_PASSWD
    driver.put("child")
    assert os.path.exists(os.path.join(root, "etc", "passwd"))  # still referenced once
    driver.put("child")
    assert mounts_under(driver.home) == []
    driver.put("child")  # an extra put is harmless


def test_merged_view_applies_whiteouts_and_opaque_dirs(driver):
    build_base_and_child(driver)
    root = driver.get("child")
    try:
        assert sorted(os.listdir(os.path.join(root, "etc"))) == ["group", "passwd"]
        assert os.listdir(os.path.join(root, "opt", "a")) == ["three"]
        assert os.listdir(os.path.join(root, "opt", "keep")) == ["k"]
        tree = snapshot(root)
        assert tree["usr/new"] == (stat.S_IFREG, 0o600, 0, b"brand new")
        assert tree["bin/sh"][3] == "busybox"
        assert tree["dev/null"][0::3] == (stat.S_IFCHR, (1, 3))
        ls, busybox = os.lstat(os.path.join(root, "bin/ls")), os.lstat(os.path.join(root, "bin/busybox"))
        assert (ls.st_ino, ls.st_nlink) == (busybox.st_ino, 2)
        assert not any(".wh." in path for path in tree)
    finally:
        driver.put("child")
    # The parent layer is untouched by its child's deletions.
    base = snapshot(driver.get("base"))
    driver.put("base")
    assert base["etc/hosts"][3] == b"127.0.0.1 localhost\n"
    assert "opt/a/one" in base and "opt/a/three" not in base


def test_overlay_diff_dir_holds_overlay_whiteouts(graph_root, made):
    driver = make_driver("overlay", graph_root, made)
    build_base_and_child(driver)
    diff = os.path.join(driver.home, "child", "diff")
    st = os.lstat(os.path.join(diff, "etc", "hosts"))
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(0, 0)
    assert os.getxattr(os.path.join(diff, "opt", "a"), "trusted.overlay.opaque") == b"y"
    assert not os.path.exists(os.path.join(diff, "etc", ".wh.hosts"))


def test_diff_against_parent_has_only_the_changes(driver):
    build_base_and_child(driver)
    out = io.BytesIO()
    driver.diff("child", "base", out)
    names = tar_names(out.getvalue())
    assert {"etc/.wh.hosts", "etc/passwd", "opt/a/three", "usr/new"} <= names
    # overlay records the opaque directory, a naive comparison deletes its old entries one by one.
    assert (
        "opt/a/.wh..wh..opq" in names
        or {
            "opt/a/.wh.one",
            "opt/a/.wh.two",
            "opt/a/.wh.sub",
        }
        <= names
    )
    assert not names & {"opt/keep/k", "bin/busybox", "etc/group", "opt/a/one"}


def test_diff_without_parent_is_the_whole_tree(driver):
    build_base_and_child(driver)
    out = io.BytesIO()
    driver.diff("child", None, out)
    names = tar_names(out.getvalue())
    assert {"bin/busybox", "etc/group", "etc/passwd", "opt/a/three", "usr/new"} <= names
    assert not any(".wh." in name for name in names)
    assert "etc/hosts" not in names and "opt/a/one" not in names
    assert {c.kind for c in driver.changes("child", None)} == {"A"}
    assert mounts_under(driver.home) == []


def test_changes_and_diff_size(driver):
    build_base_and_child(driver)
    found = {(c.path, c.kind) for c in driver.changes("child", "base")}
    assert {
        ("/etc/hosts", "D"),
        ("/etc/passwd", "C"),
        ("/usr/new", "A"),
        ("/opt/a/three", "A"),
    } <= found
    assert not {path for path, _ in found} & {"/opt/keep/k", "/bin/busybox", "/etc/group"}
    assert driver.diff_size("child", "base") == CHILD_FILE_BYTES
    assert mounts_under(driver.home) == []


def test_changes_against_a_grandparent_fall_back_to_comparing_trees(driver):
    build_base_and_child(driver)
    driver.create("grandchild", "child")
    driver.apply_diff("grandchild", layer_tar(D("usr"), F("usr/newer", b"newer")))
    found = {(c.path, c.kind) for c in driver.changes("grandchild", "base")}
    assert {("/etc/hosts", "D"), ("/usr/new", "A"), ("/usr/newer", "A")} <= found
    assert driver.diff_size("grandchild", "base") == CHILD_FILE_BYTES + len(b"newer")
    out = io.BytesIO()
    driver.diff("grandchild", "base", out)
    assert {"etc/.wh.hosts", "usr/new", "usr/newer"} <= tar_names(out.getvalue())
    assert mounts_under(driver.home) == []


@pytest.mark.parametrize("source_name, dest_name", [("overlay", "vfs"), ("vfs", "overlay")])
def test_layer_tar_moves_between_drivers(graph_root, made, source_name, dest_name):
    source = make_driver(source_name, graph_root, made)
    dest = make_driver(dest_name, other_graph_root(graph_root, "dest"), made)
    build_base_and_child(source)
    for layer, parent in (("base", None), ("child", "base")):
        out = io.BytesIO()
        source.diff(layer, parent, out)
        dest.create(layer, parent)
        dest.apply_diff(layer, io.BytesIO(out.getvalue()))
    for layer in ("base", "child"):
        try:
            assert snapshot(dest.get(layer)) == snapshot(source.get(layer))
        finally:
            source.put(layer)
            dest.put(layer)


def test_remove_while_mounted_unmounts_and_keeps_the_parent(driver):
    build_base_and_child(driver)
    root = driver.get("child")
    driver.remove("child")
    assert not driver.exists("child")
    assert mounts_under(driver.home) == []
    assert not os.path.exists(root)
    base = snapshot(driver.get("base"))
    driver.put("base")
    assert base["opt/a/one"][3] == b"1" and base["etc/hosts"][3] == b"127.0.0.1 localhost\n"


def test_partial_layers_are_listed_and_removable(driver):
    partial = {"overlay": "partial/diff", "vfs": "dir/partial"}[driver.name]
    os.makedirs(os.path.join(driver.home, partial))
    assert "partial" in driver.list_ids()
    driver.remove("partial")
    assert driver.list_ids() == []


def test_leftovers_of_an_interrupted_run_are_swept(graph_root, made):
    first = make_driver("overlay", graph_root, made)
    first.create("base", None)
    home = first.home
    first.cleanup()
    os.makedirs(os.path.join(home, ".tmp-half-made", "diff", "x"))
    os.symlink("../gone/diff", os.path.join(home, "l", "A" * 26))
    crashed_mount = os.path.join(home, ".tmp-probe-crashed", "merged")
    os.makedirs(crashed_mount)
    syscalls.mount(os.path.join(home, "base"), crashed_mount, None, syscalls.MS_BIND)
    try:
        second = make_driver("overlay", graph_root, made)
    finally:
        if crashed_mount in mounts_under(graph_root):
            syscalls.umount(crashed_mount, syscalls.MNT_DETACH)
    assert sorted(os.listdir(home)) == ["base", "l"]
    with open(os.path.join(home, "base", "link")) as f:
        assert os.listdir(os.path.join(home, "l")) == [f.read()]
    assert second.exists("base") and os.path.isdir(os.path.join(home, "base", "diff"))


def test_status(driver):
    build_base_and_child(driver)
    status = dict(driver.status())
    assert status["Backing Filesystem"] == docker_fs_name(backing_filesystem(driver.home))
    count = "Layers" if driver.name == "overlay" else "Dirs"
    assert status[count] == "2"


def test_concurrent_get_put(driver):
    build_base_and_child(driver)
    start = threading.Barrier(8)

    def use(_):
        start.wait()
        paths = set()
        for _ in range(25):
            path = driver.get("child")
            paths.add(path)
            assert os.path.exists(os.path.join(path, "usr", "new"))
            driver.put("child")
        return paths

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(use, range(8)))
    assert len(set().union(*results)) == 1
    assert mounts_under(driver.home) == []


def test_overlay_stacks_over_a_hundred_layers_then_refuses(graph_root, made):
    driver = make_driver("overlay", graph_root, made)
    ids = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(400)]
    driver.create(ids[0], None)
    driver.apply_diff(ids[0], layer_tar(F("bottom", b"b")))
    depth = 0
    with pytest.raises(InvalidParameter, match="max depth"):
        for parent, layer in zip(ids, ids[1:], strict=False):
            driver.create(layer, parent)
            depth += 1
    assert depth >= 100
    top = ids[depth]
    root = driver.get(top)
    try:
        assert os.listdir(root) == ["bottom"]
    finally:
        driver.put(top)
    assert not driver.exists(ids[depth + 1])


def test_overlay_home_is_a_private_mount(graph_root, made):
    driver = make_driver("overlay", graph_root, made)
    with open("/proc/self/mountinfo") as f:
        lines = [line.split() for line in f]
    homes = [fields for fields in lines if fields[4] == driver.home]
    assert homes, "home should be bind-mounted onto itself"
    optional = homes[-1][6 : homes[-1].index("-")]
    assert not [tag for tag in optional if tag.startswith(("shared:", "master:"))]
    driver.cleanup()
    assert mounts_under(graph_root) == []


def test_overlay_mount_leaves_the_working_directory_alone(graph_root, made):
    driver = make_driver("overlay", graph_root, made)
    before = os.getcwd()
    build_base_and_child(driver)
    driver.get("child")
    driver.put("child")
    assert os.getcwd() == before


# -- driver selection ------------------------------------------------------------------------


def test_new_driver_by_name(graph_root, made):
    driver = make_driver("vfs", graph_root, made)
    assert isinstance(driver, VfsDriver)
    assert driver.home == os.path.join(graph_root, "vfs")
    assert stat.S_IMODE(os.stat(driver.home).st_mode) == 0o700


def test_new_driver_unknown_name(graph_root):
    with pytest.raises(InvalidParameter, match="no such storage driver: aufs"):
        select.new_driver("aufs", graph_root)


def test_new_driver_default_prefers_overlay(graph_root, made):
    make_driver("overlay", other_graph_root(graph_root, "check"), made)  # skips if unusable
    driver = select.new_driver(None, graph_root)
    made.append(driver)
    assert isinstance(driver, OverlayDriver)


def test_new_driver_default_keeps_a_driver_that_already_holds_layers(graph_root, made):
    make_driver("vfs", graph_root, made).create("base", None)
    driver = select.new_driver(None, graph_root)
    made.append(driver)
    assert isinstance(driver, VfsDriver)
    assert driver.exists("base")


def test_overlay_unsupported_without_kernel_support(graph_root, made, monkeypatch):
    probed = []
    monkeypatch.setattr(overlay, "_supported_filesystems", lambda: {"ext4", "proc"})
    monkeypatch.setattr(overlay, "_modprobe", probed.append)
    with pytest.raises(DriverNotSupported, match="no overlay filesystem"):
        select.new_driver("overlay", graph_root)
    assert probed == ["overlay"]
    assert not os.path.exists(os.path.join(graph_root, "overlay"))
    driver = select.new_driver(None, graph_root)
    made.append(driver)
    assert isinstance(driver, VfsDriver)


def test_overlay_unsupported_on_an_overlay_backing_filesystem(graph_root, monkeypatch):
    monkeypatch.setattr(overlay, "backing_filesystem", lambda path: "overlay")
    with pytest.raises(DriverNotSupported, match="can't be stored on overlay"):
        select.new_driver("overlay", graph_root)


def test_overlay_unsupported_when_the_probe_mount_fails(graph_root, monkeypatch):
    def refuse(self, data, target):
        raise OSError(errno.EINVAL, os.strerror(errno.EINVAL), target)

    monkeypatch.setattr(OverlayDriver, "_mount_overlay", refuse)
    with pytest.raises(DriverNotSupported, match="test mount"):
        select.new_driver("overlay", graph_root)
    assert mounts_under(graph_root) == []
    assert not os.path.exists(os.path.join(graph_root, "overlay"))
