"""The client's terminal: raw mode that is always undone, the window size, and signal hooks.

Uses `_signal` rather than `signal`: the wrapper module imports `enum`, about 5 ms of start-up on
Debian's python3, and `docker run` is on the start path this project keeps fast.
"""

from __future__ import annotations

import _signal
import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

# Signals that end the process by default and that a terminal left in raw mode would survive: on
# these the terminal is restored before the process dies of the signal.
_FATAL = (_signal.SIGHUP, _signal.SIGTERM, _signal.SIGQUIT)


def is_terminal(fd: int) -> bool:
    try:
        return os.isatty(fd)
    except OSError:
        return False


def size(fd: int) -> tuple[int, int] | None:
    """(rows, columns) of the terminal on fd, or None when fd is not a terminal.

    os.get_terminal_size is the TIOCGWINSZ ioctl without importing fcntl and struct.
    """
    try:
        columns, rows = os.get_terminal_size(fd)
    except (OSError, ValueError):
        return None
    return rows, columns


def make_raw(fd: int) -> None:
    """cfmakeraw(3) on fd: bytes pass unchanged both ways, no echo, no line editing, no signal keys."""
    import termios

    iflag, oflag, cflag, lflag, ispeed, ospeed, cc = termios.tcgetattr(fd)
    iflag &= ~(
        termios.IGNBRK
        | termios.BRKINT
        | termios.PARMRK
        | termios.ISTRIP
        | termios.INLCR
        | termios.IGNCR
        | termios.ICRNL
        | termios.IXON
    )
    # Output post-processing off: the container's own pty already turned "\n" into "\r\n".
    oflag &= ~termios.OPOST
    lflag &= ~(termios.ECHO | termios.ECHONL | termios.ICANON | termios.ISIG | termios.IEXTEN)
    cflag &= ~(termios.CSIZE | termios.PARENB)
    cflag |= termios.CS8
    cc[termios.VMIN] = 1
    cc[termios.VTIME] = 0
    # TCSANOW rather than TCSAFLUSH: keys typed before the container started are not thrown away.
    termios.tcsetattr(fd, termios.TCSANOW, [iflag, oflag, cflag, lflag, ispeed, ospeed, cc])


class RawMode:
    """`with RawMode(fd):` puts the terminal on fd in raw mode and restores it on the way out.

    Restoring also happens when the process is killed by SIGHUP, SIGTERM or SIGQUIT (while their
    disposition is the default): the handler restores the terminal, then lets the signal kill the
    process as it would have. Python's SIGINT handler raises KeyboardInterrupt, which the `with`
    already covers. When fd is not a terminal this does nothing.
    """

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._saved: list | None = None
        self._previous: dict[int, object] = {}

    def __enter__(self) -> RawMode:
        if not is_terminal(self.fd):
            return self
        import termios

        self._saved = termios.tcgetattr(self.fd)
        for signum in _FATAL:
            if _signal.getsignal(signum) == _signal.SIG_DFL:
                self._previous[signum] = _signal.signal(signum, self._die)
        try:
            make_raw(self.fd)
        except BaseException:
            self.restore()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.restore()

    def restore(self) -> None:
        saved, self._saved = self._saved, None
        if saved is not None:
            import termios

            try:
                termios.tcsetattr(self.fd, termios.TCSADRAIN, saved)
            except termios.error:
                pass  # the terminal went away (hang-up): nothing left to restore
        previous, self._previous = self._previous, {}
        for signum, handler in previous.items():
            _signal.signal(signum, handler)

    def _die(self, signum: int, frame: object) -> None:
        self.restore()
        _signal.signal(signum, _signal.SIG_DFL)
        os.kill(os.getpid(), signum)


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


def on_resize(callback: Callable[[], None]) -> Callable[[], None]:
    """Call callback() whenever the terminal is resized (SIGWINCH); return the undo function."""
    return catch_signals((_signal.SIGWINCH,), lambda signum: callback())
