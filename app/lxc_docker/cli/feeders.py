"""Copying our standard input into an attach socket, in a thread, in the way the host allows.

POSIX hosts poll the descriptor and a wake-up pipe (`PollFeeder`); Windows can only select on
sockets, so there a thread blocks in read (`ThreadFeeder`), and a console in raw mode is read as key
events (`term_windows.ConsoleFeeder`). Each has `stop()`, after which nothing more is sent.
"""

from __future__ import annotations

import _socket
import _thread
import os
import select
import sys

_RECV_SIZE = 65536


def start_feeder(sock: _socket.socket, fd: int, *, tty: bool):
    """Start copying fd into sock; the returned feeder's stop() ends the copy."""
    if sys.platform == "win32":
        from . import term

        if tty and term.is_terminal(fd):
            from .term_windows import ConsoleFeeder

            return ConsoleFeeder(sock)
        return ThreadFeeder(sock, fd)
    if not hasattr(select, "poll"):
        return ThreadFeeder(sock, fd)
    # macOS's poll() refuses terminal devices (POLLNVAL); its select() takes them.
    return PollFeeder(sock, fd, use_select=sys.platform == "darwin")


class PollFeeder:
    """A thread copying a file descriptor into the socket; on end of input it half-closes the socket.
    For POSIX hosts, where poll(2) (select(2) on macOS) waits on pipes and terminals as well as sockets.

    A thread rather than one select loop: a container that stops reading stdin while we block
    sending to it must not stop us reading its output (that is how the daemon and the container would
    deadlock). The thread waits on a pipe as well as on the input, so stop() never waits on a read.
    """

    def __init__(self, sock: _socket.socket, fd: int, use_select: bool = False) -> None:
        self.sock = sock
        self.fd = fd
        self.use_select = use_select
        self._wake_r, self._wake_w = os.pipe()
        self._done = _thread.allocate_lock()
        self._done.acquire()
        _thread.start_new_thread(self._run, ())

    def _run(self) -> None:
        try:
            wait = self._selector() if self.use_select else self._poller()
            while True:
                ready = wait()
                if self._wake_r in ready:
                    return
                if self.fd not in ready:
                    continue
                try:
                    data = os.read(self.fd, _RECV_SIZE)
                except OSError:
                    data = b""  # EIO from a terminal that hung up: that is the end of input
                if not data:
                    # The daemon sees end-of-file on the container's stdin while output keeps flowing.
                    self.sock.shutdown(_socket.SHUT_WR)
                    return
                self.sock.sendall(data)
        except OSError:
            pass  # the daemon hung up; the output side sees that too and ends the session
        finally:
            self._done.release()

    def _poller(self):
        poller = select.poll()
        poller.register(self.fd, select.POLLIN)
        poller.register(self._wake_r, select.POLLIN)
        return lambda: dict(poller.poll())

    def _selector(self):
        watched = [self.fd, self._wake_r]
        return lambda: select.select(watched, [], [])[0]

    def stop(self) -> None:
        os.write(self._wake_w, b"x")
        if not self._done.acquire(timeout=2):
            # Stuck sending to a daemon that no longer reads: breaking the socket frees it.
            try:
                self.sock.shutdown(_socket.SHUT_RDWR)
            except OSError:
                pass
            if not self._done.acquire(timeout=2):
                return  # leave the pipe open rather than close an fd the thread may still poll
        os.close(self._wake_r)
        os.close(self._wake_w)


class ThreadFeeder:
    """A thread blocking in read(fd) and sending what it reads; on end of input it half-closes.

    stop() cannot interrupt a blocked read: it marks the feeder stopped, so whatever the read
    returns later is dropped, and the thread (which keeps the process from nothing: _thread threads
    do not hold up exit) ends with its read.
    """

    def __init__(self, sock: _socket.socket, fd: int) -> None:
        self.sock = sock
        self.fd = fd
        self._stopped = False
        _thread.start_new_thread(self._run, ())

    def _run(self) -> None:
        try:
            while not self._stopped:
                try:
                    data = os.read(self.fd, _RECV_SIZE)
                except OSError:
                    data = b""
                if self._stopped:
                    return
                if not data:
                    self.sock.shutdown(_socket.SHUT_WR)
                    return
                self.sock.sendall(data)
        except OSError:
            pass  # the daemon hung up; the output side sees that too and ends the session

    def stop(self) -> None:
        self._stopped = True
