"""`docker cp CONTAINER:PATH HOSTPATH`: copy files out of a container into a host directory.

The daemon sends a tar archive of PATH; it is unpacked here by the same extractor that unpacks
image layers (archive.extract), so nothing is ever written outside HOSTPATH, whatever the archive
says: names with `..`, symlinks planted to redirect later members and hard links to files outside
are refused (the CVE-2007-4559 family, and the escapes Docker itself fixed as CVE-2014-6407), and
device nodes, setuid bits and file capabilities are dropped, as they have no business on the host.
"""

from __future__ import annotations

import os
import sys

from ..main import CommandError, UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import BinaryIO

_COPY_SIZE = 1 << 20


def flags(cli):
    return cli.flags(
        "cp",
        "CONTAINER:PATH HOSTPATH",
        "Copy files/folders from the containers filesystem to the host path.  Paths are relative to the "
        "root of the filesystem.",
    )


def run(cli, args: list[str]) -> int:
    fs = flags(cli)
    _, rest = cli.parse(fs, args, 2, 2)
    container, colon, resource = rest[0].partition(":")
    if not container:
        raise UsageError(fs)
    if not colon or not resource:
        raise CommandError("Path not specified")
    host_path = rest[1]
    if host_path == "-":
        if sys.stdout.isatty():
            raise CommandError("Cowardly refusing to write a tar archive to a terminal. Redirect the output.")
    elif os.path.lexists(host_path) and not os.path.isdir(host_path):
        raise CommandError(f"{host_path} exists and is not a directory")
    with cli.client.call("POST", f"/containers/{container}/copy", json_body={"Resource": resource}) as resp:
        if host_path == "-":
            sys.stdout.flush()
            for chunk in resp.iter_chunks(_COPY_SIZE):
                sys.stdout.buffer.write(chunk)
            sys.stdout.buffer.flush()
            return 0
        extract(resp, host_path, warn=lambda message: cli.err.write(f"Warning: {message}\n"))
    return 0


def extract(source: BinaryIO, dest: str, warn: Callable[[str], None] = lambda message: None) -> None:
    """Unpack the tar stream `source` (plain or compressed) into directory `dest`, created if missing.

    Stops with a CommandError at the first member that is corrupt or would escape `dest`.
    """
    if not sys.platform.startswith("linux"):
        return _extract_portable(source, dest, warn)
    from lxc_docker.archive.extract import extract as extract_archive
    from lxc_docker.errors import ArchiveError, DockerError

    os.makedirs(dest, exist_ok=True)

    def skipped(name: bytes) -> None:
        warn(f"{os.fsdecode(name)}: device files are not copied")

    try:
        extract_archive(
            source,
            dest,
            whiteouts="keep",
            same_owner=os.geteuid() == 0,
            host_safe=True,
            skipped=skipped,
        )
    except ArchiveError as e:
        raise CommandError(f"Refusing to extract the archive from the daemon into {dest}: {e}") from None
    except DockerError as e:  # the host's disk is full, or the like
        raise CommandError(str(e)) from None


def _extract_portable(source: BinaryIO, dest: str, warn: Callable[[str], None]) -> None:
    """macOS and Windows: the archive extractor's descriptor walks are Linux's (see cli/untar.py)."""
    import tarfile

    from ..untar import UnsafeArchive, extract

    os.makedirs(dest, exist_ok=True)
    try:
        extract(source, dest, warn)
    except (UnsafeArchive, tarfile.TarError) as e:
        raise CommandError(f"Refusing to extract the archive from the daemon into {dest}: {e}") from None
    except OSError as e:
        raise CommandError(f"{dest}: {e.strerror or e}") from None
