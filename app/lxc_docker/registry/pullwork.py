"""What a pull (v1 or v2) holds while it runs, and how it ends: a work directory for the fetched
layers, a pool of fetchers, the images registered so far and the journaled intent (begun by the pull
when the first layer is ready to register, so that recovery after a crash finishes or undoes it).

Used as a context manager around the fetch-and-register loop: on any error (an interrupt too) the
fetches not yet started are cancelled, the running ones awaited and the images registered deleted,
children first; in every case the pool is shut down, the intent closed and the directory removed.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType
from typing import Any

from ..image.graph import Graph
from ..image.image import Image
from ..sysutil.journal import Intent


class PullWork:
    def __init__(self, graph: Graph, prefix: str, workers: int) -> None:
        tmp_root = os.path.join(os.path.dirname(graph.root), "tmp")
        os.makedirs(tmp_root, exist_ok=True)
        self.graph = graph
        self.dir = tempfile.mkdtemp(prefix=f"{prefix}-", dir=tmp_root)
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=prefix)
        self.futures: dict[Any, Future[Any]] = {}  # what the pull waits for: cancelled on an error
        self.created: list[Image] = []
        self.intent: Intent | None = None

    def __enter__(self) -> PullWork:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if exc_type is not None:
                for fut in self.futures.values():
                    fut.cancel()
                self.pool.shutdown(wait=True)  # no fetch may write while the rollback runs
                self.graph.roll_back(self.created)
        finally:
            self.pool.shutdown(wait=True)
            if self.intent is not None:
                self.intent.done()
            shutil.rmtree(self.dir, ignore_errors=True)
