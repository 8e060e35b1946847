"""`attach` (a hijacked, bidirectional stream) and `logs` (the json-file log, across its rotated
files, optionally followed; other drivers cannot be read back, as in Docker)."""

from __future__ import annotations

import socket
import threading
from typing import TYPE_CHECKING, Protocol

from ...daemon import logs as logfile
from ...daemon.streams import frame
from ...errors import DockerError, InvalidParameter
from ..http import Request
from ..router import Route

if TYPE_CHECKING:
    from ...daemon.container import Container
    from ..response import Response

DETACH = b"\x10\x11"  # Ctrl-P Ctrl-Q


class LogReaders(Protocol):
    def check_readable(self, c: Container) -> None: ...


class ContainerLookup(Protocol):
    def get(self, name: str) -> Container: ...

    @property
    def loggers(self) -> LogReaders: ...


class AttachBackend(Protocol):
    """What these endpoints need of the daemon: the container, whose streams and log file they read."""

    @property
    def containers(self) -> ContainerLookup: ...


def attach(backend: AttachBackend, req: Request, res: Response, name: str) -> None:
    c = backend.containers.get(name)
    want_stdin, want_out, want_err = req.q_bool("stdin"), req.q_bool("stdout"), req.q_bool("stderr")
    # Clients of API 1.24 tell framed from raw output by the container's Tty, not by content type.
    sock = res.hijack("application/vnd.docker.raw-stream")
    sub = None
    try:
        if req.q_bool("logs") and _readable(backend, c):
            for entry in logfile.read(c.log_path):
                stream = entry.get("stream", "stdout")
                if (stream == "stdout" and want_out) or (stream == "stderr" and want_err):
                    data = entry["log"].encode()
                    sock.sendall(data if c.tty else frame(stream, data))
        if not req.q_bool("stream"):
            return
        sub = c.streams.subscribe(sock, want_out, want_err)
        if want_stdin and c.config.get("OpenStdin"):
            threading.Thread(target=_copy_stdin, args=(c, sock, sub), daemon=True).start()
        # Ends when the container exits, the client goes away, or it detaches.
        while not sub.done.wait(1.0):
            if not _alive(sock):
                break
    finally:
        if sub is not None:
            c.streams.unsubscribe(sub)
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def logs(backend: AttachBackend, req: Request, res: Response, name: str) -> None:
    c = backend.containers.get(name)
    want_out, want_err = req.q_bool("stdout"), req.q_bool("stderr")
    if not (want_out or want_err):
        want_out = want_err = True
    tail_raw = req.q("tail", "all")
    tail = -1 if tail_raw in ("", "all") else max(int(tail_raw) if tail_raw.isdigit() else -1, -1)
    timestamps = req.q_bool("timestamps")
    follow = req.q_bool("follow")
    since = _since(req.q("since", ""))
    backend.containers.loggers.check_readable(c)  # before the stream: an error is a plain answer
    writer = res.stream(
        "application/vnd.docker.raw-stream" if c.tty else "application/vnd.docker.multiplexed-stream"
    )
    running = lambda: c.state.running  # noqa: E731
    entries = logfile.read(c.log_path, follow=follow, tail=tail, since=since, is_running=running)
    for entry in entries:
        stream = entry.get("stream", "stdout")
        if (stream == "stdout" and not want_out) or (stream == "stderr" and not want_err):
            continue
        data = entry["log"].encode()
        if timestamps:
            data = entry.get("time", "").encode() + b" " + data
        writer.write(data if c.tty else frame(stream if stream in ("stdout", "stderr") else "stdout", data))


ROUTES = [
    Route("POST", "/containers/{name}/attach", attach),
    Route("GET", "/containers/{name}/logs", logs),
]


def _since(text: str) -> float:
    """`since`: seconds since the epoch, maybe with a fraction (`1465990000.123456789`)."""
    if not text:
        return 0.0
    try:
        return float(text)
    except ValueError:
        raise InvalidParameter(f"invalid value for since: {text!r}") from None


def _readable(backend: AttachBackend, c: Container) -> bool:
    try:
        backend.containers.loggers.check_readable(c)
        return True
    except DockerError:
        return False  # attach's `logs`: nothing stored to replay; the live stream still follows


def _alive(sock: socket.socket) -> bool:
    # The stdin copier owns reads; here only a dead peer matters, which shows as an error on poll.
    import select

    try:
        poller = select.poll()
        poller.register(sock, select.POLLHUP | select.POLLERR | select.POLLNVAL)
        return not poller.poll(0)
    except (OSError, ValueError):
        return False


def _copy_stdin(c: Container, sock: socket.socket, sub) -> None:
    held = b""  # a trailing Ctrl-P waits to see whether Ctrl-Q follows
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                break
            data = held + data
            held = b""
            if c.tty:
                at = data.find(DETACH)
                if at != -1:
                    if at:
                        c.streams.write_stdin(data[:at])
                    sub.done.set()  # detach: the container keeps running
                    return
                if data.endswith(DETACH[:1]):
                    held, data = data[-1:], data[:-1]
            if data and not c.streams.write_stdin(data):
                break
    except OSError:
        pass
    if held:
        c.streams.write_stdin(held)
    if c.config.get("StdinOnce") and not sub.done.is_set():
        c.streams.close_stdin()
