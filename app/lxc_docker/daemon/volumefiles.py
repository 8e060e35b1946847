"""The files of anonymous volumes under <graph root>/volumes (a mixin of `VolumeService`, volumes.py,
which supplies `dir`, `events` and the lock): make one with a copy of the image's content,
retire and delete one, sweep what a crash left, mark one kept, say whom one was made for.

On-disk layout under <graph root>/volumes (mode 0700):

    <id>/config.json   {"ID", "Path", "Container", "Created"[, "Kept"]}: the container path it was
                       made for and the container it was made for, written atomically; "Kept" once
                       a plain `rm` left it referenced by no container
    <id>/_data/        the volume's content: the directory bind-mounted into containers
    .tmp-*             a volume being created or deleted when the daemon stopped; swept at start

The content lives in `_data/` rather than directly in `<id>/` so that the metadata never shows
inside a container, and so that `_data/` can take the owner and mode of the image's directory it
replaces while `<id>/` stays private to root.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterable
from typing import TYPE_CHECKING

from .. import timeutil
from ..image.image import new_id
from ..storage.base import remove_tree
from ..sysutil import atomic
from .volumemounts import fill_from_image
from .volumespec import DATA, volume_id_of

if TYPE_CHECKING:
    from .volumes import VolumeService

log = logging.getLogger(__name__)

META = "config.json"
# Set in a volume's config.json when a plain `rm` leaves it referenced by no container: kept on
# purpose (Docker 0.9's rule), so the store checker does not report it as leaked.
KEPT = "Kept"


class VolumeFiles:
    def _own_volumes(self: VolumeService, host_paths: Iterable[str]) -> set[str]:
        ids = (volume_id_of(self.dir, p) for p in host_paths if p)
        return {vid for vid in ids if vid}

    def _made_for(self: VolumeService, host_path: str, container_id: str) -> bool:
        vid = volume_id_of(self.dir, host_path)
        if not vid:
            return False
        try:
            meta = atomic.read_json(os.path.join(self.dir, vid, META))
        except (OSError, ValueError):
            return False
        return isinstance(meta, dict) and meta.get("Container") == container_id

    def _mark_kept(self: VolumeService, vid: str) -> None:
        path = os.path.join(self.dir, vid, META)
        try:
            meta = atomic.read_json(path)
        except (OSError, ValueError):
            return
        if isinstance(meta, dict) and not meta.get(KEPT):
            meta[KEPT] = True
            atomic.write_json(path, meta)

    def _data(self: VolumeService, vid: str) -> str:
        return os.path.join(self.dir, vid, DATA)

    def _new_volume(self: VolumeService, container_id: str, dest: str, image_root: str) -> str:
        """A new volume holding a copy of what the image has at `dest` (its owner and mode too)."""
        vid = new_id()
        tmp = os.path.join(self.dir, f".tmp-{vid}")
        data = os.path.join(tmp, DATA)
        try:
            os.makedirs(data, 0o755)
            os.chmod(tmp, 0o700)
            fill_from_image(image_root, dest, data)
            meta = {"ID": vid, "Path": dest, "Container": container_id, "Created": timeutil.now_rfc3339()}
            atomic.write_json(os.path.join(tmp, META), meta)
            os.rename(tmp, os.path.join(self.dir, vid))
            atomic.fsync_dir(self.dir)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        self._publish("create", vid)
        return vid

    def _retire(self: VolumeService, vid: str) -> str:
        """Rename a volume out of sight (lock held), so that a crash mid-delete leaves no half volume."""
        trash = os.path.join(self.dir, f".tmp-del-{vid}")
        try:
            os.rename(os.path.join(self.dir, vid), trash)
        except FileNotFoundError:
            return ""
        return trash

    def _delete(self: VolumeService, path: str) -> None:
        if not path:
            return
        try:
            remove_tree(path)
        except OSError as e:
            log.warning("could not delete volume %s: %s", os.path.basename(path), e)

    def _discard(self: VolumeService, made: list[str], dirs: list[str]) -> None:
        for vid in made:
            with self._lock:
                trash = self._retire(vid)
            self._delete(trash)
        for path in reversed(dirs):
            try:
                os.rmdir(path)
            except OSError:
                pass  # something was put there meanwhile: it is the user's now

    def _publish(self: VolumeService, action: str, vid: str) -> None:
        if self.events is not None and vid:
            self.events.publish(action, vid, type="volume", driver="local")

    def _sweep(self: VolumeService) -> None:
        for name in os.listdir(self.dir):
            if atomic.is_temp_name(name):
                self._delete(os.path.join(self.dir, name))
