"""The vfs storage driver: every layer is a full copy of its parent's tree in a plain directory.
Slow and space-hungry, but it needs no mount and works on any filesystem, so it is the fallback.

On-disk layout under <graph root>/vfs (mode 0700):

    dir/<id>/     the layer's complete root filesystem (its parent's tree plus its own changes)
    dir/.tmp-*    a create() or remove() that a crash interrupted; swept at start

diff(), changes() and diff_size() compare a layer with its parent's tree (the naive fallback of
StorageDriver); apply_diff() extracts onto the copy, deleting what the tar's whiteouts name.
"""

from __future__ import annotations

import os
import subprocess

from lxc_docker.errors import Conflict, NotFound, SystemError_
from lxc_docker.storage.base import (
    TMP_PREFIX,
    IdLocks,
    StorageDriver,
    backing_filesystem,
    docker_fs_name,
    register,
    remove_tree,
    validate_id,
)


class VfsDriver(StorageDriver):
    """Layers as full directory copies; see the module docstring for the on-disk layout."""

    name = "vfs"

    def __init__(self, home: str) -> None:
        super().__init__(home)
        self._dirs = os.path.join(home, "dir")
        os.makedirs(self._dirs, exist_ok=True)
        # Layers hold setuid binaries and device nodes; 0700 keeps unprivileged users from
        # reaching them (the CVE-2021-41091 class of bug).
        os.chmod(home, 0o700)
        self._fstype = backing_filesystem(home)
        self._locks = IdLocks()
        for entry in os.listdir(self._dirs):
            if entry.startswith(TMP_PREFIX):
                remove_tree(os.path.join(self._dirs, entry))

    def create(self, id: str, parent: str | None) -> None:
        validate_id(id)
        if parent is not None:
            validate_id(parent)
        with self._locks.hold(id):
            dest = self._dir(id)
            if os.path.lexists(dest):
                raise Conflict(f"layer {id} already exists")
            # Built under a temporary name and renamed, so a crash never leaves a half-copied
            # tree under the layer's id.
            tmp = os.path.join(self._dirs, f"{TMP_PREFIX}{id}-{os.urandom(4).hex()}")
            try:
                if parent is None:
                    os.mkdir(tmp)
                    os.chmod(tmp, 0o755)
                else:
                    source = self._dir(parent)
                    if not os.path.isdir(source):
                        raise NotFound(f"layer {parent} not found")
                    _copy_tree(source, tmp)
                os.rename(tmp, dest)
            except BaseException:
                remove_tree(tmp)
                raise

    def remove(self, id: str) -> None:
        validate_id(id)
        with self._locks.hold(id):
            path = self._dir(id)
            if not os.path.lexists(path):
                return
            trash = os.path.join(self._dirs, f"{TMP_PREFIX}rm-{id}-{os.urandom(4).hex()}")
            os.rename(path, trash)
            remove_tree(trash)

    def get(self, id: str) -> str:
        validate_id(id)
        path = self._dir(id)
        if not os.path.isdir(path):
            raise NotFound(f"layer {id} not found")
        return path

    def put(self, id: str) -> None:
        validate_id(id)  # nothing is mounted, so there is nothing to release

    def exists(self, id: str) -> bool:
        validate_id(id)
        return os.path.isdir(self._dir(id))

    def status(self) -> list[tuple[str, str]]:
        return [
            ("Backing Filesystem", docker_fs_name(self._fstype)),
            ("Dirs", str(len(self.list_ids()))),
        ]

    def cleanup(self) -> None:
        pass  # vfs never mounts

    def list_ids(self) -> list[str]:
        return sorted(
            entry
            for entry in os.listdir(self._dirs)
            if not entry.startswith(".") and os.path.isdir(os.path.join(self._dirs, entry))
        )

    def _dir(self, id: str) -> str:
        return os.path.join(self._dirs, id)


def _copy_tree(source: str, dest: str) -> None:
    # cp -a rather than shutil.copytree: it keeps hard links as links, xattrs, device nodes,
    # ownership and sparse files, and --reflink=auto shares blocks on btrfs/xfs, so it is both
    # faithful and much faster.
    result = subprocess.run(
        ["cp", "-a", "--reflink=auto", "--", source, dest],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        check=False,
    )
    if result.returncode != 0:
        message = result.stderr.decode(errors="replace").strip()
        raise SystemError_(f"copying layer {source} failed: {message}")


register(VfsDriver.name, VfsDriver)
