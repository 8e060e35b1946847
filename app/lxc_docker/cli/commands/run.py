"""`docker run [OPTIONS] IMAGE [COMMAND] [ARG...]`: create a container, attach to it, start it, wait for it.

The flow of Docker 0.9's CmdRun: create (pulling a missing image), then either start and print the
id (-d), or hijack the attach stream first so no output is lost, start, copy the streams, wait for
the exit code and exit with it (removing the container with --rm).
"""

from __future__ import annotations

from ...client.api import ApiError
from ...runconfig.flags import RUN_USAGE, add_run_flags
from .. import attach
from ..main import CommandError
from .create import EXIT_DOCKER, CidFile, create_container, parse_options

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..main import Cli


def flags(cli):
    return add_run_flags(cli.flags("run", RUN_USAGE, "Run a command in a new container"))


def run(cli, args: list[str]) -> int:
    fs = flags(cli)
    config, host_config, opts = parse_options(cli, fs, args)
    with CidFile(host_config["ContainerIDFile"]) as cidfile:
        container_id = create_container(cli, config, host_config, opts.name)
        cidfile.write(container_id)
        return _run(cli, container_id, config, host_config, opts)


def _run(cli: Cli, cid: str, config: dict, host_config: dict, opts) -> int:
    attach_output = config["AttachStdout"] or config["AttachStderr"]
    if not attach_output and not config["AttachStdin"]:
        _start(cli, cid, host_config, remove=False)
        cli.out.write(cid + "\n")
        return 0

    try:
        sock, buffered = attach.open_attach(
            cli,
            cid,
            stdin=config["AttachStdin"],
            stdout=config["AttachStdout"],
            stderr=config["AttachStderr"],
            detach_keys=opts.detach_keys,
        )
    except ApiError as e:
        if opts.rm:
            _remove(cli, cid)
        raise CommandError(str(e), EXIT_DOCKER) from None
    if not attach_output:
        # Docker 0.9 prints the id whenever no output is attached (`-a stdin`), before copying.
        cli.out.write(cid + "\n")
        cli.out.flush()

    # Signals go to the container (not to us) until it has exited; a TTY passes ^C as a byte instead.
    undo_signals = attach.forward_signals(cli, cid) if opts.sig_proxy and not config["Tty"] else None
    try:
        attach.interact(
            cli,
            cid,
            sock,
            buffered,
            tty=config["Tty"],
            attach_stdin=config["AttachStdin"],
            before=lambda: _start(cli, cid, host_config, remove=opts.rm),
        )
        if not attach_output:
            return 0
        if config["Tty"] and config["AttachStdin"]:
            # The stream also ends on the detach keys: then the container runs on (and stays).
            brief = attach.exit_status_within(cli, cid)
            if brief is None:
                info = cli.client.json("GET", f"/containers/{cid}/json") or {}
                if (info.get("State") or {}).get("Running"):
                    return 0
                brief = attach.wait(cli, cid)  # a slow exit, not a detach
            status = brief
        else:
            status = attach.wait(cli, cid)
    finally:
        if undo_signals is not None:
            undo_signals()
    if opts.rm:
        _remove(cli, cid)
    # An exit status outside 0-255 (the daemon's -1 for "unknown") cannot be passed on as ours.
    return status if 0 <= status <= 255 else EXIT_DOCKER


def _start(cli: Cli, cid: str, host_config: dict, *, remove: bool) -> None:
    """Start the container; on failure exit with the code the daemon recorded (127: no such command).

    The host config goes along again for daemons that read it only at start (API < 1.15).
    """
    try:
        cli.client.call("POST", f"/containers/{cid}/start", json_body=host_config).close()
    except ApiError as e:
        code = EXIT_DOCKER
        try:
            state = (cli.client.json("GET", f"/containers/{cid}/json") or {}).get("State") or {}
            if state.get("ExitCode"):
                code = int(state["ExitCode"])
        except (ApiError, ValueError, TypeError):
            pass
        if remove:
            _remove(cli, cid)
        raise CommandError(str(e), code if 0 < code <= 255 else EXIT_DOCKER) from None


def _remove(cli: Cli, cid: str) -> None:
    try:
        cli.client.call("DELETE", f"/containers/{cid}", {"v": 1}).close()
    except ApiError as e:
        cli.err.write(f"Error: {e}\n")
