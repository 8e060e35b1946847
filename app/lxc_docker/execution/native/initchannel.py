"""The daemon's end of the socket it shares with a container's init (see init.py for the
conversation): newline-terminated messages, and the start error one of them may carry."""

from __future__ import annotations

import socket

from lxc_docker.execution.base import ContainerStartError


class Lines:
    """Newline-terminated messages from the init, read off the socket."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock, self.buffer = sock, b""

    def next(self, fds: list[int] | None = None) -> bytes | None:
        """The next message, or None at EOF (the exec closed the init's end). Descriptors sent with
        it are appended to `fds` when given (and closed by the kernel when not asked for)."""
        while b"\n" not in self.buffer:
            if fds is None:
                chunk = self.sock.recv(4096)
            else:
                chunk, received, _flags, _addr = socket.recv_fds(self.sock, 4096, 4)
                fds.extend(received)
            if not chunk:
                return None
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line

    def ready(self) -> bytes | None:
        """A message already received, without waiting for one."""
        timeout = self.sock.gettimeout()
        self.sock.settimeout(0)
        try:
            while b"\n" not in self.buffer:
                chunk = self.sock.recv(4096)
                if not chunk:
                    break
                self.buffer += chunk
        except OSError:  # BlockingIOError: nothing more yet
            pass
        finally:
            self.sock.settimeout(timeout)
        if b"\n" not in self.buffer:
            return None
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line


def start_error(line: bytes) -> ContainerStartError:
    # b"err <exit code> <message>", see init.py
    _, code, message = (line.decode("utf-8", "replace").split(" ", 2) + ["", ""])[:3]
    return ContainerStartError(message, int(code) if code.isdigit() else 1)
