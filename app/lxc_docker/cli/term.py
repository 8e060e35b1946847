"""The client's terminal, behind one seam: whether a descriptor is a terminal and its size here, raw
mode, signal hooks and resize notices in `term_posix` (termios, SIGWINCH) or `term_windows` (the
console API through ctypes, polling for resizes).

The client runs on Linux, macOS and Windows Pythons against a tcp:// daemon (issue 14), so nothing
here imports a module one of them lacks; the platform half is chosen by `sys.platform` once.
"""

from __future__ import annotations

import _signal
import os
import sys

WINDOWS = sys.platform == "win32"

if WINDOWS:
    from .term_windows import FORWARDED, RawMode, on_resize
else:
    from .term_posix import FORWARDED, RawMode, on_resize

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

__all__ = ["FORWARDED", "WINDOWS", "RawMode", "catch_signals", "is_terminal", "on_resize", "size"]


def is_terminal(fd: int) -> bool:
    try:
        return os.isatty(fd)
    except OSError:
        return False


def size(fd: int) -> tuple[int, int] | None:
    """(rows, columns) of the terminal on fd, or None when fd is not a terminal.

    os.get_terminal_size is the TIOCGWINSZ ioctl (GetConsoleScreenBufferInfo on Windows) without
    importing fcntl and struct.
    """
    try:
        columns, rows = os.get_terminal_size(fd)
    except (OSError, ValueError):
        return None
    return rows, columns


def catch_signals(signums: Iterable[int], handler: Callable[[int], None]) -> Callable[[], None]:
    """Call handler(signum) on each of the signals; return a function that puts the old handlers back.

    Python runs signal handlers in the main thread between bytecodes, also while it waits in recv or
    poll, so the handler may make short API calls itself but should hand long work to a thread.
    """
    previous: dict[int, object] = {}

    def on_signal(signum: int, frame: object) -> None:
        handler(signum)

    for signum in signums:
        previous[signum] = _signal.signal(signum, on_signal)

    def restore() -> None:
        for signum, old in previous.items():
            _signal.signal(signum, old)
        previous.clear()

    return restore
