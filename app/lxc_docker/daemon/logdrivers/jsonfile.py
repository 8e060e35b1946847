"""The json-file driver: `<id>-json.log`, one JSON object per line as Docker writes it, rotated by
`max-size`/`max-file` (`<id>-json.log` -> `.1` -> `.2` ..., the oldest removed), and its reader,
which reads across the rotated files in order and follows the live one through rotations.

The log survives daemon restarts, so `docker logs` shows what a container printed before one.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterator

from ... import timeutil
from ...runconfig import logopts
from .base import LogInfo

FOLLOW_POLL = 0.05  # seconds between looks at a followed log with nothing new


class JsonFileDriver:
    name = "json-file"

    def __init__(self, path: str, config: dict[str, str] | None = None, info: LogInfo | None = None) -> None:
        self.path = path
        self.max_size, self.max_file = logopts.json_file_limits(config or {})
        extra = info.extra() if info is not None else {}
        self._attrs = extra or None
        self._lock = threading.Lock()
        self._fd = self._open()
        self._size = os.fstat(self._fd).st_size

    def _open(self, truncate: bool = False) -> int:
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC | (os.O_TRUNC if truncate else 0)
        return os.open(self.path, flags, 0o600)

    def log(self, stream: str, line: bytes, when_ns: int, partial: bool = False) -> None:
        self.log_lines(stream, [line], when_ns, partial)

    def log_lines(self, stream: str, lines: list[bytes], when_ns: int, partial: bool = False) -> None:
        """Lines that arrived together: one write per file (a chatty container pays one syscall
        per read, not per line)."""
        stamp = timeutil.format_rfc3339(when_ns)
        entries = []
        for line in lines:
            entry = {
                "log": (line if partial else line + b"\n").decode("utf-8", "replace"),
                "stream": stream,
                "time": stamp,
            }
            if self._attrs:
                entry["attrs"] = self._attrs
            entries.append(json.dumps(entry).encode() + b"\n")
        with self._lock:
            if self._fd < 0:
                return
            if self.max_size <= 0:
                os.write(self._fd, b"".join(entries))
                return
            pending: list[bytes] = []
            for data in entries:
                # As Docker: the size is looked at before a write, so a file ends at the first line
                # past it.
                if self._size >= self.max_size:
                    if pending:
                        os.write(self._fd, b"".join(pending))
                        pending = []
                    self._rotate()
                pending.append(data)
                self._size += len(data)
            if pending:
                os.write(self._fd, b"".join(pending))

    def _rotate(self) -> None:
        os.close(self._fd)
        self._fd = -1
        if self.max_file >= 2:
            try:
                os.unlink(f"{self.path}.{self.max_file - 1}")
            except FileNotFoundError:
                pass
            for i in range(self.max_file - 1, 1, -1):
                try:
                    os.rename(f"{self.path}.{i - 1}", f"{self.path}.{i}")
                except FileNotFoundError:
                    pass
            os.rename(self.path, f"{self.path}.1")
        self._fd = self._open(truncate=True)  # max-file 1: the one file starts over
        self._size = 0

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1


def log_files(path: str) -> list[str]:
    """The log's files, oldest first: the rotated ones (`.N` ... `.1`), then the live one."""
    directory, base = os.path.split(path)
    numbers = []
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    for name in names:
        if name.startswith(base + ".") and name[len(base) + 1 :].isdigit():
            numbers.append(int(name[len(base) + 1 :]))
    files = [f"{path}.{n}" for n in sorted(numbers, reverse=True)]
    return files + ([path] if base in names else [])


def read(
    path: str,
    *,
    follow: bool = False,
    tail: int = -1,
    since: float = 0.0,
    stop: threading.Event | None = None,
    is_running: Callable[[], bool] = lambda: False,
) -> Iterator[dict]:
    """Entries of a container's log, across rotated files; with `follow`, keep yielding new ones while
    the container runs, through rotations. `since`: only entries at or after that epoch time."""
    handles = []
    for name in log_files(path):
        try:
            handles.append(open(name, "rb"))
        except FileNotFoundError:
            continue  # rotated away between the listing and the open
    if not handles:
        if not follow:
            return
        try:
            handles = [open(path, "rb")]
        except FileNotFoundError:
            return
    current = handles[-1]
    handles = handles[:]
    try:
        lines: list[bytes] = []
        for f in handles:
            lines.extend(f.readlines())
        for f in handles[:-1]:
            f.close()
        if tail >= 0:
            lines = lines[-tail:] if tail else []
        yield from _entries(lines, since)
        if follow:
            handles = [current]  # _follow closes the files it moves on from
            yield from _follow(path, handles, since, stop, is_running)
    finally:
        for f in handles:
            f.close()


def _entries(lines: list[bytes], since: float) -> Iterator[dict]:
    for line in lines:
        entry = _parse(line)
        if entry and (not since or _after(entry, since)):
            yield entry


def _follow(path, handles, since, stop, is_running) -> Iterator[dict]:
    f = handles[0]
    pending = b""
    while not (stop and stop.is_set()):
        chunk = f.readline()
        if chunk:
            pending += chunk
            if pending.endswith(b"\n"):
                yield from _entries([pending], since)
                pending = b""
            continue
        newer = _newer_files(path, os.fstat(f.fileno()))
        if newer is not None:
            # Rotated: what the old file got last is read above; go on with the files that followed.
            for name in newer[:-1]:
                try:
                    with open(name, "rb") as old:
                        yield from _entries(old.readlines(), since)
                except FileNotFoundError:
                    pass
            try:
                nxt = open(newer[-1], "rb")
            except FileNotFoundError:
                time.sleep(FOLLOW_POLL)
                continue
            f.close()
            handles[0] = f = nxt
            pending = b""
            continue
        if os.fstat(f.fileno()).st_size < f.tell():
            f.seek(0)  # max-file 1: the file started over in place
            pending = b""
            continue
        if not is_running():
            # One last read: output written just before the exit.
            rest = f.read()
            yield from _entries((pending + rest).splitlines(), since)
            return
        time.sleep(FOLLOW_POLL)


def _newer_files(path: str, st: os.stat_result) -> list[str] | None:
    """None while `st` is still the live file; else the files written after it, oldest first."""
    try:
        live = os.stat(path)
    except FileNotFoundError:
        return None  # between a rotation's rename and its new file: look again
    if (live.st_ino, live.st_dev) == (st.st_ino, st.st_dev):
        return None
    files = log_files(path)
    for i, name in enumerate(files):
        try:
            other = os.stat(name)
        except FileNotFoundError:
            continue
        if (other.st_ino, other.st_dev) == (st.st_ino, st.st_dev):
            return files[i + 1 :] or [path]
    return files or [path]  # our file is gone (rotated out): everything still there is newer


def _after(entry: dict, since: float) -> bool:
    try:
        return timeutil.parse_rfc3339(entry.get("time", "")) >= since
    except ValueError:
        return True


def _parse(line: bytes) -> dict | None:
    try:
        entry = json.loads(line)
    except ValueError:
        return None
    return entry if isinstance(entry, dict) and "log" in entry else None
