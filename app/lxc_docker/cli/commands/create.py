"""`docker create [OPTIONS] IMAGE [COMMAND] [ARG...]`: a new container, not started (later Docker's).

Also home of what `docker run` shares with it: sending the create request (pulling a missing image
first), the create warnings and the `--cidfile` file.
"""

from __future__ import annotations

import os

from ...client.api import ApiError
from ...runconfig.flags import RUN_USAGE, add_run_flags, parse_run
from ..main import CommandError, UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..main import Cli

# Later Docker's exit code for "docker itself failed" (bad options, create or start refused), so that
# scripts can tell it from the container's own exit code.
EXIT_DOCKER = 125


def flags(cli):
    fs = cli.flags("create", RUN_USAGE, "Create a new container")
    return add_run_flags(fs, create=True)


def run(cli, args: list[str]) -> int:
    fs = flags(cli)
    config, host_config, opts = parse_options(cli, fs, args)
    with CidFile(host_config["ContainerIDFile"]) as cidfile:
        container_id = create_container(cli, config, host_config, opts.name)
        cidfile.write(container_id)
    cli.out.write(container_id + "\n")
    return 0


def parse_options(cli: Cli, fs: Any, args: list[str]) -> tuple[dict, dict, Any]:
    try:
        config, host_config, opts = parse_run(args, fs)
    except ValueError as e:
        raise CommandError(str(e), EXIT_DOCKER) from None
    for warning in fs.warnings:
        cli.err.write(warning + "\n")
    if not config["Image"]:
        raise UsageError(fs)
    return config, host_config, opts


def create_container(cli: Cli, config: dict, host_config: dict, name: str) -> str:
    """POST /containers/create (pulling the image once if it is missing); print warnings; the new id.

    HostConfig travels with the create request, as every client since API 1.15 sends it; the daemon
    also accepts it again at start.
    """
    body = dict(config)
    body["HostConfig"] = host_config
    query = {"name": name or None}
    try:
        try:
            result = cli.client.json("POST", "/containers/create", query, json_body=body)
        except ApiError as e:
            if e.status != 404 or "no such image" not in e.message.lower():
                raise
            cli.err.write(f"Unable to find image '{config['Image']}' locally\n")
            pull_image(cli, config["Image"])
            result = cli.client.json("POST", "/containers/create", query, json_body=body)
    except ApiError as e:
        raise CommandError(str(e), EXIT_DOCKER) from None
    result = result or {}
    for warning in result.get("Warnings") or ():
        cli.err.write(f"WARNING: {warning}\n")
    container_id = result.get("Id")
    if not container_id:
        raise CommandError("the daemon did not return the new container's id", EXIT_DOCKER)
    return container_id


def pull_image(cli: Cli, image: str) -> None:
    """`docker pull IMAGE` with the progress on stderr, as `docker run` does for a missing image."""
    from ... import reference
    from ..authconfig import header_for
    from ..progress import display

    repo, sep, tag = image.partition("@")  # NAME@sha256:...: the digest goes as the tag
    if not sep:
        repo, tag = reference.split_tag(image)
    query = {"fromImage": repo, "tag": tag or reference.DEFAULT_TAG}
    try:
        display(cli.client.stream("POST", "/images/create", query, headers=header_for(repo)), cli.err)
    except CommandError as e:
        raise CommandError(str(e), EXIT_DOCKER) from None


class CidFile:
    """`--cidfile FILE`: refused if FILE exists; holds the container id; removed again if left empty."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd: int | None = None

    def __enter__(self) -> CidFile:
        if not self.path:
            return self
        if os.path.lexists(self.path):
            raise CommandError(
                f"Container ID file found, make sure the other container isn't running or delete {self.path}",
                EXIT_DOCKER,
            )
        try:
            # O_EXCL: two `docker run --cidfile` racing for one file must not both think they own it.
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except OSError as e:
            raise CommandError(
                f"Failed to create the container ID file: {e.strerror or e}", EXIT_DOCKER
            ) from None
        return self

    def write(self, container_id: str) -> None:
        if self._fd is None:
            return
        try:
            os.write(self._fd, container_id.encode())
        except OSError as e:
            raise CommandError(
                f"Failed to write the container ID to the file: {e.strerror or e}", EXIT_DOCKER
            ) from None

    def __exit__(self, *exc_info: object) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        empty = os.fstat(fd).st_size == 0
        os.close(fd)
        if empty:
            try:
                os.unlink(self.path)
            except OSError:
                pass
