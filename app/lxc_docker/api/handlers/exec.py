"""`docker exec`: create an exec instance in a running container, start it (hijacked like attach,
or detached), resize its terminal, inspect it (the API 1.24 shape)."""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING, Any, Protocol

from ...daemon.execs import canonical_keys
from ..http import Request
from ..router import Route

if TYPE_CHECKING:
    from ...daemon.execs import ExecInstance
    from ..response import Response


class ExecStore(Protocol):
    def create(self, name: str, body: Any) -> ExecInstance: ...

    def get(self, exec_id: str) -> ExecInstance: ...

    def resize(self, exec_id: str, height: int, width: int) -> None: ...

    def begin(self, ec: ExecInstance) -> None: ...

    def start_detached(self, ec: ExecInstance) -> None: ...

    def run_attached(self, ec: ExecInstance, sock: socket.socket, raw: bool) -> None: ...


class ExecBackend(Protocol):
    """What these endpoints need of the daemon: its exec instances."""

    @property
    def execs(self) -> ExecStore: ...


def create(backend: ExecBackend, req: Request, res: Response, name: str) -> None:
    ec = backend.execs.create(name, req.json(required=True))
    res.json({"Id": ec.id}, 201)


def start(backend: ExecBackend, req: Request, res: Response, exec_id: str) -> None:
    body = req.json() or {}
    body = canonical_keys(body, ("Detach", "Tty")) if isinstance(body, dict) else {}
    ec = backend.execs.get(exec_id)
    backend.execs.begin(ec)
    if body.get("Detach"):
        backend.execs.start_detached(ec)
        res.send(200, b"", "text/plain; charset=utf-8")
        return
    # As Docker: the start's Tty, not the instance's, says whether the output is framed.
    raw = bool(body.get("Tty"))
    sock = res.hijack("application/vnd.docker.raw-stream")
    try:
        backend.execs.run_attached(ec, sock, raw)
    finally:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def resize(backend: ExecBackend, req: Request, res: Response, exec_id: str) -> None:
    backend.execs.resize(exec_id, req.q_int("h"), req.q_int("w"))
    res.send(200, b"", "text/plain; charset=utf-8")


def inspect(backend: ExecBackend, req: Request, res: Response, exec_id: str) -> None:
    res.json(exec_json(backend.execs.get(exec_id)))


def exec_json(ec: ExecInstance) -> dict[str, Any]:
    """`GET /exec/{id}/json` as Docker 1.12 answers it (API 1.24), with the later `Pid`."""
    with ec.lock:
        running, exit_code, pid = ec.running, ec.exit_code, ec.pid
    return {
        "ID": ec.id,
        "Running": running,
        "ExitCode": exit_code,
        "ProcessConfig": {
            "tty": ec.process.tty,
            "entrypoint": ec.entrypoint,
            "arguments": ec.arguments,
            "privileged": ec.privileged_given,
            "user": ec.user_given,
        },
        "OpenStdin": ec.open_stdin,
        "OpenStderr": ec.open_stderr,
        "OpenStdout": ec.open_stdout,
        "CanRemove": False,
        "ContainerID": ec.container.id,
        "DetachKeys": ec.detach_keys_text,
        "Pid": pid,
    }


ROUTES = [
    Route("POST", "/containers/{name}/exec", create),
    Route("POST", "/exec/{exec_id}/start", start),
    Route("POST", "/exec/{exec_id}/resize", resize),
    Route("GET", "/exec/{exec_id}/json", inspect),
]
