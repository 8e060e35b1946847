"""`docker stats`: samples of a container's usage in Remote API 1.24's shape, one a second.

Each sample carries the one before it as `precpu_stats`, so a client computes CPU % from the
difference, as Docker's collector does (it samples every second). A one-shot request
(`stream=false`) waits for a second sample too, as Docker 1.12 to 20.10 did: a CPU % needs two.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from .. import timeutil
from ..execution import cgroupstats
from .container import Container

INTERVAL = 1.0
ZERO_READ = "0001-01-01T00:00:00Z"


def _empty() -> dict[str, Any]:
    """What Docker sends for a container that is not running: the shape, with zeros."""
    return {
        "read": ZERO_READ,
        "preread": ZERO_READ,
        "pids_stats": {},
        "blkio_stats": {
            "io_service_bytes_recursive": None,
            "io_serviced_recursive": None,
            "io_queue_recursive": None,
            "io_service_time_recursive": None,
            "io_wait_time_recursive": None,
            "io_merged_recursive": None,
            "io_time_recursive": None,
            "sectors_recursive": None,
        },
        "num_procs": 0,
        "storage_stats": {},
        "cpu_stats": {
            "cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0, "usage_in_usermode": 0},
            "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0},
        },
        "precpu_stats": {
            "cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0, "usage_in_usermode": 0},
            "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0},
        },
        "memory_stats": {},
    }


class StatsService:
    def __init__(self, cgroup_parent: Callable[[Container], str]) -> None:
        self.cgroup_parent = cgroup_parent

    def _sample(self, c: Container) -> dict[str, Any] | None:
        if not c.state.running:
            return None
        doc = cgroupstats.sample(self.cgroup_parent(c), c.id, c.state.pid)
        doc["read"] = timeutil.now_rfc3339()
        return doc

    def stream(
        self, c: Container, stream: bool = True, stopping: Callable[[], bool] = bool
    ) -> Iterator[dict]:
        """Samples of `c` (with `id` and `name`, as API 1.24 sends them); ends when it stops."""
        previous = self._sample(c)
        if previous is None:
            yield self._named(c, _empty())
            return
        while True:
            time.sleep(INTERVAL)
            current = self._sample(c)
            if current is None or stopping():
                if not stream:
                    yield self._named(c, _empty())
                return
            current["preread"] = previous["read"]
            current["precpu_stats"] = previous["cpu_stats"]
            current["num_procs"] = 0
            current["storage_stats"] = {}
            yield self._named(c, current)
            if not stream:
                return
            previous = current

    @staticmethod
    def _named(c: Container, doc: dict[str, Any]) -> dict[str, Any]:
        doc["name"] = c.name
        doc["id"] = c.id
        return doc
