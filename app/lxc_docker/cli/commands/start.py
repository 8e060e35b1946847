"""`docker start [OPTIONS] CONTAINER [CONTAINER...]`: start stopped containers, optionally attached to one."""

from __future__ import annotations

from ...client.api import ApiError
from .. import attach
from ..main import CommandError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..main import Cli


def flags(cli):
    fs = cli.flags("start", "CONTAINER [CONTAINER...]", "Restart a stopped container")
    fs.bool(
        ["a", "-attach"], False, "Attach container's stdout/stderr and forward all signals to the process"
    )
    fs.bool(["i", "-interactive"], False, "Attach container's stdin")
    fs.string(["-detach-keys"], "", "Override the key sequence for detaching a container")
    return fs


def run(cli, args: list[str]) -> int:
    opts, rest = cli.parse(flags(cli), args, 1)
    if opts.attach or opts.interactive:
        if len(rest) > 1:
            raise CommandError("Impossible to start and attach multiple containers at once.")
        return _start_attached(cli, rest[0], opts.interactive, opts.detach_keys)
    failed = False
    for name in rest:
        try:
            cli.client.call("POST", f"/containers/{name}/start").close()
        except ApiError as e:
            cli.err.write(f"Error: {e}\n")
            failed = True
            continue
        cli.out.write(name + "\n")
    if failed:
        raise CommandError("failed to start one or more containers")
    return 0


def _start_attached(cli: Cli, name: str, interactive: bool, detach_keys: str = "") -> int:
    info = cli.client.json("GET", f"/containers/{name}/json") or {}
    container_config = info.get("Config") or {}
    cid = info.get("Id") or name
    tty = bool(container_config.get("Tty"))
    stdin = interactive and bool(container_config.get("OpenStdin"))
    sock, buffered = attach.open_attach(
        cli, cid, stdin=stdin, stdout=True, stderr=True, detach_keys=detach_keys
    )
    undo_signals = attach.forward_signals(cli, cid) if not tty else None
    try:
        attach.interact(
            cli,
            cid,
            sock,
            buffered,
            tty=tty,
            attach_stdin=stdin,
            before=lambda: cli.client.call("POST", f"/containers/{cid}/start").close(),
        )
        # Later Docker's behaviour: `start -a` exits with the container's code (0.9 always exited 0).
        return attach.exit_status(cli, cid)
    finally:
        if undo_signals is not None:
            undo_signals()
