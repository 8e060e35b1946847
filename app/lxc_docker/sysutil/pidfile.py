"""The daemon's pidfile, held with an exclusive lock so that two daemons can never share a root."""

from __future__ import annotations

import fcntl
import os


class PidfileBusy(Exception):
    pass


class Pidfile:
    def __init__(self, path: str) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> None:
        os.makedirs(os.path.dirname(self.path) or "/", exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            other = os.read(fd, 32).decode(errors="replace").strip()
            os.close(fd)
            raise PidfileBusy(
                f"pid file found, ensure docker is not running or delete {self.path}"
                + (f" (held by process {other})" if other else "")
            )
        os.ftruncate(fd, 0)
        self._fd = fd

    def write_pid(self) -> None:
        """Record our pid: done once the API listens, so init scripts that wait for a pidfile with a
        live pid in it know the daemon answers (the lock alone already keeps a second daemon out)."""
        if self._fd is None:
            return
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, f"{os.getpid()}\n".encode(), 0)
        os.fsync(self._fd)

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        os.close(self._fd)
        self._fd = None
