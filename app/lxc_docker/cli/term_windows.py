"""The client's terminal on Windows: the console in raw mode, keys as a Linux terminal sends them, and
the window size polled (Windows has neither termios nor SIGWINCH).

`docker run -it` from cmd.exe or PowerShell talks to a container's pty, which expects the bytes an
xterm sends. The console API reports key events instead (virtual key code, UTF-16 unit, modifier
state), so input is read with ReadConsoleInputW and translated here; output goes out unchanged with
the console's VT processing on. The logic (translation, Ctrl-P Ctrl-Q, resize polling) works on any
object with the `Console` methods, so it is tested on Linux with a fake console; only `Console`
itself touches kernel32, through ctypes, imported when a console is actually opened.
"""

from __future__ import annotations

import _signal
import _thread
import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

# Console mode bits (wincon.h).
ENABLE_PROCESSED_INPUT = 0x0001
ENABLE_LINE_INPUT = 0x0002
ENABLE_ECHO_INPUT = 0x0004
ENABLE_WINDOW_INPUT = 0x0008
ENABLE_MOUSE_INPUT = 0x0010
ENABLE_EXTENDED_FLAGS = 0x0080
ENABLE_PROCESSED_OUTPUT = 0x0001
ENABLE_VIRTUAL_TERMINAL_PROCESSING = 0x0004
DISABLE_NEWLINE_AUTO_RETURN = 0x0008

# dwControlKeyState bits.
RIGHT_ALT_PRESSED = 0x0001
LEFT_ALT_PRESSED = 0x0002
RIGHT_CTRL_PRESSED = 0x0004
LEFT_CTRL_PRESSED = 0x0008
SHIFT_PRESSED = 0x0010
_ALT = RIGHT_ALT_PRESSED | LEFT_ALT_PRESSED
_CTRL = RIGHT_CTRL_PRESSED | LEFT_CTRL_PRESSED

VK_BACK, VK_TAB, VK_MENU = 0x08, 0x09, 0x12
DETACH = b"\x10\x11"  # Ctrl-P Ctrl-Q: the daemon detaches the session and the container goes on

# Keys without a character, as xterm encodes them: (final byte, tilde number or 0) for the CSI form,
# or the SS3 final byte for F1-F4. With modifiers xterm adds `;m` (m = 1 + shift + 2 alt + 4 ctrl).
_CSI_KEYS = {
    0x21: ("~", 5),  # Page Up
    0x22: ("~", 6),  # Page Down
    0x23: ("F", 0),  # End
    0x24: ("H", 0),  # Home
    0x25: ("D", 0),  # Left
    0x26: ("A", 0),  # Up
    0x27: ("C", 0),  # Right
    0x28: ("B", 0),  # Down
    0x2D: ("~", 2),  # Insert
    0x2E: ("~", 3),  # Delete
    0x74: ("~", 15),  # F5
    0x75: ("~", 17),
    0x76: ("~", 18),
    0x77: ("~", 19),
    0x78: ("~", 20),
    0x79: ("~", 21),
    0x7A: ("~", 23),
    0x7B: ("~", 24),  # F12
}
_SS3_KEYS = {0x70: "P", 0x71: "Q", 0x72: "R", 0x73: "S"}  # F1-F4


class KeyEvent:
    """One KEY_EVENT_RECORD: pressed or released, repeat count, virtual key, UTF-16 unit, modifiers."""

    __slots__ = ("key_down", "repeat", "vk", "char", "control")

    def __init__(self, key_down: bool, vk: int, char: int = 0, control: int = 0, repeat: int = 1) -> None:
        self.key_down = key_down
        self.vk = vk
        self.char = char
        self.control = control
        self.repeat = repeat

    def __repr__(self) -> str:
        return f"KeyEvent({self.key_down}, vk={self.vk:#x}, char={self.char:#x}, control={self.control:#x})"


def _modifier(control: int) -> int:
    return (
        1
        + (1 if control & SHIFT_PRESSED else 0)
        + (2 if control & _ALT else 0)
        + (4 if control & _CTRL else 0)
    )


def special_key(vk: int, control: int) -> bytes | None:
    """The escape sequence of a cursor, editing or function key; None for other keys."""
    mod = _modifier(control)
    if vk in _SS3_KEYS:
        final = _SS3_KEYS[vk]
        return f"\x1bO{final}".encode() if mod == 1 else f"\x1b[1;{mod}{final}".encode()
    if vk in _CSI_KEYS:
        final, number = _CSI_KEYS[vk]
        if number:
            return f"\x1b[{number}~".encode() if mod == 1 else f"\x1b[{number};{mod}~".encode()
        return f"\x1b[{final}".encode() if mod == 1 else f"\x1b[1;{mod}{final}".encode()
    if vk == VK_TAB and control & SHIFT_PRESSED:
        return b"\x1b[Z"
    if vk == VK_BACK:
        # A Linux terminal's Backspace is DEL (what `stty erase` expects); Ctrl-Backspace is ^H.
        return b"\x08" if control & _CTRL else b"\x7f"
    return None


class KeyTranslator:
    """Key events to the bytes an xterm would send; keeps the half of a surrogate pair between events."""

    def __init__(self) -> None:
        self._high = 0

    def translate(self, event: KeyEvent) -> bytes:
        if not event.key_down:
            # Alt + numeric keypad: the character arrives with the release of Alt.
            if event.vk == VK_MENU and event.char:
                return self._text(event.char, 0)
            return b""
        data = special_key(event.vk, event.control)
        if data is None:
            if event.char:
                data = self._text(event.char, event.control)
            elif event.control & _CTRL and 0x41 <= event.vk <= 0x5A:
                data = bytes((event.vk - 0x40,))  # Ctrl-letter on layouts that give no character
            elif event.control & _CTRL and event.vk in (0x20, 0x32):
                data = b"\x00"  # Ctrl-Space, Ctrl-@
            else:
                return b""  # a modifier key alone, or a key with nothing to send
        return data * max(1, event.repeat)

    def _text(self, unit: int, control: int) -> bytes:
        if 0xD800 <= unit <= 0xDBFF:
            self._high = unit
            return b""
        if 0xDC00 <= unit <= 0xDFFF:
            high, self._high = self._high, 0
            if not high:
                return b""  # a lone low surrogate: nothing sensible to send
            unit = 0x10000 + ((high - 0xD800) << 10) + (unit - 0xDC00)
        data = chr(unit).encode("utf-8")
        # Left Alt is Meta (ESC prefix); AltGr arrives as Right Alt + Left Ctrl and types a character.
        if control & LEFT_ALT_PRESSED and not control & _CTRL:
            data = b"\x1b" + data
        return data


class InputReader:
    """Reads key events from a console and sends their bytes; stops after the user detaches.

    The daemon watches for Ctrl-P Ctrl-Q itself and ends the session; stopping here too means keys
    typed after the detach stay with the user's shell instead of vanishing into a closed socket.
    """

    def __init__(self, console: Any, send: Callable[[bytes], object]) -> None:
        self.console = console
        self.send = send
        self.translator = KeyTranslator()
        self.detached = False
        self._last = b""

    def step(self, timeout_ms: int = 100) -> bool:
        """Wait up to timeout_ms for input and send it; False once the session was detached."""
        if self.detached:
            return False
        if not self.console.wait(timeout_ms):
            return True
        data = b"".join(self.translator.translate(event) for event in self.console.read())
        if not data:
            return True
        seen = self._last + data
        at = seen.find(DETACH)
        if at >= 0:
            self.send(data[: at + len(DETACH) - len(self._last)])
            self.detached = True
            return False
        self._last = data[-1:]
        self.send(data)
        return True


class ConsoleFeeder:
    """A thread copying console keys into the attach socket until stop() or a detach.

    It waits with a timeout rather than blocking in ReadConsoleInputW, so stop() never waits on a key.
    """

    def __init__(self, sock: Any, console: Any = None) -> None:
        if console is None:
            from .console_win import Console

            console = Console()
        self.reader = InputReader(console, sock.sendall)
        self._stopping = False
        self._done = _thread.allocate_lock()
        self._done.acquire()
        _thread.start_new_thread(self._run, ())

    def _run(self) -> None:
        try:
            while not self._stopping and self.reader.step():
                pass
        except OSError:
            pass  # the daemon hung up; the output side sees that too and ends the session
        finally:
            self._done.release()

    def stop(self) -> None:
        self._stopping = True
        self._done.acquire(timeout=2)


class ResizePoller:
    """Calls callback() when measure() changes: Windows tells a console program nothing on resize."""

    def __init__(
        self, measure: Callable[[], object], callback: Callable[[], None], interval: float = 0.25
    ) -> None:
        self.measure = measure
        self.callback = callback
        self.interval = interval
        self._last = measure()  # the caller has sent the size as it is now
        self._stop = _thread.allocate_lock()
        self._stop.acquire()

    def check(self) -> bool:
        """One poll: True (after calling callback) when the size changed since the last poll."""
        dims = self.measure()
        if dims is None or dims == self._last:
            return False
        self._last = dims
        self.callback()
        return True

    def start(self) -> Callable[[], None]:
        """Poll in a thread every `interval` seconds; return the function that stops it."""

        def loop() -> None:
            # Waiting on the lock is the sleep, and releasing it the prompt way out.
            while not self._stop.acquire(timeout=self.interval):
                self.check()

        _thread.start_new_thread(loop, ())
        return self._stop.release


def on_resize(callback: Callable[[], None], fd: int = 1) -> Callable[[], None]:
    """Call callback() whenever the window on fd changes size (polled); return the undo function."""
    from .term import size

    return ResizePoller(lambda: size(fd), callback).start()


def raw_modes(input_mode: int, output_mode: int) -> tuple[int, int]:
    """The console modes for a raw session: no echo, no line editing, Ctrl-C as a key (the container's
    pty makes it SIGINT), no mouse or window records; output with VT sequences interpreted and no
    automatic carriage return (the container's pty already sends "\\r\\n")."""
    input_mode &= ~(
        ENABLE_ECHO_INPUT
        | ENABLE_LINE_INPUT
        | ENABLE_PROCESSED_INPUT
        | ENABLE_MOUSE_INPUT
        | ENABLE_WINDOW_INPUT
    )
    input_mode |= ENABLE_EXTENDED_FLAGS
    output_mode |= ENABLE_PROCESSED_OUTPUT | ENABLE_VIRTUAL_TERMINAL_PROCESSING | DISABLE_NEWLINE_AUTO_RETURN
    return input_mode, output_mode


class RawMode:
    """`with RawMode(fd):` puts the console in raw mode and restores both its modes on the way out.

    When fd is not a console this does nothing. A console older than Windows 10 1511 refuses VT
    output; the input side is still raw and the output falls back to the console's own processing.
    """

    def __init__(self, fd: int, console: Any = None) -> None:
        self.fd = fd
        self._console = console
        self._saved: tuple[int, int] | None = None

    def __enter__(self) -> RawMode:
        if self._console is None:
            try:
                if not os.isatty(self.fd):
                    return self
            except OSError:
                return self
            from .console_win import Console

            self._console = Console()
        console = self._console
        saved = (console.get_mode("in"), console.get_mode("out"))
        self._saved = saved
        raw_in, raw_out = raw_modes(*saved)
        try:
            console.set_mode("in", raw_in)
            if not console.set_mode("out", raw_out):
                console.set_mode("out", raw_out & ~DISABLE_NEWLINE_AUTO_RETURN)
        except BaseException:
            self.restore()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.restore()

    def restore(self) -> None:
        saved, self._saved = self._saved, None
        if saved is not None and self._console is not None:
            self._console.set_mode("in", saved[0])
            self._console.set_mode("out", saved[1])


# What `--sig-proxy` passes on: Ctrl-C, and Ctrl-Break as SIGQUIT (what it means to a JVM on either
# system). By name, since the daemon's kernel numbers signals its own way.
FORWARDED: tuple[tuple[int, int | str], ...] = tuple(
    (number, name)
    for attr, name in (("SIGINT", "INT"), ("SIGTERM", "TERM"), ("SIGBREAK", "QUIT"))
    for number in (getattr(_signal, attr, None),)
    if number is not None
)
