"""`docker exec [OPTIONS] CONTAINER COMMAND [ARG...]`: run one more process in a running container.

The flow of Docker's CLI: create the exec instance, then start it detached (-d) or hijack its start
for the streams as `run` does for attach (raw with -t, multiplexed without; Ctrl-P Ctrl-Q detaches
from a -t session), and exit with the process's exit code, read from the instance once the stream
ends.
"""

from __future__ import annotations

from ... import jsonlite
from ...client import transport
from ...client.api import error_from
from .. import attach
from ..main import CommandError


def flags(cli):
    fs = cli.flags("exec", "[OPTIONS] CONTAINER COMMAND [ARG...]", "Run a command in a running container")
    fs.bool(["d", "-detach"], False, "Detached mode: run command in the background")
    fs.bool(["i", "-interactive"], False, "Keep STDIN open even if not attached")
    fs.bool(["t", "-tty"], False, "Allocate a pseudo-TTY")
    fs.string(["u", "-user"], "", "Username or UID (format: <name|uid>[:<group|gid>])")
    fs.list(["e", "-env"], "Set environment variables")
    fs.string(["w", "-workdir"], "", "Working directory inside the container")
    fs.bool(["-privileged"], False, "Give extended privileges to the command")
    fs.string(["-detach-keys"], "", "Override the key sequence for detaching a container")
    return fs


def run(cli, args: list[str]) -> int:
    opts, rest = cli.parse(flags(cli), args, 2)
    container, cmd = rest[0], rest[1:]
    body = {
        "User": opts.user,
        "Privileged": opts.privileged,
        "Tty": opts.tty,
        "AttachStdin": opts.interactive and not opts.detach,
        "AttachStdout": not opts.detach,
        "AttachStderr": not opts.detach,
        "Detach": opts.detach,
        "DetachKeys": attach.default_detach_keys(opts.detach_keys) or "",
        "Cmd": cmd,
        "Env": list(opts.env),
        "WorkingDir": opts.workdir,
    }
    created = cli.client.json("POST", f"/containers/{transport.quote(container, '/')}/exec", json_body=body)
    exec_id = (created or {}).get("Id") or ""
    start = {"Detach": opts.detach, "Tty": opts.tty}
    if opts.detach:
        cli.client.call("POST", f"/exec/{exec_id}/start", json_body=start).close()
        return 0
    resp, sock, buffered = transport.hijack(
        cli.client.host,
        "POST",
        cli.client.path(f"/exec/{exec_id}/start"),
        headers={"Content-Type": "application/json"},
        body=jsonlite.dumps(start).encode(),
    )
    if sock is None:
        raise CommandError(str(error_from(resp)))
    attach.interact(
        cli,
        container,
        sock,
        buffered,
        tty=opts.tty,
        attach_stdin=bool(body["AttachStdin"]),
        resize_path=f"/exec/{exec_id}/resize",
    )
    info = cli.client.json("GET", f"/exec/{exec_id}/json") or {}
    code = info.get("ExitCode")
    return code if isinstance(code, int) and 0 <= code <= 255 else 0
