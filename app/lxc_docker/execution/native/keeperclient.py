"""The daemon's side of the keeper (keeper.py): find the keeper an earlier daemon left, or start one,
and talk to it over its socket.

One connection per daemon. Requests are serialized (one answer awaited at a time); a reader thread
takes the answers and the keeper's unrequested `exit` messages, which go to `on_exit`. If the keeper
goes away (killed), `on_lost` is called and the next request starts a new keeper.
"""

from __future__ import annotations

import logging
import os
import queue
import shutil
import socket
import subprocess
import tempfile
import threading
from collections.abc import Callable

from lxc_docker.execution.native.keeper import receive, send
from lxc_docker.sysutil.selfexec import mode_argv

log = logging.getLogger(__name__)

SOCKET_NAME = "keeper.sock"


class KeeperError(OSError):
    pass


class KeeperClient:
    def __init__(
        self,
        directory: str | None,
        on_exit: Callable[[str, int], None],
        on_lost: Callable[[], None],
    ) -> None:
        """`directory`: where the keeper's socket lives (the daemon's root); None for a keeper of this
        process alone (tests of the driver), which exits with it."""
        self.directory = directory
        self.on_exit, self.on_lost = on_exit, on_lost
        self._lock = threading.Lock()  # one request at a time
        self._sock: socket.socket | None = None
        self._answers: queue.Queue[tuple[dict | None, list[int]]] = queue.Queue()
        self._proc: subprocess.Popen | None = None
        self.found_existing = False

    @property
    def path(self) -> str | None:
        return os.path.join(self.directory, SOCKET_NAME) if self.directory else None

    # -- connecting ---------------------------------------------------------------------------------

    def connect(self, start: bool = True) -> bool:
        """Connect to the running keeper, or (with `start`) start one. True if one was running."""
        with self._lock:
            return self._connect(start)

    def _connect(self, start: bool) -> bool:
        if self._sock is not None:
            return True
        existing = False
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
        path = self.path
        if path is not None:
            try:
                sock.connect(path)
                existing = True
            except (FileNotFoundError, ConnectionRefusedError):
                pass
        if not existing:
            if not start:
                sock.close()
                return False
            sock.close()
            sock = self._start()
        self._sock = sock
        self._answers = queue.Queue()
        threading.Thread(target=self._read, args=(sock, self._answers), name="keeper", daemon=True).start()
        self.found_existing = self.found_existing or existing
        return existing

    def _start(self) -> socket.socket:
        directory = self.directory or tempfile.mkdtemp(prefix="lxc-docker-keeper-")
        path = os.path.join(directory, SOCKET_NAME)
        try:
            os.unlink(path)  # a keeper that died left it
        except FileNotFoundError:
            pass
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        old_umask = os.umask(0o177)  # mode 0600 from the start: only root talks to the keeper
        try:
            listener.bind(path)
        finally:
            os.umask(old_umask)
        listener.listen(8)
        extra = [self.directory or "--ephemeral"]
        try:
            self._proc = subprocess.Popen(
                [*mode_argv("keeper"), str(listener.fileno()), *extra],
                pass_fds=(listener.fileno(),),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                close_fds=True,
                start_new_session=True,  # its own session: it outlives the daemon's
            )
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
            sock.connect(path)
        finally:
            listener.close()
            if self.directory is None:
                shutil.rmtree(directory, ignore_errors=True)  # connected: nobody else may join
        return sock

    def _read(self, sock: socket.socket, answers: queue.Queue) -> None:
        while True:
            try:
                message, fds = receive(sock)
            except (OSError, ValueError):
                message, fds = None, []
            if message is None:
                break
            if message.get("op") == "exit":
                try:
                    self.on_exit(str(message["id"]), int(message["code"]))
                except Exception:
                    log.exception("handling the exit of %s", message.get("id"))
                continue
            answers.put((message, fds))
        answers.put((None, []))
        with self._lock:
            if self._sock is sock:
                self._sock = None
                lost = True
            else:
                lost = False
        sock.close()
        if lost:
            log.warning("the keeper went away; containers it held are now watched as ghosts")
            self.on_lost()

    # -- requests -----------------------------------------------------------------------------------

    def request(self, message: dict, fds: list[int] | tuple[int, ...] = ()) -> tuple[dict, list[int]]:
        """Send one request and return the keeper's answer and the descriptors it carries (ours to
        close). KeeperError if the keeper is gone or refused."""
        with self._lock:
            self._connect(start=True)
            sock, answers = self._sock, self._answers
            assert sock is not None
            try:
                send(sock, message, fds)
            except OSError as e:
                raise KeeperError(f"the keeper is gone: {e}") from e
            answer, got = answers.get()
        if answer is None:
            raise KeeperError("the keeper is gone")
        if answer.get("op") == "error":
            for fd in got:
                os.close(fd)
            raise KeeperError(f"the keeper refused {message.get('op')}: {answer.get('message')}")
        return answer, got

    def close(self, timeout: float = 10.0) -> None:
        """Hang up; a keeper that holds nothing exits then (this waits for it if we started it)."""
        with self._lock:
            sock, self._sock = self._sock, None
        if sock is not None:
            sock.shutdown(socket.SHUT_RDWR)
        if self._proc is not None:
            try:
                self._proc.wait(timeout)
            except subprocess.TimeoutExpired:
                pass  # it still holds containers (a stop that failed): it keeps them
