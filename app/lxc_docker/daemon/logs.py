"""The per-container JSON log (`<id>-json.log`): one JSON object per line, as Docker writes it.

It survives daemon restarts, so `docker logs` shows what a container printed before the restart.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator

from .. import timeutil


class LogWriter:
    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        self._partial: dict[str, bytes] = {}
        self.changed = threading.Condition(self._lock)

    def write(self, stream: str, data: bytes) -> None:
        with self._lock:
            buf = self._partial.get(stream, b"") + data
            lines = buf.split(b"\n")
            self._partial[stream] = lines.pop()
            if lines:
                now = timeutil.now_rfc3339()
                out = b"".join(
                    json.dumps(
                        {"log": (line + b"\n").decode("utf-8", "replace"), "stream": stream, "time": now}
                    ).encode()
                    + b"\n"
                    for line in lines
                )
                os.write(self._fd, out)
                self.changed.notify_all()

    def close(self) -> None:
        with self._lock:
            now = timeutil.now_rfc3339()
            for stream, rest in self._partial.items():
                if rest:
                    entry = {"log": rest.decode("utf-8", "replace"), "stream": stream, "time": now}
                    os.write(self._fd, json.dumps(entry).encode() + b"\n")
            self._partial.clear()
            os.close(self._fd)
            self.changed.notify_all()


def read(
    path: str,
    *,
    follow: bool = False,
    tail: int = -1,
    stop: threading.Event | None = None,
    is_running=lambda: False,
) -> Iterator[dict]:
    """Entries of a log file; with `follow`, keep yielding new ones while the container runs."""
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        return
    with f:
        lines = f.readlines()
        if tail >= 0:
            lines = lines[-tail:] if tail else []
        for line in lines:
            entry = _parse(line)
            if entry:
                yield entry
        if not follow:
            return
        pending = b""
        while not (stop and stop.is_set()):
            chunk = f.readline()
            if chunk:
                pending += chunk
                if pending.endswith(b"\n"):
                    entry = _parse(pending)
                    pending = b""
                    if entry:
                        yield entry
                continue
            if not is_running():
                # One last read: output written just before the exit.
                rest = f.read()
                for line in (pending + rest).splitlines():
                    entry = _parse(line)
                    if entry:
                        yield entry
                return
            time.sleep(0.05)


def _parse(line: bytes) -> dict | None:
    try:
        entry = json.loads(line)
    except ValueError:
        return None
    return entry if isinstance(entry, dict) and "log" in entry else None
