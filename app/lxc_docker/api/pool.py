"""A bounded pool of daemon threads for the API server's workers (see reactor.py).

Not concurrent.futures: its threads are joined at interpreter exit, and an attached shell or an
events stream would then hold the daemon's shutdown forever.
"""

from __future__ import annotations

import collections
import logging
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)


class WorkerPool:
    """At most `size` daemon threads, started on demand; a thread idle for `idle_exit` s ends."""

    def __init__(self, name: str, size: int, idle_exit: float = 30.0) -> None:
        self.name = name
        self.size = size
        self._idle_exit = idle_exit
        self._items: collections.deque[tuple[Callable[..., Any], tuple[Any, ...]]] = collections.deque()
        self._cond = threading.Condition()
        self._threads = 0
        self._waiting = 0
        self._closed = False

    @property
    def threads(self) -> int:
        return self._threads

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        with self._cond:
            self._items.append((fn, args))
            # Spawn only for work no waiting thread will pick up.
            spawn = len(self._items) > self._waiting and self._threads < self.size
            if spawn:
                self._threads += 1
            self._cond.notify()
        if spawn:
            threading.Thread(target=self._run, name=f"api-{self.name}", daemon=True).start()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._items:
                    if self._closed:
                        self._threads -= 1
                        return
                    self._waiting += 1
                    woke = self._cond.wait(self._idle_exit)
                    self._waiting -= 1
                    if not woke and not self._items:
                        self._threads -= 1
                        return
                fn, args = self._items.popleft()
            try:
                fn(*args)
            except Exception:  # a bug in a request's handling must not take the worker down
                log.exception("unexpected error serving a connection")
