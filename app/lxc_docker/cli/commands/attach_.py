"""`docker attach [OPTIONS] CONTAINER`: connect to a running container's stdin, stdout and stderr."""

from __future__ import annotations

from .. import attach
from ..main import CommandError


def flags(cli):
    fs = cli.flags("attach", "[OPTIONS] CONTAINER", "Attach to a running container")
    fs.bool(["#nostdin", "-no-stdin"], False, "Do not attach stdin")
    fs.string(["-detach-keys"], "", "Override the key sequence for detaching a container")
    fs.bool(
        ["#sig-proxy", "-sig-proxy"],
        True,
        "Proxify all received signal to the process (even in non-tty mode)",
    )
    return fs


def run(cli, args: list[str]) -> int:
    opts, rest = cli.parse(flags(cli), args, 1, 1)
    info = cli.client.json("GET", f"/containers/{rest[0]}/json") or {}
    if not (info.get("State") or {}).get("Running"):
        raise CommandError("You cannot attach to a stopped container, start it first")
    container_config = info.get("Config") or {}
    cid = info.get("Id") or rest[0]
    tty = bool(container_config.get("Tty"))
    stdin = not opts.no_stdin and bool(container_config.get("OpenStdin"))
    sock, buffered = attach.open_attach(
        cli, cid, stdin=stdin, stdout=True, stderr=True, detach_keys=opts.detach_keys
    )
    undo_signals = attach.forward_signals(cli, cid) if opts.sig_proxy and not tty else None
    try:
        attach.interact(cli, cid, sock, buffered, tty=tty, attach_stdin=stdin)
        return attach.exit_status(cli, cid)
    finally:
        if undo_signals is not None:
            undo_signals()
