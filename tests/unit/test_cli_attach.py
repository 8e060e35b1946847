"""The client side of attached streams: multiplexed frames, raw TTY bytes, stdin half-close; the terminal."""

from __future__ import annotations

import io
import os
import signal
import socket
import struct
import subprocess
import sys
import termios
import threading
import time

import pytest

from lib.poll import wait_for
from lxc_docker.cli import term
from lxc_docker.cli.attach import Demuxer, StreamError, byte_writer, pump

WAIT = 10


def frame(kind: int, payload: bytes) -> bytes:
    return struct.pack(">BxxxL", kind, len(payload)) + payload


class Recorder(io.BytesIO):
    """A binary output that also remembers how often it was flushed."""

    flushes = 0

    def flush(self) -> None:
        self.flushes += 1


def demux(data: bytes, step: int | None = None) -> tuple[bytes, bytes]:
    out, err = Recorder(), Recorder()
    d = Demuxer(out, err)
    step = step or len(data) or 1
    for i in range(0, len(data), step):
        d.feed(data[i : i + step])
    d.close()
    return out.getvalue(), err.getvalue()


STREAM = (
    frame(1, b"hello ")
    + frame(2, b"oops\n")
    + frame(1, b"")
    + frame(0, b"echoed stdin\n")
    + frame(1, b"world\n")
    + frame(2, bytes(range(256)) * 300)
)


@pytest.mark.parametrize("step", [None, 1, 3, 7, 8, 9, 4096])
def test_demux_frames_in_any_split(step):
    out, err = demux(STREAM, step)
    assert out == b"hello echoed stdin\nworld\n"
    assert err == b"oops\n" + bytes(range(256)) * 300


def test_demux_writes_partial_payload_as_it_arrives():
    out, err = Recorder(), Recorder()
    d = Demuxer(out, err)
    data = frame(1, b"prompt> and more")
    d.feed(data[:15])
    assert out.getvalue() == b"prompt>"
    assert out.flushes == 1
    d.feed(data[15:])
    assert out.getvalue() == b"prompt> and more"


def test_demux_unknown_stream_type():
    with pytest.raises(StreamError, match="Unrecognized input header: 3"):
        demux(frame(3, b"x"))


def test_demux_truncated_stream_ends_quietly():
    out, _ = demux(frame(1, b"complete") + frame(1, b"cut short")[:12])
    assert out == b"completecut "
    out, _ = demux(frame(1, b"a") + b"\x01\x00\x00")
    assert out == b"a"


def serve(script) -> tuple[socket.socket, threading.Thread]:
    """The client end of a socketpair whose daemon end runs script(sock) in a thread."""
    client, daemon = socket.socketpair()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            script(daemon)
        except BaseException as e:  # surfaced by the test through .errors
            errors.append(e)
        finally:
            daemon.close()

    t = threading.Thread(target=run, daemon=True)
    t.errors = errors  # type: ignore[attr-defined]
    t.start()
    return client, t


def finish(t: threading.Thread) -> None:
    t.join(WAIT)
    assert not t.is_alive()
    assert not t.errors  # type: ignore[attr-defined]


def test_pump_multiplexed_through_a_socket():
    def daemon(sock):
        for i in range(0, len(STREAM), 1000):
            sock.sendall(STREAM[i : i + 1000])

    client, t = serve(daemon)
    out, err = Recorder(), Recorder()
    pump(client, tty=False, stdout=out, stderr=err)
    client.close()
    finish(t)
    assert out.getvalue() == b"hello echoed stdin\nworld\n"
    assert err.getvalue() == b"oops\n" + bytes(range(256)) * 300


def test_pump_consumes_buffered_bytes_first():
    data = frame(1, b"first ") + frame(2, b"err ") + frame(1, b"second")
    client, t = serve(lambda sock: sock.sendall(data[10:]))
    out, err = Recorder(), Recorder()
    pump(client, data[:10], tty=False, stdout=out, stderr=err)
    client.close()
    finish(t)
    assert out.getvalue() == b"first second" and err.getvalue() == b"err "


def test_pump_tty_passes_raw_bytes_unchanged():
    raw = b"\x01\x00\x00\x00\x00\x00\x00\x05not a frame\r\n\x1b[1mbold\x1b[0m" + bytes(range(256))
    client, t = serve(lambda sock: sock.sendall(raw))
    out, err = Recorder(), Recorder()
    pump(client, b"pre:", tty=True, stdout=out, stderr=err)
    client.close()
    finish(t)
    assert out.getvalue() == b"pre:" + raw
    assert err.getvalue() == b""


def test_stdin_is_copied_then_half_closed_while_output_continues():
    received = bytearray()

    def daemon(sock):
        while data := sock.recv(4096):  # ends only when the client shuts down its write side
            received.extend(data)
        sock.sendall(frame(1, b"got " + bytes(received)))

    r, w = os.pipe()
    os.write(w, b"line one\nline two\n")
    os.close(w)
    client, t = serve(daemon)
    out, err = Recorder(), Recorder()
    try:
        pump(client, tty=False, stdin_fd=r, stdout=out, stderr=err)
    finally:
        os.close(r)
        client.close()
    finish(t)
    assert bytes(received) == b"line one\nline two\n"
    assert out.getvalue() == b"got line one\nline two\n"


def test_stdin_still_open_does_not_hold_the_session_once_output_ends():
    r, w = os.pipe()  # never written to nor closed until the end: a user who types nothing
    client, t = serve(lambda sock: sock.sendall(frame(1, b"bye\n")))
    out = Recorder()
    started = time.monotonic()
    try:
        pump(client, tty=False, stdin_fd=r, stdout=out, stderr=Recorder())
    finally:
        os.close(r)
        os.close(w)
        client.close()
    finish(t)
    assert out.getvalue() == b"bye\n"
    assert time.monotonic() - started < 2


def test_stdin_to_a_daemon_that_hung_up_is_harmless():
    r, w = os.pipe()
    os.write(w, b"x" * 60000)  # below the pipe buffer size, so this write never blocks
    client, t = serve(lambda sock: None)  # closes at once
    try:
        pump(client, tty=False, stdin_fd=r, stdout=Recorder(), stderr=Recorder())
    finally:
        os.close(r)
        os.close(w)
        client.close()
    finish(t)


def test_byte_writer_text_streams():
    text = io.StringIO()
    writer = byte_writer(text)
    snowman = "☃".encode()
    writer.write(b"a" + snowman[:1])
    writer.write(snowman[1:] + b"b")
    writer.flush()
    assert text.getvalue() == "a☃b"

    raw = io.BytesIO()
    wrapped = io.TextIOWrapper(raw, encoding="utf-8")
    wrapped.write("text first, ")
    writer = byte_writer(wrapped)
    writer.write(b"bytes after")
    writer.flush()
    assert raw.getvalue() == b"text first, bytes after"


# -- the terminal ----------------------------------------------------------------------------------------


@pytest.fixture
def pty_pair():
    master, slave = os.openpty()
    yield master, slave
    os.close(master)
    os.close(slave)


def test_raw_mode_sets_and_restores(pty_pair):
    _, slave = pty_pair
    before = termios.tcgetattr(slave)
    assert before[3] & termios.ICANON and before[3] & termios.ECHO
    with term.RawMode(slave):
        attrs = termios.tcgetattr(slave)
        assert not attrs[3] & (termios.ICANON | termios.ECHO | termios.ISIG)
        assert not attrs[1] & termios.OPOST
        assert not attrs[0] & termios.ICRNL
        assert attrs[6][termios.VMIN] == 1
    assert termios.tcgetattr(slave) == before


def test_raw_mode_restored_on_exception(pty_pair):
    _, slave = pty_pair
    before = termios.tcgetattr(slave)
    with pytest.raises(KeyboardInterrupt), term.RawMode(slave):
        raise KeyboardInterrupt
    assert termios.tcgetattr(slave) == before


def test_raw_mode_on_a_non_terminal_does_nothing():
    r, w = os.pipe()
    try:
        with term.RawMode(r):
            pass
    finally:
        os.close(r)
        os.close(w)


def test_raw_mode_restored_when_killed_by_sigterm(pty_pair):
    _, slave = pty_pair
    before = termios.tcgetattr(slave)
    code = (
        "import os, sys, termios\n"
        "from lxc_docker.cli import term\n"
        f"fd = {slave}\n"
        "raw = term.RawMode(fd).__enter__()\n"
        "assert not termios.tcgetattr(fd)[3] & termios.ICANON\n"
        "print('raw', flush=True)\n"
        "sys.stdin.read()\n"
    )
    app = os.path.join(os.path.dirname(__file__), "..", "..", "app")
    child = subprocess.Popen(
        [sys.executable, "-c", code],
        pass_fds=[slave],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": app},
    )
    try:
        assert child.stdout.readline() == b"raw\n"
        assert not termios.tcgetattr(slave)[3] & termios.ICANON
        child.send_signal(signal.SIGTERM)
        assert child.wait(WAIT) == -signal.SIGTERM  # still dies of the signal, as it would have
    finally:
        child.kill()
        child.wait()
    assert termios.tcgetattr(slave) == before


def test_terminal_size(pty_pair):
    import fcntl

    master, slave = pty_pair
    fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", 42, 137, 0, 0))
    assert term.size(slave) == (42, 137)
    assert term.is_terminal(slave)
    r, w = os.pipe()
    try:
        assert term.size(r) is None
        assert not term.is_terminal(r)
    finally:
        os.close(r)
        os.close(w)


def test_catch_signals_and_resize_hook():
    seen: list[int] = []
    before = signal.getsignal(signal.SIGUSR1)
    undo = term.catch_signals([signal.SIGUSR1], seen.append)
    try:
        os.kill(os.getpid(), signal.SIGUSR1)
        wait_for(lambda: seen, WAIT)
    finally:
        undo()
    assert seen == [signal.SIGUSR1]
    assert signal.getsignal(signal.SIGUSR1) == before

    resized: list[bool] = []
    undo = term.on_resize(lambda: resized.append(True))
    try:
        os.kill(os.getpid(), signal.SIGWINCH)
        wait_for(lambda: resized, WAIT)
    finally:
        undo()
    assert resized == [True]
