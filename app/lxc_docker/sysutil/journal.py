"""The intent journal: one small file per multi-step store operation in progress.

An operation that changes several things under the root (`rm -v`: container directory, two layers,
volumes; `commit`: layer, image json, tag; `load`: several images then their tags) writes its intent
here, atomically, *before* its first step and removes it after its last. A daemon killed in between
leaves the file; the next start (`daemon/recovery.py`) finishes the operation or takes it back, so
that each one either happened completely or not at all.

    <root>/journal/<op>-<random>.json   {"Op": op, "Started": unix time, ...what the op needs}

Test-only hook: with `LXC_DOCKER_TEST_CRASH=op:N` in the daemon's environment, the daemon SIGKILLs
itself when an operation `op` reaches its step N (step 0: right after the intent is on disk). It lets
the fault-injection test hit every interesting point of an operation deterministically; nothing else
reads the variable.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from types import TracebackType
from typing import Any

from . import atomic

log = logging.getLogger(__name__)

DIRNAME = "journal"
CRASH_ENV = "LXC_DOCKER_TEST_CRASH"


class Journal:
    """The journal of one daemon root. Stateless apart from its directory: build one wherever needed."""

    def __init__(self, root: str) -> None:
        self.dir = os.path.join(root, DIRNAME)

    def begin(self, op: str, **data: Any) -> Intent:
        """Record that `op` starts, with what recovery needs to finish or undo it; durable on return."""
        os.makedirs(self.dir, mode=0o700, exist_ok=True)
        doc = {"Op": op, "Started": time.time(), **data}
        path = os.path.join(self.dir, f"{op}-{os.urandom(8).hex()}.json")
        atomic.write_json(path, doc)
        intent = Intent(path, doc)
        intent.step()
        return intent

    def pending(self, sweep: bool = True) -> list[tuple[str, dict[str, Any] | None]]:
        """Every intent left by an operation that did not finish, oldest first: (path, document or
        None when unreadable). With `sweep`, temporary files of an interrupted write are removed
        (an intent half written is one whose operation never started)."""
        if not os.path.isdir(self.dir):
            return []
        found = []
        for name in os.listdir(self.dir):
            path = os.path.join(self.dir, name)
            if atomic.is_temp_name(name):
                if sweep:
                    _unlink(path)
                continue
            try:
                doc = atomic.read_json(path)
            except (OSError, ValueError):
                doc = None
            if not isinstance(doc, dict) or not isinstance(doc.get("Op"), str):
                doc = None
            found.append((path, doc))
        found.sort(key=lambda item: (item[1] or {}).get("Started", 0))
        return found

    def forget(self, path: str) -> None:
        _unlink(path)
        atomic.fsync_dir(self.dir)


class Intent:
    """One operation in progress. Use as a context manager: the intent is removed when the block
    exits, also on an exception (the operation's own rollback has run by then, in the same process)."""

    def __init__(self, path: str, doc: dict[str, Any]) -> None:
        self.path = path
        self.doc = doc
        self._steps = -1
        self._crash_at = _crash_point(str(doc["Op"]))

    def step(self, **updates: Any) -> None:
        """Mark the end of a step; with `updates`, rewrite the intent (atomically) before going on."""
        if updates:
            self.doc.update(updates)
            atomic.write_json(self.path, self.doc)
        self._steps += 1
        if self._steps == self._crash_at:
            log.warning(
                "test hook %s: killing the daemon after step %d of %s", CRASH_ENV, self._steps, self.doc["Op"]
            )
            os.kill(os.getpid(), signal.SIGKILL)

    def done(self) -> None:
        _unlink(self.path)
        atomic.fsync_dir(os.path.dirname(self.path))

    def __enter__(self) -> Intent:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.done()


def _crash_point(op: str) -> int:
    value = os.environ.get(CRASH_ENV, "")
    name, _, step = value.partition(":")
    if name != op or not step.isdigit():
        return -1
    return int(step)


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
