"""What the daemon remembers about its images' registry side, in `<root>/distribution/metadata.json`:

- per layer (our image id): its diff_id and the compressed blob (digest, size) it came from or was
  last pushed as. A push of a layer the registry may already hold asks for that blob (HEAD, or a
  cross-repository mount) without making its tar, and otherwise streams a new one; Docker keeps
  the same diff_id -> digest map for the same reason.
- per pulled or pushed manifest: `repo@sha256:...` -> our top image id (Docker's RepoDigests), so
  that `run name@sha256:...` and `FROM name@sha256:...` find an image pulled by digest or by tag.

Entries are hints: a layer deleted later leaves a stale entry that matches no image, and a repo
digest is used only when its image still exists. Writes are atomic (`sysutil/atomic.py`).
"""

from __future__ import annotations

import os
import threading
from typing import Any

from ..sysutil import atomic

# Enough for every layer of a large store; the oldest entries go first beyond this.
MAX_ENTRIES = 20000


class DistributionMetadata:
    def __init__(self, root: str) -> None:
        self.path = os.path.join(root, "distribution", "metadata.json")
        self._lock = threading.Lock()
        try:
            doc = atomic.read_json(self.path)
        except (OSError, ValueError):
            doc = {}
        layers, repos = doc.get("layers"), doc.get("repo_digests")
        self._layers: dict[str, list[Any]] = layers if isinstance(layers, dict) else {}
        self._repos: dict[str, str] = repos if isinstance(repos, dict) else {}

    def layer(self, image_id: str) -> tuple[str, str, int] | None:
        """(diff_id, blob digest, blob size) remembered for a layer, or None."""
        with self._lock:
            entry = self._layers.get(image_id)
        if not isinstance(entry, list) or len(entry) != 3:
            return None
        diff_id, digest, size = entry
        if not (isinstance(diff_id, str) and isinstance(digest, str) and isinstance(size, int)):
            return None
        return diff_id, digest, size

    def set_layer(self, image_id: str, diff_id: str, digest: str, size: int) -> None:
        with self._lock:
            if self._layers.get(image_id) == [diff_id, digest, size]:
                return
            self._layers.pop(image_id, None)
            self._layers[image_id] = [diff_id, digest, size]
            self._save()

    def repo_digest(self, reference: str) -> str | None:
        """The image id `repo@sha256:...` names, if a pull or push of ours saw that manifest."""
        with self._lock:
            return self._repos.get(reference)

    def digests_of(self, image_id: str) -> list[str]:
        """Every `repo@sha256:...` seen for an image (Docker's RepoDigests), sorted."""
        with self._lock:
            return sorted(ref for ref, found in self._repos.items() if found == image_id)

    def set_repo_digest(self, repo: str, digest: str, image_id: str) -> None:
        key = f"{repo}@{digest}"
        with self._lock:
            if self._repos.get(key) == image_id:
                return
            self._repos.pop(key, None)
            self._repos[key] = image_id
            self._save()

    def record_pull(
        self, repo: str, digest: str, image_id: str, layers: list[tuple[str, str, str, int]]
    ) -> None:
        """A pull's manifest digest and its layers' (image id, diff_id, blob digest, size), written once."""
        with self._lock:
            self._repos.pop(f"{repo}@{digest}", None)
            self._repos[f"{repo}@{digest}"] = image_id
            for layer_id, diff_id, blob, size in layers:
                self._layers.pop(layer_id, None)
                self._layers[layer_id] = [diff_id, blob, size]
            self._save()

    def _save(self) -> None:
        for table in (self._layers, self._repos):
            while len(table) > MAX_ENTRIES:  # dicts keep insertion order: drop the oldest
                del table[next(iter(table))]
        os.makedirs(os.path.dirname(self.path), mode=0o700, exist_ok=True)
        atomic.write_json(self.path, {"layers": self._layers, "repo_digests": self._repos})
