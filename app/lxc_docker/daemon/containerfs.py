"""A container's files: `diff`, `export`, `cp` (and the newer archive endpoints), and `commit`.

Paths from clients are resolved inside the container's root (or inside a volume or a bind-mounted
file's directory, where one covers the path) through archive.safepath: symlinks are followed as
the container would follow them, through directory descriptors, so that a `cp` of
`../../etc/shadow` or of a symlink pointing at `/` never reads or writes the host's files, even
while the container swaps directories for symlinks (CVE-2018-15664).
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from collections.abc import Callable
from typing import Any, BinaryIO, Protocol

from .. import runconfig
from ..archive import safepath
from ..archive.create import create, create_entry
from ..archive.extract import extract
from ..errors import Conflict, InvalidParameter, NotFound
from ..image.image import Image
from .container import Container

KINDS = {"C": 0, "A": 1, "D": 2}


class _Driver(Protocol):
    def get(self, id: str) -> str: ...
    def put(self, id: str) -> None: ...
    def changes(self, id: str, parent: str | None) -> list: ...
    def diff(self, id: str, parent: str | None, out: Any) -> None: ...


class _Graph(Protocol):
    def create(self, layer: BinaryIO | None, **kwargs: Any) -> Image: ...
    def delete(self, image_id: str) -> None: ...


class _Images(Protocol):
    def _check_new_name(self, repo: str, tag: str) -> tuple[str, str]: ...
    def create_tagged(self, op: str, layer: BinaryIO | None, repo: str, tag: str, **kwargs: Any) -> Image: ...


class _Tags(Protocol):
    def set(self, repo: str, tag: str, image_id: str, force: bool = False) -> None: ...


class _Events(Protocol):
    publish: Callable[..., Any]


class _Config(Protocol):
    root: str


class FsDaemon(Protocol):
    """What this module uses of the daemon: its storage driver; for commit, graph, tags, events."""

    @property
    def driver(self) -> _Driver: ...
    @property
    def graph(self) -> _Graph: ...
    @property
    def images(self) -> _Images: ...
    @property
    def tags(self) -> _Tags: ...
    @property
    def events(self) -> _Events: ...
    @property
    def config(self) -> _Config: ...


def changes(daemon: FsDaemon, c: Container) -> list[dict[str, Any]]:
    result = daemon.driver.changes(c.id, c.init_id)
    return [{"Path": ch.path, "Kind": KINDS[ch.kind]} for ch in result]


def export(daemon: FsDaemon, c: Container, out: BinaryIO) -> None:
    rootfs = daemon.driver.get(c.id)
    try:
        create(rootfs, out, exclude=_volume_excludes(c))
    finally:
        daemon.driver.put(c.id)


def _volume_excludes(c: Container) -> list[str]:
    return [p.lstrip("/") for p in (c.volumes or {})]


class ContainerPath:
    """A path in a running or stopped container, mapped to the host: bind mounts first, then rootfs."""

    def __init__(self, daemon: FsDaemon, c: Container) -> None:
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

    def locate(self, path: str) -> tuple[str, str]:
        """(root, path inside it): the host directory to resolve `path` in, safely, and the rest."""
        if not path.startswith("/"):
            path = "/" + path
        norm = os.path.normpath(path)
        for dest, src in self.mounts():
            if norm == dest or norm.startswith(dest.rstrip("/") + "/"):
                rest = norm[len(dest) :].lstrip("/")
                if os.path.isdir(src):
                    return src, rest
                if not rest:
                    # A bind-mounted file (resolv.conf, a file volume): its directory is the daemon's.
                    return os.path.dirname(src), os.path.basename(src)
        return self.rootfs, norm


def _not_found(what: str, path: str, c: Container) -> NotFound:
    return NotFound(f"Could not find the {what} {path} in container {c.name.lstrip('/') or c.id}")


def _walk_error(e: OSError, path: str, c: Container) -> BaseException:
    """What a client is told when the walk below the root fails: the container path it asked
    for, never a host path (the OSError's own filename may be one, or a bare component)."""
    where = f"{path} in container {c.name.lstrip('/') or c.id}"
    if e.errno == errno.ELOOP:
        return InvalidParameter(f"Cannot resolve {where}: too many levels of symbolic links")
    if e.errno in (errno.ESTALE, errno.ENOENT, errno.ENOTDIR):
        # A directory was moved or swapped for something else while it was being read.
        return Conflict(f"{where} changed while it was being read")
    return e


def copy_out(daemon: FsDaemon, c: Container, resource: str, out: BinaryIO) -> dict[str, Any]:
    """Tar of `resource` (file or directory, named by its base name) written to `out`."""
    if not resource:
        raise InvalidParameter("Path cannot be empty")
    with ContainerPath(daemon, c) as cp:
        root, rel = cp.locate(resource)
        name = os.path.basename(os.path.normpath(resource)) or "."
        try:
            st = create_entry(root, rel, out, name)
        except (FileNotFoundError, NotADirectoryError):
            raise _not_found("file", resource, c) from None
        except OSError as e:
            raise _walk_error(e, resource, c) from None
        return _stat_json(name, st, "")


def stat_path(daemon: FsDaemon, c: Container, path: str) -> dict[str, Any]:
    with ContainerPath(daemon, c) as cp:
        root, rel = cp.locate(path)
        try:
            found = safepath.open_parent(root, rel)
        except (FileNotFoundError, NotADirectoryError):
            raise _not_found("file", path, c) from None
        except OSError as e:
            raise InvalidParameter(f"cannot resolve {path}: {e.strerror}") from None
        try:
            st = os.stat(found.name or b".", dir_fd=found.dir_fd, follow_symlinks=False)
            link = (
                os.fsdecode(os.readlink(found.name, dir_fd=found.dir_fd)) if stat.S_ISLNK(st.st_mode) else ""
            )
        except FileNotFoundError:
            raise _not_found("file", path, c) from None
        finally:
            os.close(found.dir_fd)
        return _stat_json(os.path.basename(os.path.normpath(path)) or "/", st, link)


def _stat_json(name: str, st: os.stat_result, link: str) -> dict[str, Any]:
    return {
        "name": name,
        "size": st.st_size,
        "mode": _go_mode(st.st_mode),
        "mtime": _iso(st.st_mtime),
        "linkTarget": link,
    }


def copy_in(daemon: FsDaemon, c: Container, path: str, body: BinaryIO) -> None:
    """Extract a tar into directory `path` of the container (PUT /containers/{id}/archive)."""
    with ContainerPath(daemon, c) as cp:
        root, rel = cp.locate(path)
        try:
            fd = safepath.open_dir(root, rel)
        except (FileNotFoundError, NotADirectoryError):
            raise _not_found("directory", path, c) from None
        except OSError as e:
            raise _walk_error(e, path, c) from None
        try:
            extract(body, fd, whiteouts="keep")
        finally:
            os.close(fd)


def commit(
    daemon: FsDaemon,
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
        # Image and tag both or neither, also across a crash (an intent, see daemon/recovery.py).
        image = daemon.images.create_tagged(
            "commit",
            spool,
            repo,
            tag,
            parent=c.image,
            comment=comment,
            author=author,
            config=config,
            container=c.id,
            container_config=c.config,
        )
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
