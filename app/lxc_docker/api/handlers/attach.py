"""`attach` (a hijacked, bidirectional stream) and `logs` (the json-file log, across its rotated
files, optionally followed; other drivers cannot be read back, as in Docker)."""

from __future__ import annotations

import socket
import threading
from typing import TYPE_CHECKING, Protocol

from ...daemon import logs as logfile
from ...daemon.execio import DEFAULT_DETACH_KEYS, parse_detach_keys
from ...daemon.streams import frame
from ...errors import DockerError, InvalidParameter
from .. import websocket
from ..http import Request
from ..router import Route

# How long the session waits for the client's answer to our close frame before it drops the socket.
WS_CLOSE_WAIT = 5.0

if TYPE_CHECKING:
    from ...daemon.container import Container
    from ..response import Response


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
    # Checked before the hijack: a bad notation is a 400, as in Docker.
    keys = detach_keys(req)
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
            threading.Thread(target=_copy_stdin, args=(c, sock, sub, keys), daemon=True).start()
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


def attach_ws(backend: AttachBackend, req: Request, res: Response, name: str) -> None:
    """The same attach over a WebSocket: output as data frames of raw bytes (never multiplexed),
    client messages to stdin, the close handshake when either side ends."""
    c = backend.containers.get(name)
    want_stdin, want_out, want_err = req.q_bool("stdin"), req.q_bool("stdout"), req.q_bool("stderr")
    keys = detach_keys(req)
    key = websocket.check_handshake(req.method, req.headers)
    accept = websocket.accept_key(key)
    sock, buffered = res.switch_protocols(
        [("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Accept", accept)]
    )
    # Docker sends text frames before API 1.28 and binary ones from then on (moby#28176).
    ws = websocket.WebSocket(sock, buffered, binary=req.at_least(1, 28))
    stream = req.q_bool("stream")
    stdin = stream and want_stdin and bool(c.config.get("OpenStdin"))
    # The client's frames are read for the whole session: pings and its close need answers, and
    # its close (or detach keys) ends the session.
    client_gone = threading.Event()
    reader = threading.Thread(target=_ws_input, args=(c, ws, keys, stdin, client_gone), daemon=True)
    reader.start()
    sub = None
    try:
        if req.q_bool("logs"):
            for entry in logfile.read(c.log_path):
                kind = entry.get("stream", "stdout")
                if (kind == "stdout" and want_out) or (kind == "stderr" and want_err):
                    ws.sendall(entry["log"].encode())
        if not stream:
            return
        sub = c.streams.subscribe(ws, want_out, want_err)  # type: ignore[arg-type]
        sub.multiplex = False
        while not sub.done.wait(0.5) and not client_gone.is_set():
            pass
    except OSError:
        pass
    finally:
        if sub is not None:
            c.streams.unsubscribe(sub)
        ws.close()
        # RFC 6455 7.1.1: the client answers our close, then the server closes the TCP connection.
        reader.join(WS_CLOSE_WAIT)
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
    Route("GET", "/containers/{name}/attach/ws", attach_ws),
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


def detach_keys(req: Request) -> bytes:
    """The `detachKeys` query (Docker's notation), or Ctrl-P Ctrl-Q."""
    text = req.q("detachKeys")
    return parse_detach_keys(text) if text else DEFAULT_DETACH_KEYS


def split_detach(data: bytes, keys: bytes) -> tuple[bytes, bool, bytes]:
    """(bytes to pass on, whether the keys were typed, a tail held back as maybe their start)."""
    at = data.find(keys)
    if at != -1:
        return data[:at], True, b""
    for n in range(min(len(keys) - 1, len(data)), 0, -1):
        if keys.startswith(data[-n:]):
            return data[:-n], False, data[-n:]
    return data, False, b""


def _copy_stdin(c: Container, sock: socket.socket, sub, keys: bytes) -> None:
    held = b""  # a tail that may be the start of the detach keys
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                break
            data, held = held + data, b""
            # As in Docker, the keys are looked for only with a tty: without one stdin is binary.
            if c.tty:
                data, detached, held = split_detach(data, keys)
                if detached:
                    if data:
                        c.streams.write_stdin(data)
                    sub.done.set()  # detach: the container keeps running
                    return
            if data and not c.streams.write_stdin(data):
                break
    except OSError:
        pass
    if held:
        c.streams.write_stdin(held)
    if c.config.get("StdinOnce") and not sub.done.is_set():
        c.streams.close_stdin()


def _ws_input(c: Container, ws: websocket.WebSocket, keys: bytes, stdin: bool, gone: threading.Event) -> None:
    """Reads the client's frames until it closes or goes away; their payloads go to stdin when it
    is attached (with a tty, up to the detach keys)."""
    held = b""
    detached = False
    for message in ws.messages():
        if not stdin or detached:
            continue
        data, held = held + message, b""
        if c.tty:
            data, detached, held = split_detach(data, keys)
            if detached:
                gone.set()  # the session ends; the close handshake is still read here
        if data and not c.streams.write_stdin(data):
            stdin = False
    if stdin and not detached:
        if held:
            c.streams.write_stdin(held)
        if c.config.get("StdinOnce"):
            c.streams.close_stdin()
    gone.set()
