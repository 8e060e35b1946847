"""`docker cp` and the archive endpoints on the daemon side (daemon.containerfs): client paths are
resolved inside the container's root, or inside the volume that covers them, never on the host."""

from __future__ import annotations

import io
import os
import tarfile

import pytest

from lxc_docker.daemon import containerfs
from lxc_docker.daemon.container import Container
from lxc_docker.errors import NotFound


class FakeDriver:
    def __init__(self, rootfs: str) -> None:
        self.rootfs = rootfs
        self.held = 0

    def get(self, id: str) -> str:
        self.held += 1
        return self.rootfs

    def put(self, id: str) -> None:
        self.held -= 1


class FakeDaemon:
    def __init__(self, rootfs: str) -> None:
        self.driver = FakeDriver(rootfs)


@pytest.fixture
def box(tmp_path):
    """(daemon, container, rootfs, outside, volume)."""
    rootfs = tmp_path / "rootfs"
    outside = tmp_path / "outside"
    volume = tmp_path / "volume"
    for d in (rootfs / "etc", rootfs / "tmp", outside, volume):
        d.mkdir(parents=True)
    (rootfs / "etc" / "passwd").write_text("inside")
    (outside / "passwd").write_text("host secret")
    (volume / "f").write_text("in the volume")
    c = Container(str(tmp_path / "graph"), "c1")
    os.makedirs(c.root)
    with open(c.file("resolv.conf"), "w") as f:
        f.write("nameserver 127.0.0.1\n")
    c.volumes = {"/data": str(volume)}
    c.name = "/box"
    daemon = FakeDaemon(str(rootfs))
    yield daemon, c, rootfs, outside, volume
    assert daemon.driver.held == 0


def copied(daemon, c, resource: str) -> dict[str, bytes | str]:
    out = io.BytesIO()
    containerfs.copy_out(daemon, c, resource, out)
    out.seek(0)
    found: dict[str, bytes | str] = {}
    with tarfile.open(fileobj=out) as tar:
        for m in tar:
            if m.isfile():
                found[m.name] = tar.extractfile(m).read()  # type: ignore[union-attr]
            elif m.issym():
                found[m.name] = "-> " + m.linkname
            else:
                found[m.name] = m.type.decode()
    return found


def test_copy_out_a_file_and_a_directory(box):
    daemon, c, rootfs, _, _ = box
    (rootfs / "etc" / "mtab").symlink_to("/proc/mounts")
    assert copied(daemon, c, "/etc/passwd") == {"passwd": b"inside"}
    assert copied(daemon, c, "etc") == {"etc": "5", "etc/passwd": b"inside", "etc/mtab": "-> /proc/mounts"}


@pytest.mark.parametrize("resource", ["/../../outside/passwd", "/evil/passwd", "/rel/passwd", "/etc/shadow"])
def test_copy_out_never_reads_the_host(box, resource):
    daemon, c, rootfs, outside, _ = box
    (rootfs / "evil").symlink_to(outside)
    (rootfs / "rel").symlink_to("../../outside")
    (rootfs / "etc" / "shadow").symlink_to(outside / "passwd")
    with pytest.raises(NotFound):
        copied(daemon, c, resource)
    with pytest.raises(NotFound):
        containerfs.stat_path(daemon, c, resource)


def test_copy_out_follows_symlinks_as_the_container_would(box):
    daemon, c, rootfs, _, _ = box
    (rootfs / "link").symlink_to("/etc/../etc/passwd")
    (rootfs / "up").symlink_to("../../..")
    assert copied(daemon, c, "/link") == {"link": b"inside"}
    assert copied(daemon, c, "/up/etc/passwd") == {"passwd": b"inside"}
    assert containerfs.stat_path(daemon, c, "/link")["size"] == len("inside")


def test_volumes_and_bind_mounted_files_are_read_where_they_are(box):
    daemon, c, rootfs, outside, volume = box
    (volume / "out").symlink_to(outside)
    assert copied(daemon, c, "/data/f") == {"f": b"in the volume"}
    assert copied(daemon, c, "/etc/resolv.conf") == {"resolv.conf": b"nameserver 127.0.0.1\n"}
    with pytest.raises(NotFound):
        copied(daemon, c, "/data/out/passwd")  # resolved inside the volume: not there


def test_stat_path(box):
    daemon, c, _, _, _ = box
    st = containerfs.stat_path(daemon, c, "/etc")
    assert st["name"] == "etc" and st["mode"] & (1 << 31) and st["linkTarget"] == ""
    with pytest.raises(NotFound):
        containerfs.stat_path(daemon, c, "/nope")
    with pytest.raises(NotFound):
        containerfs.stat_path(daemon, c, "/etc/passwd/x")


def tar_of(*files: tuple[str, bytes]) -> io.BytesIO:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in files:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    buf.seek(0)
    return buf


def test_copy_in_writes_inside_through_symlinked_directories(box):
    daemon, c, rootfs, outside, _ = box
    (rootfs / "tmp" / "out").symlink_to(outside)
    with pytest.raises(NotFound):  # <rootfs>/<outside> is no directory in the container
        containerfs.copy_in(daemon, c, "/tmp/out", tar_of(("passwd", b"pwned")))
    assert (outside / "passwd").read_text() == "host secret"
    os.makedirs(str(rootfs) + str(outside))
    containerfs.copy_in(daemon, c, "/tmp/out", tar_of(("passwd", b"inside now")))
    assert (outside / "passwd").read_text() == "host secret"
    assert open(str(rootfs) + str(outside) + "/passwd").read() == "inside now"


def test_copy_in_needs_an_existing_directory(box):
    daemon, c, rootfs, _, _ = box
    with pytest.raises(NotFound):
        containerfs.copy_in(daemon, c, "/nope", tar_of(("f", b"x")))
    with pytest.raises(NotFound):
        containerfs.copy_in(daemon, c, "/etc/passwd", tar_of(("f", b"x")))
    containerfs.copy_in(daemon, c, "/tmp", tar_of(("f", b"x")))
    assert (rootfs / "tmp" / "f").read_bytes() == b"x"
