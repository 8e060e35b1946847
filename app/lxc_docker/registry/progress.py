"""The JSON progress messages of Docker's pull and push streams (Docker 1.12's wording), throttled."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

Sink = Callable[[dict[str, Any]], None]


def human_size(n: float) -> str:
    # Docker's units.HumanSize: decimal units, 4 significant digits.
    units = ["B", "kB", "MB", "GB", "TB"]
    i = 0
    while n >= 1000 and i < len(units) - 1:
        n /= 1000.0
        i += 1
    return f"{n:.4g} {units[i]}"


def bar(current: int, total: int) -> str:
    if total <= 0:
        return human_size(current)
    pct = min(100, int(current * 100 / total))
    n = pct // 2
    arrow = ">" if n < 50 else ""
    return f"[{'=' * n}{arrow}{' ' * (50 - n - len(arrow))}] {human_size(current):>8}/{human_size(total)}"


class Reporter:
    """Thread-safe writer of progress messages for one pull or push; `Downloading` lines are limited
    to a few per second per layer so that a fast transfer does not drown the client."""

    def __init__(self, sink: Sink) -> None:
        self._sink = sink
        self._lock = threading.Lock()
        self._last: dict[str, float] = {}

    def status(self, status: str, id: str = "") -> None:
        msg: dict[str, Any] = {"status": status}
        if id:
            msg["id"] = id
        with self._lock:
            self._sink(msg)

    def transfer(self, status: str, id: str, current: int, total: int, force: bool = False) -> None:
        now = time.monotonic()
        with self._lock:
            if not force and now - self._last.get(id, 0.0) < 0.1 and current < total:
                return
            self._last[id] = now
            self._sink(
                {
                    "status": status,
                    "progressDetail": {"current": current, "total": total},
                    "progress": bar(current, total),
                    "id": id,
                }
            )
