"""Healthchecks: Config.Healthcheck's test run inside a running container at each interval.

The test runs as an exec would (the exec driver's `exec`, in the container's namespaces and cgroups);
its exit code and first 4 KiB of output go into `State.Health` (Status starting|healthy|unhealthy,
FailingStreak, the last 5 results in Log), as Docker 1.12 keeps them. Each change of status is a
`health_status: <status>` event. A paused container is not probed.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from typing import Any

from .. import timeutil
from ..errors import DockerError
from ..execution.base import ContainerStartError, ExecDriver, ExecProcess, Stdio
from .container import Container
from .containers import ContainerService
from .execs import _container_command, _environment

log = logging.getLogger(__name__)

DEFAULT_INTERVAL = 30.0
DEFAULT_TIMEOUT = 30.0
DEFAULT_RETRIES = 3
MAX_OUTPUT = 4096
MAX_LOG = 5


def probe_args(check: dict[str, Any] | None) -> list[str] | None:
    """The argv of a healthcheck's test, or None when the container has none (or `NONE`)."""
    test = (check or {}).get("Test") or []
    if not test or test[0] == "NONE":
        return None
    if test[0] == "CMD-SHELL":
        return ["/bin/sh", "-c", " ".join(test[1:])]
    if test[0] == "CMD":
        return list(test[1:]) or None
    return None


class HealthMonitor:
    def __init__(self, containers: ContainerService, exec_driver: ExecDriver) -> None:
        self.containers = containers
        self.driver = exec_driver
        self.events = containers.events
        self._stops: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        _, self._sub = self.events.subscribe()
        threading.Thread(target=self._loop, name="healthchecks", daemon=True).start()

    def _loop(self) -> None:
        while True:
            event = self._sub.get()
            if event is None:
                return
            if event.type != "container" or event.action not in ("start", "die", "destroy"):
                continue
            if event.action == "start":
                try:
                    self.watch(self.containers.get(event.id), fresh=True)
                except DockerError:
                    continue
            else:
                self._stop(event.id)

    def close(self) -> None:
        self._sub.close()
        with self._lock:
            for stop in self._stops.values():
                stop.set()

    def watch(self, c: Container, fresh: bool = False) -> None:
        """Probe `c` while it runs (called at its start and for containers running at daemon start)."""
        check = c.config.get("Healthcheck")
        if probe_args(check) is None or not c.state.running:
            return
        stop = threading.Event()
        with self._lock:
            old = self._stops.pop(c.id, None)
            if old is not None:
                old.set()
            self._stops[c.id] = stop
        if fresh or c.state.health is None:
            c.state.health = {"Status": "starting", "FailingStreak": 0, "Log": []}
        threading.Thread(
            target=self._run, args=(c, check, stop), name=f"health-{c.id[:12]}", daemon=True
        ).start()

    def _stop(self, container_id: str) -> None:
        with self._lock:
            stop = self._stops.pop(container_id, None)
        if stop is not None:
            stop.set()

    def _run(self, c: Container, check: dict[str, Any], stop: threading.Event) -> None:
        interval = (check.get("Interval") or 0) / 1e9 or DEFAULT_INTERVAL
        timeout = (check.get("Timeout") or 0) / 1e9 or DEFAULT_TIMEOUT
        retries = int(check.get("Retries") or 0) or DEFAULT_RETRIES
        args = probe_args(check) or []
        while not stop.wait(interval):
            if not c.state.running:
                return
            if c.state.paused:
                continue
            start = timeutil.now_rfc3339()
            code, output = self._probe(c, args, timeout)
            if stop.is_set():
                return
            self._record(c, start, code, output, retries)

    def _probe(self, c: Container, args: list[str], timeout: float) -> tuple[int, str]:
        read_fd, write_fd = os.pipe()
        chunks: list[bytes] = []

        def reader() -> None:
            size = 0
            while True:
                data = os.read(read_fd, 65536)
                if not data:
                    return
                if size < MAX_OUTPUT:
                    chunks.append(data[: MAX_OUTPUT - size])
                    size += len(data)

        copier = threading.Thread(target=reader, daemon=True)
        copier.start()
        pids: list[int] = []
        timed_out = threading.Event()

        def on_start(pid: int) -> None:
            pids.append(pid)

        def kill_it() -> None:
            timed_out.set()
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass

        timer = threading.Timer(timeout, kill_it)
        timer.start()
        process = ExecProcess(args=args, env=_environment(c, [], False), user=c.config.get("User") or "")
        try:
            code = self.driver.exec(_container_command(c), process, Stdio(None, write_fd, write_fd), on_start)
        except ContainerStartError as e:
            code, chunks[:] = 126, [str(e).encode()]
        except Exception as e:  # the container went away under the probe
            code, chunks[:] = -1, [str(e).encode()]
        finally:
            timer.cancel()
            os.close(write_fd)
        copier.join(5)
        os.close(read_fd)
        output = b"".join(chunks).decode("utf-8", "replace")
        if timed_out.is_set():
            return -1, f"Health check exceeded timeout ({timeout:g}s)"
        return code, output

    def _record(self, c: Container, start: str, code: int, output: str, retries: int) -> None:
        with c.lock:
            health = c.state.health or {"Status": "starting", "FailingStreak": 0, "Log": []}
            old = health.get("Status")
            entry = {"Start": start, "End": timeutil.now_rfc3339(), "ExitCode": code, "Output": output}
            health["Log"] = (list(health.get("Log") or []) + [entry])[-MAX_LOG:]
            if code == 0:
                health["FailingStreak"] = 0
                health["Status"] = "healthy"
            else:
                health["FailingStreak"] = int(health.get("FailingStreak") or 0) + 1
                if health["FailingStreak"] >= retries:
                    health["Status"] = "unhealthy"
            c.state.health = health
            if c.state.running:
                c.save()
        if health["Status"] != old:
            self.events.publish(
                "health_status: " + health["Status"],
                c.id,
                from_=c.config.get("Image", ""),
                name=c.name.lstrip("/"),
            )
