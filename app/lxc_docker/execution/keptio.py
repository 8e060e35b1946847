"""The daemon's ends of a container's stdio, shared with whatever keeps a container whole while the
daemon is down (the native driver's keeper): the stdout and stderr read ends, or the pty master,
and the stdin write end.

The daemon's stream code owns the descriptors; the driver shares them once, after the start, and a
later close of stdin (the client sent EOF) must reach the keeper's copy too, or the container never
sees the EOF. The lock orders the two: once stdin is closed it is never shared, and once shared its
close is passed on.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

NAMES = ("stdout", "stderr", "master", "stdin")


class KeptIO:
    def __init__(self, fds: dict[str, int]) -> None:
        self.fds = {name: fd for name, fd in fds.items() if fd is not None and fd >= 0}
        self._lock = threading.Lock()
        self._stdin_closed = False
        self._drop: Callable[[str], None] | None = None

    def share(self, hand_over: Callable[[list[str], list[int]], None], drop: Callable[[str], None]) -> None:
        """Call `hand_over(names, fds)` with what is still open; `drop(name)` is called later when one
        of them is closed by the daemon."""
        with self._lock:
            names = [n for n in self.fds if not (n == "stdin" and self._stdin_closed)]
            hand_over(names, [self.fds[n] for n in names])
            self._drop = drop

    def close_stdin(self) -> None:
        """Called before the daemon closes its stdin write end."""
        with self._lock:
            if self._stdin_closed or "stdin" not in self.fds:
                return
            self._stdin_closed = True
            drop = self._drop
            if drop is not None:
                try:
                    drop("stdin")
                except OSError:
                    pass  # the keeper is gone, and its copy with it
