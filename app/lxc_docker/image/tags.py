"""Repositories and tags: `repositories-<driver>` maps `repo -> {tag -> image id}`, written atomically."""

from __future__ import annotations

import os
import threading

from .. import reference
from ..errors import Conflict, InvalidParameter
from ..sysutil import atomic


class TagStore:
    def __init__(self, root: str, driver_name: str) -> None:
        self.path = os.path.join(root, f"repositories-{driver_name}")
        self._lock = threading.Lock()
        self.repositories: dict[str, dict[str, str]] = {}
        if os.path.exists(self.path):
            doc = atomic.read_json(self.path)
            repos = doc.get("Repositories") if isinstance(doc, dict) else None
            if isinstance(repos, dict):
                self.repositories = {
                    repo: {t: i for t, i in tags.items() if isinstance(i, str)}
                    for repo, tags in repos.items()
                    if isinstance(tags, dict)
                }

    def _save(self) -> None:
        atomic.write_json(self.path, {"Repositories": self.repositories})

    def prune(self, known: set[str]) -> None:
        """Drop tags that point to images the graph no longer has (left by a crash or a bad file)."""
        with self._lock:
            changed = False
            for repo in list(self.repositories):
                tags = self.repositories[repo]
                for tag in [t for t, i in tags.items() if i not in known]:
                    del tags[tag]
                    changed = True
                if not tags:
                    del self.repositories[repo]
                    changed = True
            if changed:
                self._save()

    def get(self, repo: str, tag: str) -> str | None:
        return self.repositories.get(repo, {}).get(tag)

    def set(self, repo: str, tag: str, image_id: str, force: bool = False) -> None:
        try:
            reference.validate_repo(repo)
            reference.validate_tag(tag)
        except ValueError as e:
            raise InvalidParameter(str(e))
        with self._lock:
            tags = self.repositories.get(repo, {})
            old = tags.get(tag)
            if old and old != image_id and not force:
                raise Conflict(
                    f"Conflict: Tag {tag} is already set to image {old[:12]}, "
                    "if you want to replace it, please use -f option"
                )
            self.repositories[repo] = {**tags, tag: image_id}
            try:
                self._save()
            except BaseException:
                if tags:
                    self.repositories[repo] = tags
                else:
                    self.repositories.pop(repo, None)
                raise

    def set_many(self, entries: list[tuple[str, str, str]]) -> None:
        """Set several tags in one atomic write (docker load restores all of an archive's tags or none)."""
        with self._lock:
            before = {r: dict(t) for r, t in self.repositories.items()}
            for repo, tag, image_id in entries:
                self.repositories.setdefault(repo, {})[tag] = image_id
            try:
                self._save()
            except BaseException:
                self.repositories = before
                raise

    def delete(self, repo: str, tag: str) -> bool:
        with self._lock:
            tags = self.repositories.get(repo)
            if not tags or tag not in tags:
                return False
            before = dict(tags)
            del tags[tag]
            if not tags:
                del self.repositories[repo]
            try:
                self._save()
            except BaseException:
                self.repositories[repo] = before
                raise
            return True

    def delete_many(self, entries: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """Remove several tags in one atomic write (rmi untags all it names or none); returns those
        that existed."""
        with self._lock:
            before = {r: dict(t) for r, t in self.repositories.items()}
            removed = []
            for repo, tag in entries:
                tags = self.repositories.get(repo)
                if tags and tag in tags:
                    del tags[tag]
                    removed.append((repo, tag))
                    if not tags:
                        del self.repositories[repo]
            if not removed:
                return []
            try:
                self._save()
            except BaseException:
                self.repositories = before
                raise
            return removed

    def by_id(self) -> dict[str, list[str]]:
        result: dict[str, list[str]] = {}
        with self._lock:
            for repo, tags in sorted(self.repositories.items()):
                for tag, image_id in sorted(tags.items()):
                    result.setdefault(image_id, []).append(f"{repo}:{tag}")
        return result

    def tags_of(self, image_id: str) -> list[str]:
        return self.by_id().get(image_id, [])
