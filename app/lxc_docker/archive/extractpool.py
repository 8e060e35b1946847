"""Threads that create small files for the extractor while it parses on (see extract.py for when
they pay): jobs in batches, a bounded queue, and a barrier that re-raises a job's error."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable

POOL_BATCH = 16
POOL_MAX_BATCHES = 16  # bounds the memory held by queued file contents


class Pool:
    """Threads running file-creation jobs in batches; `barrier` waits for all and re-raises."""

    def __init__(self, threads: int, run: Callable[[tuple], None]) -> None:
        self._run = run
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._batch: list[tuple] = []
        self._cond = threading.Condition()
        self._outstanding = 0
        self._cancelled = False
        self.error: BaseException | None = None
        self._threads = []
        for _ in range(threads):
            thread = threading.Thread(target=self._work, name="extract", daemon=True)
            thread.start()
            self._threads.append(thread)

    def submit(self, job: tuple) -> None:
        self._batch.append(job)
        if len(self._batch) >= POOL_BATCH:
            self.flush()

    def flush(self) -> None:
        if not self._batch:
            return
        with self._cond:
            while self._outstanding >= POOL_MAX_BATCHES:
                self._cond.wait()
            self._outstanding += 1
        self._queue.put(self._batch)
        self._batch = []
        if self.error is not None:
            raise self.error

    def barrier(self) -> None:
        self.flush()
        with self._cond:
            while self._outstanding:
                self._cond.wait()
        if self.error is not None:
            raise self.error

    def _work(self) -> None:
        while True:
            batch = self._queue.get()
            if batch is None:
                return
            for job in batch:
                if self.error is not None or self._cancelled:
                    break
                try:
                    self._run(job)
                except BaseException as exc:  # handed to the main thread, which raises it
                    self.error = exc
            with self._cond:
                self._outstanding -= 1
                self._cond.notify_all()

    def close(self) -> None:
        self._cancelled = True
        self._batch = []
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join()
