"""A container's files: `diff`, `export`, `cp` (and the newer archive endpoints), and `commit`.

Paths from clients are resolved inside the container's root (symlinks included) so that a `cp` of
`../../etc/shadow` or of a symlink pointing at `/` never reads the host's files.
"""

from __future__ import annotations

import os
import stat
import tarfile
import tempfile
from typing import Any, BinaryIO

from .. import runconfig
from ..archive import tar as layer_tar
from ..errors import InvalidParameter, NotFound
from ..image.image import Image
from .container import Container

KINDS = {"C": 0, "A": 1, "D": 2}


def changes(daemon: Any, c: Container) -> list[dict[str, Any]]:
    result = daemon.driver.changes(c.id, c.init_id)
    return [{"Path": ch.path, "Kind": KINDS[ch.kind]} for ch in result]


def export(daemon: Any, c: Container, out: BinaryIO) -> None:
    rootfs = daemon.driver.get(c.id)
    try:
        layer_tar.create(rootfs, out, exclude=_volume_excludes(c))
    finally:
        daemon.driver.put(c.id)


def _volume_excludes(c: Container) -> list[str]:
    return [p.lstrip("/") for p in (c.volumes or {})]


def resolve_in_root(root: str, path: str) -> str:
    """Host path of container path `path` under `root`, following symlinks as the container would."""
    from ..execution.native.mounts import resolve_in_root as resolve

    try:
        return resolve(root, path)
    except OSError as e:
        raise InvalidParameter(f"cannot resolve {path}: {e.strerror}")


class ContainerPath:
    """A path in a running or stopped container, mapped to the host: bind mounts first, then rootfs."""

    def __init__(self, daemon: Any, c: Container) -> None:
        self.daemon = daemon
        self.c = c
        self.rootfs = ""

    def __enter__(self) -> ContainerPath:
        self.rootfs = self.daemon.driver.get(self.c.id)
        return self

    def __exit__(self, *exc: object) -> None:
        self.daemon.driver.put(self.c.id)

    def mounts(self) -> list[tuple[str, str]]:
        binds = [
            ("/etc/resolv.conf", self.c.file("resolv.conf")),
            ("/etc/hostname", self.c.file("hostname")),
            ("/etc/hosts", self.c.file("hosts")),
        ]
        binds += [(dest, src) for dest, src in (self.c.volumes or {}).items()]
        return sorted(binds, key=lambda b: len(b[0]), reverse=True)

    def host_path(self, path: str) -> str:
        if not path.startswith("/"):
            path = "/" + path
        norm = os.path.normpath(path)
        for dest, src in self.mounts():
            if norm == dest or norm.startswith(dest.rstrip("/") + "/"):
                rest = norm[len(dest) :].lstrip("/")
                if os.path.isdir(src):
                    return resolve_in_root(src, rest) if rest else src
                if not rest:
                    return src
        return resolve_in_root(self.rootfs, norm)


def copy_out(daemon: Any, c: Container, resource: str, out: BinaryIO) -> dict[str, Any]:
    """Tar of `resource` (file or directory, named by its base name) written to `out`."""
    if not resource:
        raise InvalidParameter("Path cannot be empty")
    with ContainerPath(daemon, c) as cp:
        host = cp.host_path(resource)
        try:
            st = os.lstat(host)
        except FileNotFoundError:
            raise NotFound(f"Could not find the file {resource} in container {c.name.lstrip('/') or c.id}")
        name = os.path.basename(os.path.normpath(resource)) or "."
        with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            tar.add(host, arcname=name, recursive=True)
        link = os.readlink(host) if stat.S_ISLNK(st.st_mode) else ""
        return {
            "name": name,
            "size": st.st_size,
            "mode": _go_mode(st.st_mode),
            "mtime": _iso(st.st_mtime),
            "linkTarget": link,
        }


def stat_path(daemon: Any, c: Container, path: str) -> dict[str, Any]:
    with ContainerPath(daemon, c) as cp:
        host = cp.host_path(path)
        try:
            st = os.lstat(host)
        except FileNotFoundError:
            raise NotFound(f"Could not find the file {path} in container {c.name.lstrip('/') or c.id}")
        link = os.readlink(host) if stat.S_ISLNK(st.st_mode) else ""
        return {
            "name": os.path.basename(os.path.normpath(path)) or "/",
            "size": st.st_size,
            "mode": _go_mode(st.st_mode),
            "mtime": _iso(st.st_mtime),
            "linkTarget": link,
        }


def copy_in(daemon: Any, c: Container, path: str, body: BinaryIO) -> None:
    """Extract a tar into directory `path` of the container (PUT /containers/{id}/archive)."""
    with ContainerPath(daemon, c) as cp:
        host = cp.host_path(path)
        if not os.path.isdir(host):
            raise NotFound(f"Could not find the directory {path} in container {c.name.lstrip('/') or c.id}")
        layer_tar.extract(body, host, whiteouts="keep")


def commit(
    daemon: Any,
    c: Container,
    *,
    repo: str,
    tag: str,
    comment: str,
    author: str,
    run: dict[str, Any] | None,
    changes_text: list[str],
) -> Image:
    repo, tag = daemon.images._check_new_name(repo, tag)
    config = runconfig.merge_commit_config(c.config, run)
    if changes_text:
        from .commitchanges import apply_changes

        apply_changes(config, changes_text)
    tmp_root = os.path.join(daemon.config.root, "tmp")
    with tempfile.TemporaryFile(dir=tmp_root) as spool:
        daemon.driver.diff(c.id, c.init_id, spool)
        spool.seek(0)
        image = daemon.graph.create(
            spool,
            parent=c.image,
            comment=comment,
            author=author,
            config=config,
            container=c.id,
            container_config=c.config,
        )
    if repo:
        try:
            daemon.tags.set(repo, tag, image.id, force=True)
        except BaseException:
            daemon.graph.delete(image.id)
            raise
    daemon.events.publish("commit", c.id, from_=c.config.get("Image", ""))
    return image


def _go_mode(mode: int) -> int:
    # Go's os.FileMode: permission bits plus type flags in the high bits.
    perm = stat.S_IMODE(mode) & 0o777
    flags = 0
    if stat.S_ISDIR(mode):
        flags |= 1 << 31
    elif stat.S_ISLNK(mode):
        flags |= 1 << 27
    elif stat.S_ISFIFO(mode):
        flags |= 1 << 25
    elif stat.S_ISSOCK(mode):
        flags |= 1 << 24
    elif stat.S_ISCHR(mode):
        flags |= (1 << 26) | (1 << 21)
    elif stat.S_ISBLK(mode):
        flags |= 1 << 26
    if mode & stat.S_ISUID:
        flags |= 1 << 23
    if mode & stat.S_ISGID:
        flags |= 1 << 22
    if mode & stat.S_ISVTX:
        flags |= 1 << 20
    return perm | flags


def _iso(ts: float) -> str:
    from .. import timeutil

    return timeutil.format_rfc3339(int(ts * 1e9))
