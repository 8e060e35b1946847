"""A container's run state, with waiters woken when it stops (`docker wait`, `run`, `stop`)."""

from __future__ import annotations

import threading
import time
from typing import Any

from .. import timeutil

ZERO_TIME = "0001-01-01T00:00:00Z"


class State:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.running = False
        self.pid = 0
        self.exit_code = 0
        self.started_at = ZERO_TIME
        self.finished_at = ZERO_TIME
        # The daemon lost track of a live process (it restarted while the container ran): Docker 0.9's Ghost.
        self.ghost = False
        self.starting = False
        self.error = ""
        # Frozen through the cgroup freezer (`docker pause`); still running.
        self.paused = False
        # Restart policies: how often it was started again, and whether `docker stop` ended it.
        self.restart_count = 0
        self.restarting = False
        self.manually_stopped = False
        # Healthcheck: {"Status", "FailingStreak", "Log"} once the container has a test; else None.
        self.health: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "Running": self.running,
            "Pid": self.pid,
            "ExitCode": self.exit_code,
            "StartedAt": self.started_at,
            "FinishedAt": self.finished_at,
            "Ghost": self.ghost,
            "Paused": self.paused,
            "Restarting": self.restarting,
            "RestartCount": self.restart_count,
            "ManuallyStopped": self.manually_stopped,
            **({"Health": self.health} if self.health is not None else {}),
        }

    def load(self, doc: dict[str, Any]) -> None:
        self.running = bool(doc.get("Running"))
        self.pid = int(doc.get("Pid") or 0)
        self.exit_code = int(doc.get("ExitCode") or 0)
        self.started_at = doc.get("StartedAt") or ZERO_TIME
        self.finished_at = doc.get("FinishedAt") or ZERO_TIME
        self.ghost = bool(doc.get("Ghost"))
        self.paused = bool(doc.get("Paused"))
        self.restart_count = int(doc.get("RestartCount") or 0)
        self.manually_stopped = bool(doc.get("ManuallyStopped"))
        self.health = doc.get("Health") if isinstance(doc.get("Health"), dict) else None

    def set_running(self, pid: int) -> None:
        with self._cond:
            self.running, self.pid, self.ghost, self.starting = True, pid, False, False
            self.restarting = False
            self.exit_code, self.error = 0, ""
            self.started_at = timeutil.now_rfc3339()
            self.finished_at = ZERO_TIME
            self._cond.notify_all()

    def set_stopped(self, exit_code: int, error: str = "") -> None:
        with self._cond:
            self.running, self.pid, self.ghost, self.starting = False, 0, False, False
            self.paused = False
            self.exit_code, self.error = exit_code, error
            self.finished_at = timeutil.now_rfc3339()
            self._cond.notify_all()

    def wait_stopped(self, timeout: float | None = None) -> int | None:
        """Block until not running; the exit code, or None on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self.running or self.starting:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return None
                self._cond.wait(remaining)
            return self.exit_code
