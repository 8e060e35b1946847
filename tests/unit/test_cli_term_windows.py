"""The Windows console half of the client's terminal (issue 14), run here against a fake console: key
events to xterm bytes, Ctrl-P Ctrl-Q, raw modes set and restored, resize polling, and the ctypes
layouts of the console records."""

from __future__ import annotations

import ctypes
import socket

import pytest

from lib.poll import wait_for
from lxc_docker.cli import console_win, term_windows
from lxc_docker.cli.term_windows import (
    LEFT_ALT_PRESSED,
    LEFT_CTRL_PRESSED,
    RIGHT_ALT_PRESSED,
    SHIFT_PRESSED,
    ConsoleFeeder,
    InputReader,
    KeyEvent,
    KeyTranslator,
    RawMode,
    ResizePoller,
    raw_modes,
)


def down(vk: int, char: str | int = 0, control: int = 0, repeat: int = 1) -> KeyEvent:
    return KeyEvent(True, vk, ord(char) if isinstance(char, str) else char, control, repeat)


def typed(*events: KeyEvent) -> bytes:
    t = KeyTranslator()
    return b"".join(t.translate(e) for e in events)


def test_characters_enter_and_backspace():
    assert typed(down(0x41, "a"), down(0x42, "B", SHIFT_PRESSED), down(0x0D, "\r")) == b"aB\r"
    assert typed(down(0x08, "\x08")) == b"\x7f"  # Backspace is DEL to a Linux tty
    assert typed(down(0x08, "\x08", LEFT_CTRL_PRESSED)) == b"\x08"
    assert typed(down(0x09, "\t"), down(0x09, "\t", SHIFT_PRESSED)) == b"\t\x1b[Z"
    assert typed(down(0x1B, "\x1b")) == b"\x1b"


def test_cursor_editing_and_function_keys():
    assert typed(down(0x26), down(0x28), down(0x27), down(0x25)) == b"\x1b[A\x1b[B\x1b[C\x1b[D"
    assert typed(down(0x24), down(0x23)) == b"\x1b[H\x1b[F"
    assert typed(down(0x2D), down(0x2E), down(0x21), down(0x22)) == b"\x1b[2~\x1b[3~\x1b[5~\x1b[6~"
    assert typed(down(0x70), down(0x73), down(0x74), down(0x7B)) == b"\x1bOP\x1bOS\x1b[15~\x1b[24~"
    # xterm's modifier parameter: 1 + shift + 2 alt + 4 ctrl.
    assert typed(down(0x27, 0, LEFT_CTRL_PRESSED)) == b"\x1b[1;5C"
    assert typed(down(0x26, 0, SHIFT_PRESSED | LEFT_ALT_PRESSED)) == b"\x1b[1;4A"
    assert typed(down(0x2E, 0, LEFT_CTRL_PRESSED)) == b"\x1b[3;5~"
    assert typed(down(0x70, 0, SHIFT_PRESSED)) == b"\x1b[1;2P"


def test_control_and_alt_keys():
    # The console gives Ctrl-letter as its control character; some layouts give none.
    assert typed(down(0x43, "\x03", LEFT_CTRL_PRESSED)) == b"\x03"
    assert typed(down(0x44, 0, LEFT_CTRL_PRESSED)) == b"\x04"
    assert typed(down(0x20, 0, LEFT_CTRL_PRESSED)) == b"\x00"
    assert typed(down(0x58, "x", LEFT_ALT_PRESSED)) == b"\x1bx"  # Alt is Meta
    # AltGr (Right Alt + Left Ctrl) types a character, with no ESC.
    assert typed(down(0x51, "@", RIGHT_ALT_PRESSED | LEFT_CTRL_PRESSED)) == b"@"
    # Shift, Ctrl or Alt pressed alone sends nothing.
    assert typed(down(0x10, 0, SHIFT_PRESSED), down(0x11, 0, LEFT_CTRL_PRESSED), down(0x12)) == b""


def test_unicode_surrogate_pairs_repeats_and_releases():
    assert typed(down(0, "é")) == "é".encode()
    assert typed(down(0, 0xD83D), down(0, 0xDE00)) == "😀".encode()
    assert typed(down(0, 0xDE00)) == b""  # a lone low surrogate
    assert typed(down(0x41, "a", repeat=3)) == b"aaa"
    assert typed(KeyEvent(False, 0x41, ord("a"))) == b""
    # Alt + numpad: the character comes with the release of Alt.
    assert typed(KeyEvent(False, 0x12, ord("ñ"))) == "ñ".encode()


class FakeConsole:
    """Batches of key events handed out one per wait/read; records the modes set."""

    def __init__(self, batches=(), modes=(0x1F7, 0x3), refuse_out=()):
        self.batches = list(batches)
        self.modes = {"in": modes[0], "out": modes[1]}
        self.refuse_out = set(refuse_out)
        self.history: list[tuple[str, int]] = []

    def wait(self, timeout_ms):
        return bool(self.batches)

    def read(self):
        return self.batches.pop(0)

    def get_mode(self, which):
        return self.modes[which]

    def set_mode(self, which, mode):
        if which == "out" and mode in self.refuse_out:
            return False
        self.modes[which] = mode
        self.history.append((which, mode))
        return True


def keys(text: str) -> list[KeyEvent]:
    return [down(0, ch) for ch in text]


def test_reader_sends_keys_and_stops_at_ctrl_p_ctrl_q():
    console = FakeConsole(
        [
            keys("ls\r"),
            [down(0x50, "\x10", LEFT_CTRL_PRESSED), down(0x51, "\x11", LEFT_CTRL_PRESSED)] + keys("x"),
        ]
    )
    sent: list[bytes] = []
    reader = InputReader(console, sent.append)
    assert reader.step() is True
    assert reader.step() is False
    # The detach keys go to the daemon (it ends the session); what was typed after stays unsent.
    assert sent == [b"ls\r", b"\x10\x11"]
    assert reader.detached and reader.step() is False


def test_reader_detach_split_across_reads_and_ctrl_p_alone():
    console = FakeConsole([keys("a\x10"), keys("b"), keys("\x10"), keys("\x11z")])
    sent: list[bytes] = []
    reader = InputReader(console, sent.append)
    assert [reader.step() for _ in range(4)] == [True, True, True, False]
    assert sent == [b"a\x10", b"b", b"\x10", b"\x11"]


def test_reader_idle_wait_sends_nothing():
    sent: list[bytes] = []
    assert InputReader(FakeConsole([]), sent.append).step(timeout_ms=0) is True
    assert sent == []


def test_console_feeder_copies_into_the_socket_until_detach():
    ours, theirs = socket.socketpair()
    try:
        console = FakeConsole([keys("echo hi\r"), keys("\x10\x11more")])
        feeder = ConsoleFeeder(ours, console)
        wait_for(lambda: feeder.reader.detached, timeout=5)
        feeder.stop()
        theirs.settimeout(5)
        data = b""
        while len(data) < len(b"echo hi\r\x10\x11"):
            data += theirs.recv(100)
        assert data == b"echo hi\r\x10\x11"
    finally:
        ours.close()
        theirs.close()


def test_raw_modes():
    raw_in, raw_out = raw_modes(0x1F7, 0x3)
    for bit in (0x1, 0x2, 0x4, 0x8, 0x10):  # processed, line, echo, window, mouse input off
        assert not raw_in & bit
    assert raw_in & 0x80 and raw_in & 0x20 and raw_in & 0x40  # extended flags; insert and quick edit kept
    assert raw_out == 0x3 | 0x4 | 0x8  # VT processing, no automatic CR


def test_raw_mode_restores_both_modes_and_falls_back_without_vt_newline():
    console = FakeConsole(modes=(0x1F7, 0x3), refuse_out={0x3 | 0x4 | 0x8})
    with RawMode(0, console=console):
        assert console.modes["in"] == raw_modes(0x1F7, 0x3)[0]
        assert console.modes["out"] == 0x3 | 0x4  # an older console refuses DISABLE_NEWLINE_AUTO_RETURN
    assert console.modes == {"in": 0x1F7, "out": 0x3}
    with pytest.raises(KeyboardInterrupt), RawMode(0, console=console):
        raise KeyboardInterrupt
    assert console.modes == {"in": 0x1F7, "out": 0x3}


def test_raw_mode_without_a_console_does_nothing(tmp_path):
    with open(tmp_path / "f", "w") as f, RawMode(f.fileno()) as raw:
        assert raw._saved is None


def test_resize_poller_reports_changes_only():
    sizes = [(24, 80), (24, 80), (30, 100), None, (30, 100), (40, 120)]
    calls: list[int] = []
    poller = ResizePoller(lambda: sizes.pop(0), lambda: calls.append(1))  # takes (24, 80) as current
    assert [poller.check() for _ in range(5)] == [False, True, False, False, True]
    assert len(calls) == 2


def test_resize_poller_thread_stops():
    current = [(24, 80)]
    calls: list[int] = []
    stop = ResizePoller(lambda: current[0], lambda: calls.append(1), interval=0.01).start()
    current[0] = (50, 132)
    wait_for(lambda: calls, timeout=5)
    stop()
    assert calls == [1]


def test_forwarded_signals_go_by_name():
    assert all(isinstance(name, str) for _, name in term_windows.FORWARDED)
    assert ("INT" in dict(term_windows.FORWARDED).values()) and len(term_windows.FORWARDED) >= 2


def test_console_record_layouts():
    # wincon.h: INPUT_RECORD is a WORD and a 16-byte union, 4-byte aligned.
    assert ctypes.sizeof(console_win.KEY_EVENT_RECORD) == 16
    assert ctypes.sizeof(console_win.INPUT_RECORD) == 20
    assert ctypes.sizeof(console_win.CONSOLE_SCREEN_BUFFER_INFO) == 22
    records = (console_win.INPUT_RECORD * 3)()
    records[0].EventType = console_win.KEY_EVENT
    k = records[0].Event.KeyEvent
    k.bKeyDown, k.wRepeatCount, k.wVirtualKeyCode, k.UnicodeChar, k.dwControlKeyState = 1, 1, 0x41, 97, 0
    records[1].EventType = 0x0002  # a mouse record, dropped
    events = console_win.key_events(records, 2)
    assert len(events) == 1 and (events[0].vk, events[0].char, events[0].key_down) == (0x41, 97, True)
    info = console_win.CONSOLE_SCREEN_BUFFER_INFO()
    info.srWindow.Left, info.srWindow.Top, info.srWindow.Right, info.srWindow.Bottom = 0, 100, 119, 129
    assert console_win.window_size(info) == (30, 120)
