"""The client's terminal on POSIX hosts (Linux, macOS): termios raw mode that is always undone, and
signal hooks (SIGWINCH for resizes). `term.py` chooses this module or `term_windows`.

Uses `_signal` rather than `signal`: the wrapper module imports `enum`, about 5 ms of start-up on
Debian's python3, and `docker run` is on the start path this project keeps fast.
"""

from __future__ import annotations

import _signal
import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

# Signals that end the process by default and that a terminal left in raw mode would survive: on
# these the terminal is restored before the process dies of the signal.
_FATAL = (_signal.SIGHUP, _signal.SIGTERM, _signal.SIGQUIT)


def _is_terminal(fd: int) -> bool:
    try:
        return os.isatty(fd)
    except OSError:
        return False


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
        if not _is_terminal(self.fd):
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


def on_resize(callback: Callable[[], None], fd: int = 1) -> Callable[[], None]:
    """Call callback() whenever the terminal is resized (SIGWINCH); return the undo function.

    Python runs the handler in the main thread between bytecodes, so callback should be quick.
    """
    previous = _signal.signal(_signal.SIGWINCH, lambda signum, frame: callback())
    return lambda: _signal.signal(_signal.SIGWINCH, previous)


# What `--sig-proxy` passes on, as (our signal, what the kill request names): SIGCHLD, SIGWINCH and
# SIGPIPE stay the client's own business. The daemon's kernel is Linux; macOS numbers some of these
# differently (SIGUSR1 is 30 there), so off Linux the signal goes by name, which the API also takes.
_NAMES = ("HUP", "INT", "QUIT", "TERM", "USR1", "USR2", "ALRM")
_ON_LINUX = sys.platform.startswith("linux")
FORWARDED: tuple[tuple[int, int | str], ...] = tuple(
    (number, number if _ON_LINUX else name) for name in _NAMES for number in (getattr(_signal, "SIG" + name),)
)
