"""A container's stdio: pipes or a pty, copied to its logging driver and to every attached client.

Output is framed per client: Docker's 8-byte multiplexing header without a TTY, raw bytes with one.
Input from any attached client goes through one daemon-side pipe, which exists before the container
starts, so `docker run -i` can attach first and start second without losing a byte.

The daemon's ends (output read ends or pty master, stdin write end) are also handed to the exec
driver (`kept`), which keeps them open while the daemon is down: output then waits in the pipe, whose
size is raised so a chatty container blocks later, never loses a line, and a restarted daemon takes
them back with `resume`.
"""

from __future__ import annotations

import fcntl
import logging
import os
import socket
import struct
import termios
import threading
from collections.abc import Callable

from ..execution.keptio import KeptIO
from .logdrivers.base import Copier, NoneDriver
from .logs import LogWriter

log = logging.getLogger(__name__)
STREAM_IDS = {"stdin": 0, "stdout": 1, "stderr": 2}
# What a container may print while the daemon is down before it blocks (pipe-max-size is 1 MiB by
# default; root may go beyond it).
PIPE_SIZE = 1 << 20


def _grow(fd: int) -> None:
    try:
        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_SIZE)
    except OSError as e:
        log.debug("raising a pipe's size: %s", e)


def frame(stream: str, data: bytes) -> bytes:
    return struct.pack(">BxxxL", STREAM_IDS[stream], len(data)) + data


class Subscriber:
    def __init__(self, sock: socket.socket, stdout: bool, stderr: bool, multiplex: bool) -> None:
        self.sock = sock
        self.want = {"stdout": stdout, "stderr": stderr}
        self.multiplex = multiplex
        self.done = threading.Event()
        self.lock = threading.Lock()

    def send(self, stream: str, data: bytes) -> bool:
        if not self.want.get(stream):
            return True
        payload = frame(stream, data) if self.multiplex else data
        try:
            with self.lock:
                self.sock.sendall(payload)
            return True
        except OSError:
            self.done.set()
            return False


class Streams:
    def __init__(self, log_path: str, tty: bool, open_log: Callable[[], Copier] | None = None) -> None:
        self.log_path = log_path
        self.tty = tty
        # The run's logging driver (daemon/logdrivers): opened at each start, closed at the exit.
        self.open_log: Callable[[], Copier] = open_log or (lambda: LogWriter(log_path))
        self._lock = threading.Lock()
        self._subs: list[Subscriber] = []
        self._stdin_r: int | None = None
        self._stdin_w: int | None = None
        self._master: int | None = None
        self._pumps: list[threading.Thread] = []
        self._log: Copier | None = None
        self.kept: KeptIO | None = None
        self.running = False

    # -- input ---------------------------------------------------------------------------------------

    def _stdin_pipe(self) -> tuple[int, int]:
        with self._lock:
            if self._stdin_w is None:
                r, w = os.pipe2(os.O_CLOEXEC)
                self._stdin_r, self._stdin_w = r, w
            return self._stdin_r, self._stdin_w  # type: ignore[return-value]

    def write_stdin(self, data: bytes) -> bool:
        _, w = self._stdin_pipe()
        if w < 0:
            return False
        try:
            os.write(w, data)
            return True
        except OSError:
            return False

    def close_stdin(self) -> None:
        kept = self.kept
        if kept is not None:
            kept.close_stdin()  # first: the driver's copy must not outlive ours
        with self._lock:
            if self._stdin_w is None:
                self._stdin_r, self._stdin_w = os.pipe2(os.O_CLOEXEC)
            if self._stdin_w >= 0:
                os.close(self._stdin_w)
                # Closed for this run (maybe before it even starts: the read end keeps data and EOF);
                # finished() makes way for a fresh pipe at the next start.
                self._stdin_w = -1

    # -- starting and stopping -----------------------------------------------------------------------

    def prepare(self, open_stdin: bool) -> tuple[int | None, int, int, list[int]]:
        """Fds for the container (stdin, stdout, stderr) and the list the daemon closes after spawn.
        Raises when the logging driver cannot start (an unreachable endpoint fails the start)."""
        self._log = self.open_log()
        child_stdin: int | None = None
        if open_stdin:
            child_stdin, _ = self._stdin_pipe()
        if self.tty:
            master, slave = os.openpty()
            os.set_blocking(master, True)
            self._master = master
            self._pumps = [threading.Thread(target=self._pump, args=(master, "stdout"), daemon=True)]
            if open_stdin:
                self._pumps.append(
                    threading.Thread(target=self._feed_pty, args=(child_stdin,), name="feed", daemon=True)
                )
            self.kept = KeptIO({"master": master})
            return slave, slave, slave, [slave]
        out_r, out_w = os.pipe2(os.O_CLOEXEC)
        err_r, err_w = os.pipe2(os.O_CLOEXEC)
        _grow(out_r)
        _grow(err_r)
        self._pumps = [
            threading.Thread(target=self._pump, args=(out_r, "stdout"), daemon=True),
            threading.Thread(target=self._pump, args=(err_r, "stderr"), daemon=True),
        ]
        with self._lock:
            stdin_w = self._stdin_w if open_stdin else None
            self.kept = KeptIO({"stdout": out_r, "stderr": err_r, "stdin": stdin_w})  # type: ignore[dict-item]
        closers = [out_w, err_w] + ([child_stdin] if child_stdin is not None else [])
        return child_stdin, out_w, err_w, closers

    def resume(self, kept: KeptIO, open_stdin: bool) -> None:
        """Take back the daemon's ends of a container that ran on while the daemon was down (from the
        exec driver): what it printed meanwhile is in the pipes, and goes to the log first."""
        try:
            self._log = self.open_log()
        except Exception as e:  # the container runs on; its output still reaches attached clients
            log.warning("container's logging driver did not start again: %s", e)
            self._log = Copier(NoneDriver())
        self.kept = kept
        fds = kept.fds
        if self.tty:
            self._master = fds.get("master")
            if self._master is None:
                raise ValueError("a TTY container came back without its terminal")
            os.set_blocking(self._master, True)
            self._pumps = [threading.Thread(target=self._pump, args=(self._master, "stdout"), daemon=True)]
            if open_stdin:
                stdin_r, _ = self._stdin_pipe()
                self._pumps.append(
                    threading.Thread(target=self._feed_pty, args=(stdin_r,), name="feed", daemon=True)
                )
        else:
            self._pumps = [
                threading.Thread(target=self._pump, args=(fds[name], name), daemon=True)
                for name in ("stdout", "stderr")
                if name in fds
            ]
            with self._lock:
                # The container's stdin stays open as long as we hold its write end; -1 if the
                # client had closed it.
                self._stdin_r, self._stdin_w = None, fds.get("stdin", -1) if open_stdin else None
            if not open_stdin and "stdin" in fds:
                os.close(fds["stdin"])
        self.started([])

    def started(self, closers: list[int]) -> None:
        """The container holds its ends now: drop ours so EOF arrives when it exits."""
        for fd in closers:
            if fd == self._stdin_r:
                with self._lock:
                    self._stdin_r = None
            try:
                os.close(fd)
            except OSError:
                pass
        self.running = True
        for t in self._pumps:
            t.start()

    def abort(self, closers: list[int]) -> None:
        """The container never started: close everything, as if it had run and exited."""
        for fd in set(closers):
            try:
                os.close(fd)
            except OSError:
                pass
        with self._lock:
            if self._stdin_r in closers:
                self._stdin_r = None
        self._pumps = []
        self.finished()

    def finished(self, timeout: float = 5.0) -> None:
        """After the container exits: drain output, close the log, release attached clients."""
        for t in self._pumps:
            if t.ident is not None and t.name != "feed":
                t.join(timeout)
        self.running = False
        if self._master is not None:
            try:
                os.close(self._master)
            except OSError:
                pass
            self._master = None
        with self._lock:
            if self._stdin_w not in (None, -1):
                os.close(self._stdin_w)  # type: ignore[arg-type]
            if self._stdin_r is not None:
                os.close(self._stdin_r)
            self._stdin_r = self._stdin_w = None
            subs, self._subs = self._subs, []
        if self._log is not None:
            self._log.close()
            self._log = None
        self.kept = None
        for sub in subs:
            sub.done.set()

    def _pump(self, fd: int, stream: str) -> None:
        try:
            while True:
                try:
                    data = os.read(fd, 65536)
                except OSError:  # EIO on a pty once the last slave closes
                    break
                if not data:
                    break
                if self._log is not None:
                    self._log.write(stream, data)
                with self._lock:
                    subs = list(self._subs)
                for sub in subs:
                    if not sub.send(stream, data):
                        self.unsubscribe(sub)
        finally:
            if fd != self._master:
                os.close(fd)

    def _feed_pty(self, stdin_r: int) -> None:
        # Input for a TTY container reaches its pty master through the daemon-side stdin pipe.
        try:
            while True:
                data = os.read(stdin_r, 65536)
                master = self._master
                if not data or master is None:
                    return
                os.write(master, data)
        except OSError:
            return

    # -- clients -------------------------------------------------------------------------------------

    def subscribe(self, sock: socket.socket, stdout: bool, stderr: bool) -> Subscriber:
        sub = Subscriber(sock, stdout, stderr, multiplex=not self.tty)
        with self._lock:
            self._subs.append(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        with self._lock:
            if sub in self._subs:
                self._subs.remove(sub)

    def resize(self, height: int, width: int) -> None:
        if self._master is None:
            return
        fcntl.ioctl(self._master, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))

    def send_log_entry(
        self, sub: Subscriber, entry: dict, stamp: Callable[[dict], bytes] | None = None
    ) -> None:
        stream = entry.get("stream", "stdout")
        data = entry.get("log", "").encode()
        if stamp is not None:
            data = stamp(entry) + data
        sub.send(stream if stream in ("stdout", "stderr") else "stdout", data)
