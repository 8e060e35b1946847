"""What every logging driver shares: the container facts it may log (`LogInfo`), the line splitter
between a container's output and a driver (`Copier`), and the bounded queue that keeps a slow or
unreachable endpoint from ever blocking the container (`AsyncSender`).

A driver gets whole lines (without the newline) and the time they arrived, as Docker's logger.Copier
hands them out; only json-file writes a partial last line as it is.
"""

from __future__ import annotations

import collections
import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

log = logging.getLogger(__name__)


@dataclass
class LogInfo:
    """The container facts Docker's logger.Info gives a driver (tags, extra fields, labels/env)."""

    container_id: str
    name: str  # "/name", as Docker's ContainerName
    image_id: str
    image_name: str
    command: str
    created: str
    log_path: str
    config: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    env: list[str] = field(default_factory=list)

    @property
    def short_name(self) -> str:
        return self.name.lstrip("/")

    def tag(self, default: str) -> str:
        """The `tag` option rendered as Docker's loggerutils.ParseLogTag does, else `default`."""
        text = self.config.get("tag") or default
        image_id = self.image_id.removeprefix("sha256:")
        data = {
            "ID": self.container_id[:12],
            "FullID": self.container_id,
            "Name": self.short_name,
            "ImageID": image_id[:12],
            "ImageFullID": image_id,
            "ImageName": self.image_name,
            "DaemonName": "docker",
        }
        # Imported at the first tag rendered, not at the daemon's start (issue 14: boot time).
        from ... import template

        return template.render(text, data, "log-tag")

    def extra(self) -> dict[str, str]:
        """The container's labels and environment variables named by the `labels`/`env` options."""
        attrs: dict[str, str] = {}
        for key in filter(None, (k.strip() for k in self.config.get("labels", "").split(","))):
            if key in self.labels:
                attrs[key] = self.labels[key]
        wanted = {k.strip() for k in self.config.get("env", "").split(",") if k.strip()}
        for entry in self.env:
            key, sep, value = entry.partition("=")
            if sep and key in wanted:
                attrs[key] = value
        return attrs


class Driver(Protocol):
    """One run's logger: `log` gets a line (no newline) from "stdout" or "stderr"; `partial` says the
    line had no newline (the output ended mid-line)."""

    name: str

    def log(self, stream: str, line: bytes, when_ns: int, partial: bool = False) -> None: ...

    def close(self) -> None: ...


class NoneDriver:
    """`--log-driver none`: nothing is kept; attached clients still get everything (daemon/streams.py)."""

    name = "none"

    def log(self, stream: str, line: bytes, when_ns: int, partial: bool = False) -> None:
        pass

    def close(self) -> None:
        pass


class Copier:
    """Splits a container's raw output into lines for a driver, per stream; what `Streams` writes to."""

    def __init__(self, driver: Driver) -> None:
        self.driver = driver
        self._lock = threading.Lock()
        self._partial: dict[str, bytes] = {}

    def write(self, stream: str, data: bytes) -> None:
        with self._lock:
            buf = self._partial.get(stream, b"") + data
            lines = buf.split(b"\n")
            self._partial[stream] = lines.pop()
            if not lines:
                return
            now = time.time_ns()
            try:
                batch = getattr(self.driver, "log_lines", None)
                if batch is not None:
                    batch(stream, lines, now)
                else:
                    for line in lines:
                        self.driver.log(stream, line, now)
            except Exception as e:  # a logger's failure must not stop the copy to attached clients
                log.warning("log driver %s: %s", self.driver.name, e)

    def close(self) -> None:
        with self._lock:
            now = time.time_ns()
            for stream, rest in self._partial.items():
                if rest:
                    try:
                        self.driver.log(stream, rest, now, partial=True)
                    except Exception as e:
                        log.warning("log driver %s: %s", self.driver.name, e)
            self._partial.clear()
            self.driver.close()


class AsyncSender:
    """Hands messages to `send` on a thread of its own through a bounded buffer, as Docker's
    non-blocking mode: when the endpoint is slow or away and the buffer is full, new messages are
    dropped and counted (one warning per burst), so the container's output never waits on the network.

    `send` raises OSError on failure; `reconnect` (if given) is called before the next try, which
    comes after `retry_wait` seconds, up to `max_retries` times per message before it is dropped.
    """

    def __init__(
        self,
        name: str,
        send: Callable[[bytes], None],
        *,
        limit_bytes: int = 1 << 20,
        reconnect: Callable[[], None] | None = None,
        retry_wait: float = 1.0,
        max_retries: int = 3,
    ) -> None:
        self.name = name
        self._send = send
        self._reconnect = reconnect
        self._limit = limit_bytes
        self._retry_wait = retry_wait
        self._max_retries = max_retries
        self._queue: collections.deque[bytes] = collections.deque()
        self._queued = 0
        self._cond = threading.Condition()
        self._closing = False
        self.dropped = 0
        self._warned_at = 0
        self._thread = threading.Thread(target=self._run, name=f"log-{name}", daemon=True)
        self._thread.start()

    def put(self, payload: bytes) -> None:
        with self._cond:
            if self._closing:
                return
            if self._queued + len(payload) > self._limit:
                self.dropped += 1
                # A counted warning at the 1st, 2nd, 4th, 8th... drop: heard, without flooding the log.
                if self.dropped - self._warned_at >= max(1, self._warned_at):
                    log.warning("log driver %s: buffer full, %d messages dropped", self.name, self.dropped)
                    self._warned_at = self.dropped
                return
            self._queue.append(payload)
            self._queued += len(payload)
            self._cond.notify()

    def close(self, timeout: float = 2.0) -> None:
        """Stop taking messages; give what is queued up to `timeout` seconds to go out."""
        with self._cond:
            self._closing = True
            self._cond.notify()
        self._thread.join(timeout)
        with self._cond:
            left = len(self._queue)
            self._queue.clear()
        if left or self.dropped:
            log.warning("log driver %s: %d messages dropped", self.name, self.dropped + left)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closing:
                    self._cond.wait()
                if not self._queue:
                    return
                payload = self._queue[0]
            sent = self._deliver(payload)
            with self._cond:
                if self._queue and self._queue[0] is payload:
                    self._queue.popleft()
                    self._queued -= len(payload)
                if not sent:
                    self.dropped += 1

    def _deliver(self, payload: bytes) -> bool:
        for attempt in range(self._max_retries + 1):
            try:
                if attempt and self._reconnect is not None:
                    self._reconnect()
                self._send(payload)
                return True
            except OSError as e:
                log.debug("log driver %s: %s", self.name, e)
                with self._cond:
                    if self._closing:
                        return False
                    self._cond.wait(self._retry_wait)
        return False


def dial_tcp(host: str, port: int, timeout: float = 5.0) -> socket.socket:
    """A connected TCP socket, or an OSError worded as Go's dialer ("dial tcp H:P: connect: ...")."""
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except OSError as e:
        reason = (e.strerror or str(e)).lower()
        raise OSError(e.errno or 0, f"dial tcp {host}:{port}: connect: {reason}") from None
    sock.settimeout(None)
    return sock
