"""A container's terminal with an OCI runtime: the runtime makes the pty inside the container (from
its own devpts, as its controlling terminal and /dev/console) and hands the master to us over a unix
socket (`--console-socket`, SCM_RIGHTS). The daemon has given the driver the slave of its own pty
(execution/base.py's Stdio), so a relay thread copies between the two, and copies the window size
the daemon sets on its side (`docker attach`'s resize) onto the container's terminal.

The relay is a thread of the daemon, not a process: the driver still keeps no process per container.
"""

from __future__ import annotations

import array
import fcntl
import os
import select
import socket
import termios
import threading

# How often an idle relay looks at the window size: the daemon sets it on its own pty master, which
# sends no signal anywhere we could hear (the slave is no one's controlling terminal).
_WINSIZE_POLL = 0.25


def listen(path: str) -> socket.socket:
    """The console socket the runtime connects to at `create`."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    try:
        sock.bind(path)
        sock.listen(1)
    except OSError:
        sock.close()
        raise
    return sock


def receive_master(sock: socket.socket) -> int:
    """Accept the runtime's connection on `sock` and return the pty master it sends."""
    conn, _ = sock.accept()
    try:
        fds = array.array("i")
        _, ancdata, _, _ = conn.recvmsg(4096, socket.CMSG_SPACE(fds.itemsize * 4))
        for level, kind, data in ancdata:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds.frombytes(data[: len(data) - len(data) % fds.itemsize])
        if not fds:
            raise OSError("the OCI runtime sent no terminal over the console socket")
        for extra in fds[1:]:
            os.close(extra)
        os.set_inheritable(fds[0], False)
        return fds[0]
    finally:
        conn.close()


def _make_raw(fd: int) -> None:
    # The daemon's pty only carries bytes between its master and the container's terminal, whose
    # own line discipline echoes and edits: no second echo, no CR/LF rewriting here.
    attrs = termios.tcgetattr(fd)
    attrs[0] = 0  # iflag
    attrs[1] = 0  # oflag
    attrs[3] = 0  # lflag: no ECHO, ICANON, ISIG, IEXTEN
    attrs[2] = (attrs[2] & ~(termios.CSIZE | termios.PARENB)) | termios.CS8
    attrs[6][termios.VMIN], attrs[6][termios.VTIME] = 1, 0
    termios.tcsetattr(fd, termios.TCSANOW, attrs)


class Relay:
    """Copies between the daemon's pty slave and the container's pty master until the container's
    terminal closes (every process holding it gone: EIO), then closes both ends it holds."""

    def __init__(self, outer: int, master: int) -> None:
        self.outer = os.dup(outer)  # the daemon closes its own copy once the container runs
        os.set_inheritable(self.outer, False)
        self.master = master
        _make_raw(self.outer)
        self._winsize = b""
        self._sync_winsize()
        self.thread = threading.Thread(target=self._run, name="oci-console", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def join(self, timeout: float | None = None) -> None:
        self.thread.join(timeout)

    def close(self) -> None:
        """Close both ends (for a start that failed before the relay ran)."""
        for fd in (self.outer, self.master):
            try:
                os.close(fd)
            except OSError:
                pass

    def _sync_winsize(self) -> None:
        try:
            size = fcntl.ioctl(self.outer, termios.TIOCGWINSZ, b"\0" * 8)
            if size != self._winsize:
                fcntl.ioctl(self.master, termios.TIOCSWINSZ, size)
                self._winsize = size
        except OSError:
            pass

    def _run(self) -> None:
        poller = select.poll()
        poller.register(self.master, select.POLLIN)
        poller.register(self.outer, select.POLLIN)
        try:
            while True:
                events = poller.poll(_WINSIZE_POLL * 1000)
                self._sync_winsize()
                for fd, mask in events:
                    if fd == self.master:
                        if not self._copy(self.master, self.outer):
                            return  # the container's terminal is gone: everything it wrote is out
                    elif mask & select.POLLIN:
                        if not self._copy(self.outer, self.master):
                            poller.unregister(self.outer)
                    else:
                        poller.unregister(self.outer)  # hang-up on the daemon's side: output only
        finally:
            self.close()

    @staticmethod
    def _copy(source: int, target: int) -> bool:
        try:
            data = os.read(source, 65536)
        except OSError:  # EIO: the other side of that pty is closed
            return False
        if not data:
            return False
        view = memoryview(data)
        while view:
            try:
                view = view[os.write(target, view) :]
            except OSError:
                return True  # nobody reads: drop it, as a closed terminal would
        return True
