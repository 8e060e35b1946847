"""kernel32's console functions through ctypes, for `term_windows`: modes, waiting for and reading
input records, and the window size. Imported only on Windows, when an attached session needs the
console; the structures are plain ctypes and load anywhere (their layout is unit-tested on Linux).
"""

from __future__ import annotations

import ctypes

from .term_windows import KeyEvent

STD_INPUT_HANDLE = -10
STD_OUTPUT_HANDLE = -11
WAIT_OBJECT_0 = 0
KEY_EVENT = 0x0001
_BATCH = 64  # input records read per call


class KEY_EVENT_RECORD(ctypes.Structure):
    _fields_ = [
        ("bKeyDown", ctypes.c_int32),
        ("wRepeatCount", ctypes.c_uint16),
        ("wVirtualKeyCode", ctypes.c_uint16),
        ("wVirtualScanCode", ctypes.c_uint16),
        ("UnicodeChar", ctypes.c_uint16),  # the WCHAR member of the uChar union
        ("dwControlKeyState", ctypes.c_uint32),
    ]


class _EVENT(ctypes.Union):
    # MOUSE_EVENT_RECORD is the largest member (16 bytes, as KEY_EVENT_RECORD); the others are smaller.
    _fields_ = [("KeyEvent", KEY_EVENT_RECORD), ("_size", ctypes.c_byte * 16)]


class INPUT_RECORD(ctypes.Structure):
    _fields_ = [("EventType", ctypes.c_uint16), ("Event", _EVENT)]


class _COORD(ctypes.Structure):
    _fields_ = [("X", ctypes.c_int16), ("Y", ctypes.c_int16)]


class _SMALL_RECT(ctypes.Structure):
    _fields_ = [
        ("Left", ctypes.c_int16),
        ("Top", ctypes.c_int16),
        ("Right", ctypes.c_int16),
        ("Bottom", ctypes.c_int16),
    ]


class CONSOLE_SCREEN_BUFFER_INFO(ctypes.Structure):
    _fields_ = [
        ("dwSize", _COORD),
        ("dwCursorPosition", _COORD),
        ("wAttributes", ctypes.c_uint16),
        ("srWindow", _SMALL_RECT),
        ("dwMaximumWindowSize", _COORD),
    ]


def key_events(records: ctypes.Array, count: int) -> list[KeyEvent]:
    """The key events among the first `count` input records (mouse, focus and menu records are dropped)."""
    events = []
    for record in records[:count]:
        if record.EventType == KEY_EVENT:
            k = record.Event.KeyEvent
            events.append(
                KeyEvent(
                    bool(k.bKeyDown), k.wVirtualKeyCode, k.UnicodeChar, k.dwControlKeyState, k.wRepeatCount
                )
            )
    return events


def window_size(info: CONSOLE_SCREEN_BUFFER_INFO) -> tuple[int, int]:
    """(rows, columns) of the visible window, not of the (taller) screen buffer."""
    window = info.srWindow
    return window.Bottom - window.Top + 1, window.Right - window.Left + 1


class Console:
    """The process's console: its input and output handles and the calls term_windows makes on them."""

    def __init__(self) -> None:
        kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]
        kernel32.GetStdHandle.restype = ctypes.c_void_p
        self._k = kernel32
        self._handles = {
            "in": ctypes.c_void_p(kernel32.GetStdHandle(STD_INPUT_HANDLE)),
            "out": ctypes.c_void_p(kernel32.GetStdHandle(STD_OUTPUT_HANDLE)),
        }
        self._records = (INPUT_RECORD * _BATCH)()

    def get_mode(self, which: str) -> int:
        mode = ctypes.c_uint32()
        if not self._k.GetConsoleMode(self._handles[which], ctypes.byref(mode)):
            raise ctypes.WinError(ctypes.get_last_error())  # type: ignore[attr-defined]
        return mode.value

    def set_mode(self, which: str, mode: int) -> bool:
        return bool(self._k.SetConsoleMode(self._handles[which], ctypes.c_uint32(mode)))

    def wait(self, timeout_ms: int) -> bool:
        """True when input records are waiting (a key, or any other record to be read and dropped)."""
        return self._k.WaitForSingleObject(self._handles["in"], ctypes.c_uint32(timeout_ms)) == WAIT_OBJECT_0

    def read(self) -> list[KeyEvent]:
        count = ctypes.c_uint32()
        if not self._k.ReadConsoleInputW(self._handles["in"], self._records, _BATCH, ctypes.byref(count)):
            raise ctypes.WinError(ctypes.get_last_error())  # type: ignore[attr-defined]
        return key_events(self._records, count.value)

    def size(self) -> tuple[int, int] | None:
        info = CONSOLE_SCREEN_BUFFER_INFO()
        if not self._k.GetConsoleScreenBufferInfo(self._handles["out"], ctypes.byref(info)):
            return None
        return window_size(info)
