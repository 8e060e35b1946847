"""Untrusted images whose /etc, /dev (or a volume's parent) are symlinks to host directories:
`create`, `run`, `build FROM`, `commit` and volumes make what they need inside the container's root,
never in the host directory the link names (issue 15, item 2)."""

from __future__ import annotations

import io
import os
import shutil
import tarfile
import tempfile

import pytest

from lib import tarballs
from lib.fileserver import layer_of, serve_directory


@pytest.fixture
def host_dirs():
    """Host directories an image links to: each must stay exactly as it is (empty)."""
    base = tempfile.mkdtemp(prefix="ldt-host-", dir="/tmp")
    dirs = {name: os.path.join(base, name) for name in ("etc", "dev", "data")}
    for path in dirs.values():
        os.mkdir(path)
    yield dirs
    shutil.rmtree(base, ignore_errors=True)


def linked_image(daemon, busybox_tar: str, repo: str, links: dict[str, str], extra=()) -> str:
    """Import busybox with the top-level directories in `links` replaced by symlinks (absolute, to
    host paths; their content in busybox is dropped), and `extra` tar entries."""
    entries = []
    with tarfile.open(busybox_tar) as tar:
        for member in tar.getmembers():
            top = member.name.lstrip("./").split("/")[0]
            if top in links:
                continue
            data = tar.extractfile(member).read() if member.isfile() else b""
            entries.append((member, data))
    for name, target in links.items():
        entries.append(tarballs.entry(name, tarfile.SYMTYPE, linkname=target, mode=0o777))
    entries.extend(extra)
    daemon.cli("import", "-", repo, input=tarballs.build(*entries), check=True)
    return repo


def listing(dirs: dict[str, str]) -> dict[str, list[str]]:
    return {name: sorted(os.listdir(path)) for name, path in dirs.items()}


def test_create_and_run_write_nothing_through_linked_etc_and_dev(daemon, busybox_tar, host_dirs):
    image = linked_image(
        daemon, busybox_tar, "links/etcdev", {"etc": host_dirs["etc"], "dev": host_dirs["dev"]}
    )
    cid = daemon.out("create", image, "true").strip()
    assert listing(host_dirs) == {"etc": [], "dev": [], "data": []}
    # What create made is in the container (where the link leads inside its root), not on the host.
    status = daemon.cli("start", "-a", cid)
    assert status.returncode == 0, status.stderr
    out = daemon.out("run", "--rm", image, "sh", "-c", "cat /etc/hostname; ls -d /dev/pts /dev/shm")
    assert "/dev/pts" in out and "/dev/shm" in out
    assert listing(host_dirs) == {"etc": [], "dev": [], "data": []}
    daemon.cli("rm", cid)


def test_volume_under_a_linked_directory_is_made_in_the_root(daemon, busybox_tar, host_dirs):
    # /srv links to a host directory holding a file of its own; the image has content where that
    # link leads inside its root. The volume gets the image's content, never the host's.
    with open(os.path.join(host_dirs["data"], "vol"), "w") as f:
        f.write("host\n")
    inside = host_dirs["data"].lstrip("/")
    image = linked_image(
        daemon,
        busybox_tar,
        "links/data",
        {"srv": host_dirs["data"]},
        extra=[tarballs.entry(f"{inside}/vol/seed", data=b"seed\n")],
    )
    script = "cat /srv/vol/seed; echo hi > /srv/vol/f; cat /srv/vol/f; ls /srv/vol"
    out = daemon.out("run", "--rm", "-v", "/srv/vol", "-v", "/srv/new/deeper", image, "sh", "-c", script)
    assert out == "seed\nhi\nf\nseed\n"
    assert listing(host_dirs) == {"etc": [], "dev": [], "data": ["vol"]}
    assert open(os.path.join(host_dirs["data"], "vol")).read() == "host\n"


def test_build_from_and_commit_write_nothing_through_links(daemon, busybox_tar, host_dirs, tmp_path):
    image = linked_image(
        daemon, busybox_tar, "links/build", {"etc": host_dirs["etc"], "dev": host_dirs["dev"]}
    )
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "added.txt").write_text("added\n")
    (ctx / "Dockerfile").write_text(
        f"FROM {image}\nRUN echo built > /built\nADD added.txt /etc/added.txt\nVOLUME /etc/vol\n"
    )
    result = daemon.cli("build", "-t", "links/built", str(ctx), timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert daemon.out("run", "--rm", "links/built", "cat", "/built", "/etc/added.txt") == "built\nadded\n"
    cid = daemon.out("run", "-d", image, "sh", "-c", "echo c > /etc/committed").strip()
    daemon.out("wait", cid)
    daemon.out("commit", cid, "links/committed")
    assert daemon.out("run", "--rm", "links/committed", "cat", "/etc/committed") == "c\n"
    assert listing(host_dirs) == {"etc": [], "dev": [], "data": []}


def test_insert_reads_no_host_metadata_through_a_linked_directory(daemon, busybox_tar, host_dirs, tmp_path):
    # `docker insert` copies each parent directory's mode and owner into its layer: through the
    # image's /etc link it read the host directory's (here 0701, owner 4242).
    sub = os.path.join(host_dirs["etc"], "sub")
    os.mkdir(sub, 0o701)
    os.chmod(sub, 0o701)
    os.chown(sub, 4242, 4242)
    image = linked_image(daemon, busybox_tar, "links/insert", {"etc": host_dirs["etc"]})
    (tmp_path / "payload.txt").write_bytes(b"inserted\n")

    with serve_directory(str(tmp_path)) as base:
        new_id = daemon.out("insert", image, f"{base}/payload.txt", "/etc/sub/p.txt").strip().splitlines()[-1]
    layer = layer_of(daemon, new_id)
    with tarfile.open(fileobj=io.BytesIO(layer)) as inner:
        entry = inner.getmember("etc/sub")
    assert (entry.mode & 0o777, entry.uid) != (0o701, 4242)
    assert os.listdir(host_dirs["etc"]) == ["sub"]
