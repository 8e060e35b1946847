"""The stdio of one `docker exec` run: pipes (or the terminal's master, with a tty) between the
process and the client's hijacked connection, and Docker's detach keys.

The connection's thread copies the output (one poll loop over stdout, stderr, the connection and a
wake-up pipe); a second thread copies the client's input. Output is framed as for `attach`
(`streams.frame`) unless the start request says `Tty`: as in Docker, the start's flag decides, not
the instance's (the SDK's `exec_start` of a tty instance without `tty=True` reads frames).
The session ends once the process has exited and its output is drained; or at once when the client
detaches or goes away, the process then running on with its output read and discarded, as Docker
does.
"""

from __future__ import annotations

import os
import select
import socket
import threading
from typing import TYPE_CHECKING

from ..errors import InvalidParameter
from ..execution.base import Stdio
from .streams import frame

if TYPE_CHECKING:
    from .execs import ExecInstance

DEFAULT_DETACH_KEYS = b"\x10\x11"  # Ctrl-P Ctrl-Q
# After the exit, output still arriving this long after the last read is a background process's
# (which holds the pipe or the terminal on): the session ends without it.
DRAIN_QUIET_MS = 100
_CTRL = {"@": 0, "[": 27, "\\": 28, "]": 29, "^": 30, "_": 31}


def parse_detach_keys(text: str) -> bytes:
    """Docker's `--detach-keys` notation: comma-separated single characters and `ctrl-X`."""
    codes = bytearray()
    for key in text.split(","):
        lowered = key.lower()
        if len(key) == 1:
            codes.append(ord(key) & 0xFF)
        elif lowered.startswith("ctrl-") and len(key) == 6 and ("a" <= lowered[5] <= "z" or key[5] in _CTRL):
            codes.append(ord(lowered[5]) - 96 if lowered[5].isalpha() else _CTRL[key[5]])
        else:
            raise InvalidParameter(f"Invalid escape keys ({text}) provided")
    return bytes(codes)


def _close(*fds: int | None) -> None:
    for fd in fds:
        if fd is not None and fd >= 0:
            try:
                os.close(fd)
            except OSError:
                pass


def _discard(fds: list[int]) -> None:
    """Read `fds` to their end and throw the bytes away, so that the process never blocks writing."""

    def run() -> None:
        poller = select.poll()
        for fd in fds:
            poller.register(fd, select.POLLIN)
        left = set(fds)
        while left:
            for fd, _ in poller.poll():
                try:
                    data = os.read(fd, 65536)
                except OSError:
                    data = b""
                if not data:
                    poller.unregister(fd)
                    left.discard(fd)
                    _close(fd)

    if fds:
        threading.Thread(target=run, name="exec-discard", daemon=True).start()


class Session:
    def __init__(self, ec: ExecInstance, sock: socket.socket | None, raw: bool = False) -> None:
        self.ec = ec
        self.sock = sock
        self.tty = ec.process.tty
        self.raw = raw  # the start request's Tty: output unframed
        self.detached = False
        self._wake_r, self._wake_w = os.pipe2(os.O_CLOEXEC)
        self._child: list[int] = []  # the process's ends, closed once it holds them
        self._outs: dict[int, str] = {}  # our read ends -> "stdout" / "stderr"
        self._stdin_w: int | None = None
        self._master: int | None = None  # our own duplicate of the terminal's master
        # wake() may come from the waiting thread after the session is over: never write to a
        # closed (maybe reused) descriptor.
        self._wake_lock = threading.Lock()

    # -- set-up, for the driver ----------------------------------------------------------------------

    def prepare(self) -> Stdio:
        attached = self.sock is not None
        null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
        self._child.append(null)
        stdin = None
        if attached and self.ec.open_stdin and not self.tty:
            stdin, self._stdin_w = os.pipe2(os.O_CLOEXEC)
            self._child.append(stdin)
        ends = []
        for stream, wanted in (("stdout", self.ec.open_stdout), ("stderr", self.ec.open_stderr)):
            if attached and wanted and not self.tty:
                r, w = os.pipe2(os.O_CLOEXEC)
                self._outs[r] = stream
                self._child.append(w)
                ends.append(w)
            else:
                ends.append(null)
        return Stdio(stdin, ends[0], ends[1])

    def terminal(self, master: int) -> None:
        self._master = os.dup(master)
        if self.sock is not None:
            self._outs[os.dup(master)] = "stdout"

    def started(self) -> None:
        _close(*self._child)
        self._child = []

    def abort(self) -> None:
        self.started()
        _close(self._stdin_w, self._master, *self._outs)
        self._stdin_w = self._master = None
        self._outs = {}

    def wake(self) -> None:
        with self._wake_lock:
            if self._wake_w >= 0:
                try:
                    os.write(self._wake_w, b"x")
                except OSError:
                    pass

    def close(self) -> None:
        """Release the session's own descriptors (the output copy does, at its end)."""
        with self._wake_lock:
            _close(self._wake_r, self._wake_w)
            self._wake_r = self._wake_w = -1

    # -- copying -------------------------------------------------------------------------------------

    def send_output(self, stream: str, data: bytes) -> bool:
        if self.sock is None:
            return False
        try:
            self.sock.sendall(data if self.raw else frame(stream, data))
            return True
        except OSError:
            return False

    def drain_detached(self) -> None:
        """No client: a terminal's output is read and discarded while the process runs."""
        if self._master is not None:
            _discard([self._master])
            self._master = None
        self.close()

    def copy(self) -> None:
        """Copy until the process has exited and its output is drained, or the client detaches or
        goes away; the process's leftover output is then discarded."""
        assert self.sock is not None
        if self.ec.open_stdin:
            target = os.dup(self._master) if self.tty and self._master is not None else self._stdin_w
            self._stdin_w = None
            if target is not None:
                copier = threading.Thread(target=self._copy_input, args=(target,), daemon=True)
                copier.start()
        poller = select.poll()
        for fd in self._outs:
            poller.register(fd, select.POLLIN)
        poller.register(self._wake_r, select.POLLIN)
        poller.register(self.sock, 0)  # POLLHUP/POLLERR only: the input thread does the reading
        gone = False
        try:
            while not (gone or self.detached):
                finished = self.ec.done.is_set()
                if finished and not self._outs:
                    break
                events = poller.poll(DRAIN_QUIET_MS if finished else None)
                if not events and finished:
                    break
                for fd, _ in events:
                    if fd == self._wake_r:
                        os.read(self._wake_r, 64)
                    elif fd == self.sock.fileno():
                        gone = True
                    elif fd in self._outs:
                        try:
                            data = os.read(fd, 65536)
                        except OSError:  # EIO: the terminal's last slave is closed
                            data = b""
                        if not data:
                            poller.unregister(fd)
                            _close(fd)
                            del self._outs[fd]
                        elif not self.send_output(self._outs[fd], data):
                            gone = True
        finally:
            done = self.ec.done.is_set()
            leftover = list(self._outs)
            self._outs = {}
            if done or self.tty:
                _close(*leftover)  # with a tty, our duplicate of the master below is what stays
            else:
                _discard(leftover)
            if self._master is not None:
                if done:
                    _close(self._master)
                else:
                    _discard([self._master])  # detached or gone: the process keeps its terminal
                self._master = None
            self.close()

    def _copy_input(self, target: int) -> None:
        keys = self.ec.detach_keys if self.tty else b""
        held = b""  # a tail that may be the start of the detach keys
        try:
            while True:
                data = self.sock.recv(65536)  # type: ignore[union-attr]
                if not data:
                    break
                data, held = held + data, b""
                if keys:
                    at = data.find(keys)
                    if at != -1:
                        if at:
                            os.write(target, data[:at])
                        self.detached = True
                        self.wake()
                        return
                    for n in range(min(len(keys) - 1, len(data)), 0, -1):
                        if keys.startswith(data[-n:]):
                            data, held = data[:-n], data[-n:]
                            break
                if data:
                    os.write(target, data)
            if held:
                os.write(target, held)
        except OSError:
            pass
        finally:
            _close(target)  # without a tty: end of input for the process
