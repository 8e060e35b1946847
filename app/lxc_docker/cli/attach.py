"""The client side of an attached container: stdin to the daemon, the container's output to our stdout/stderr.

Without a TTY the daemon multiplexes stdout and stderr into frames of an 8-byte header (stream type:
0 stdin, 1 stdout, 2 stderr; three zero bytes; big-endian uint32 payload length) and the payload;
with a TTY the stream is the raw bytes of the container's terminal. Used by run, start -a, attach
and logs.
"""

from __future__ import annotations

import _socket
import _thread
import sys

from . import term

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, BinaryIO

    from .main import Cli

_RECV_SIZE = 65536
_HEADER_SIZE = 8


class StreamError(Exception):
    """The daemon's multiplexed stream is malformed."""


class Demuxer:
    """Splits Docker's multiplexed stream into writes to stdout and stderr as the bytes arrive.

    Payloads are written as they come in, never held until a frame is complete, so a container's
    partial line (a prompt) shows at once.
    """

    def __init__(self, stdout: Any, stderr: Any) -> None:
        # Docker's StdCopy writes stdin frames (the daemon's echo) to stdout.
        self._outs = {0: stdout, 1: stdout, 2: stderr}
        self._head = bytearray()
        self._left = 0
        self._out: Any = None

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        view = memoryview(data).cast("B")
        pos, end = 0, len(view)
        touched = []
        while pos < end:
            if not self._left:
                piece = view[pos : pos + _HEADER_SIZE - len(self._head)]
                self._head += piece
                pos += len(piece)
                if len(self._head) < _HEADER_SIZE:
                    break
                kind = self._head[0]
                if kind not in self._outs:
                    raise StreamError(f"Unrecognized input header: {kind}")
                self._left = int.from_bytes(self._head[4:8], "big")
                self._out = self._outs[kind]
                self._head.clear()
                continue
            take = min(self._left, end - pos)
            self._out.write(view[pos : pos + take])
            if self._out not in touched:
                touched.append(self._out)
            pos += take
            self._left -= take
        for out in touched:
            out.flush()

    def close(self) -> None:
        # A stream cut inside a frame ends like Docker's StdCopy does at EOF: quietly.
        self._head.clear()
        self._left = 0


class RawSink:
    """A TTY stream: the bytes go to stdout unchanged."""

    def __init__(self, stdout: Any) -> None:
        self._out = stdout

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        self._out.write(data)
        self._out.flush()

    def close(self) -> None:
        pass


class _TextSink:
    """Bytes written to a text stream (tests hand commands a StringIO), decoded incrementally."""

    def __init__(self, stream: Any) -> None:
        import codecs

        self._stream = stream
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self._stream.write(self._decoder.decode(bytes(data)))

    def flush(self) -> None:
        self._stream.flush()


def byte_writer(stream: Any) -> Any:
    """A binary writer for a command's text output stream (its .buffer once the text is flushed)."""
    buffer = getattr(stream, "buffer", None)
    if buffer is not None:
        stream.flush()
        return buffer
    return _TextSink(stream)


def pump(
    sock: _socket.socket,
    buffered: bytes = b"",
    *,
    tty: bool,
    stdin_fd: int | None = None,
    stdout: BinaryIO | Any,
    stderr: BinaryIO | Any,
) -> None:
    """Copy stdin_fd → sock (if given) and sock → stdout/stderr until the daemon ends the stream.

    `buffered` holds stream bytes that arrived with the HTTP response head. Returns once the output
    side has ended; the input copy is stopped then. The caller closes the socket.
    """
    from .feeders import start_feeder

    sink: Demuxer | RawSink = RawSink(stdout) if tty else Demuxer(stdout, stderr)
    feeder = start_feeder(sock, stdin_fd, tty=tty) if stdin_fd is not None else None
    try:
        if buffered:
            sink.feed(buffered)
        while True:
            try:
                data = sock.recv(_RECV_SIZE)
            except ConnectionResetError:
                break
            if not data:
                break
            sink.feed(data)
        sink.close()
    finally:
        if feeder is not None:
            feeder.stop()


# -- attaching to a container through the API -------------------------------------------------------


def default_detach_keys(given: str = "") -> str | None:
    """`--detach-keys` if given, else the `detachKeys` of ~/.docker/config.json (as Docker's CLI
    reads it), else None: the daemon's Ctrl-P Ctrl-Q."""
    if given:
        return given
    from .. import jsonlite
    from .authconfig import config_json_path

    try:
        with open(config_json_path(), "rb") as f:
            doc = jsonlite.loads(f.read() or b"{}")
    except (OSError, ValueError):
        return None
    keys = doc.get("detachKeys") if isinstance(doc, dict) else None
    return keys if isinstance(keys, str) and keys else None


def open_attach(
    cli: Cli,
    container: str,
    *,
    stdin: bool,
    stdout: bool,
    stderr: bool,
    logs: bool = False,
    detach_keys: str = "",
) -> tuple[_socket.socket, bytes]:
    """Hijack `POST /containers/{id}/attach` for the given streams; return (socket, buffered bytes)."""
    from ..client import transport
    from ..client.api import error_from

    query = {
        "detachKeys": default_detach_keys(detach_keys),
        "logs": 1 if logs else None,
        "stream": 1,
        "stdin": 1 if stdin else None,
        "stdout": 1 if stdout else None,
        "stderr": 1 if stderr else None,
    }
    path = cli.client.path(f"/containers/{transport.quote(container, '/')}/attach", query)
    resp, sock, buffered = transport.hijack(cli.client.host, "POST", path)
    if sock is None:
        raise error_from(resp)
    return sock, buffered


def stdin_fd() -> int | None:
    """Our stdin's descriptor, or None when there is none to read (closed, or replaced by a test)."""
    try:
        return sys.stdin.fileno() if sys.stdin is not None else None
    except (OSError, ValueError, AttributeError):
        return None


def interact(
    cli: Cli,
    container: str,
    sock: _socket.socket,
    buffered: bytes,
    *,
    tty: bool,
    attach_stdin: bool,
    before: Callable[[], None] | None = None,
    resize_path: str | None = None,
) -> None:
    """Run an attached session to its end: raw terminal, `before()` (the start), resizes, copying.

    The terminal is put in raw mode only with a TTY container and a terminal on stdin; the window size
    is sent after `before()` and on every resize. Everything is undone and the socket closed when
    this returns or raises.
    """
    fd = stdin_fd() if attach_stdin else None
    raw = term.RawMode(fd) if tty and fd is not None else None
    undo_resize = None
    try:
        if raw is not None:
            raw.__enter__()
        if before is not None:
            before()
        if tty:
            undo_resize = monitor_size(cli, container, resize_path)
        if attach_stdin and fd is None:
            # Nothing to read: the container sees end-of-file at once, as with </dev/null.
            sock.shutdown(_socket.SHUT_WR)
        out = byte_writer(cli.out)
        err = out if tty else byte_writer(cli.err)
        pump(sock, buffered, tty=tty, stdin_fd=fd, stdout=out, stderr=err)
    finally:
        if undo_resize is not None:
            undo_resize()
        if raw is not None:
            raw.restore()
        sock.close()


def forward_signals(cli: Cli, container: str) -> Callable[[], None]:
    """`--sig-proxy`: send the signals we receive to the container; return the undo function."""

    wire = dict(term.FORWARDED)

    def send(signum: int) -> None:
        # A thread, so a signal arriving in the middle of our own API call cannot re-enter it.
        query = {"signal": wire[signum]}
        _thread.start_new_thread(_quietly, (cli, "POST", f"/containers/{container}/kill", query))

    return term.catch_signals(wire, send)


def monitor_size(cli: Cli, container: str, path: str | None = None) -> Callable[[], None]:
    """Send our terminal's size to the container's TTY (or to `path`, an exec's resize endpoint) now
    and on every resize (SIGWINCH, or polled)."""
    # Windows measures the window through an output handle; stdin's console handle has no size.
    candidates = (1, 2) if term.WINDOWS else (0, 1)
    fd = next((fd for fd in candidates if term.is_terminal(fd)), None)
    if fd is None:
        return lambda: None

    def resize() -> None:
        dims = term.size(fd)
        if dims is not None:
            _quietly(cli, "POST", path or f"/containers/{container}/resize", {"h": dims[0], "w": dims[1]})

    resize()
    return term.on_resize(lambda: _thread.start_new_thread(resize, ()), fd)


def _quietly(cli: Cli, method: str, path: str, query: dict[str, object]) -> None:
    # Best effort, as in Docker: a resize or a forwarded signal racing the container's exit fails.
    try:
        cli.client.call(method, path, query).close()
    except Exception as e:
        if cli.debug:
            cli.err.write(f"[debug] {method} {path}: {e}\n")


def wait(cli: Cli, container: str) -> int:
    """Block until the container exits; its exit code."""
    result = cli.client.json("POST", f"/containers/{container}/wait") or {}
    return int(result.get("StatusCode", 0))


def exit_status(cli: Cli, container: str, grace: float = 1.0) -> int:
    """The exit code after an attached stream ended: the container's, or 0 if it is still running.

    The stream also ends when the user detaches (Ctrl-P Ctrl-Q) and the container goes on; and when
    it exits, the daemon may close the stream a moment before it records the exit. So wait briefly.
    """
    status = exit_status_within(cli, container, grace)
    return 0 if status is None else status


def exit_status_within(cli: Cli, container: str, grace: float = 1.0) -> int | None:
    """The container's exit code if it exits within `grace` seconds, else None (detached)."""
    from ..client import transport
    from ..client.api import error_from

    try:
        resp = transport.request(
            cli.client.host, "POST", cli.client.path(f"/containers/{container}/wait"), timeout=grace
        )
        if resp.status >= 400:
            raise error_from(resp)
        with resp:
            data = resp.read()
    except TimeoutError:
        return None
    from .. import jsonlite

    return int((jsonlite.loads(data) if data.strip() else {}).get("StatusCode", 0))
