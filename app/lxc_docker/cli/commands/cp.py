"""`docker cp CONTAINER:PATH HOSTPATH`: copy files out of a container into a host directory.

The daemon sends a tar archive of PATH; it is unpacked here with our own checks (Debian 12's Python
3.11.2 predates tarfile's extraction filters): nothing is ever written outside HOSTPATH, whatever
the archive says. Names with `..`, symlinks planted to redirect later members, hard links to files
outside, device nodes and setuid bits are all refused or dropped (the CVE-2007-4559 family, and the
symlink and hard link escapes Docker itself fixed as CVE-2014-6407).
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


class UnsafeArchive(CommandError):
    """A member would land outside the destination directory."""


def extract(source: BinaryIO, dest: str, warn: Callable[[str], None] = lambda message: None) -> None:
    """Unpack the tar stream `source` (plain or compressed) into directory `dest`, created if missing.

    Raises UnsafeArchive, and stops there, at the first member that would escape `dest`.
    """
    import tarfile

    os.makedirs(dest, exist_ok=True)
    root = os.path.realpath(dest)
    owner = os.geteuid() == 0
    directories: list[tuple[str, tarfile.TarInfo]] = []
    try:
        with tarfile.open(fileobj=source, mode="r|*") as tar:
            for member in tar:
                parts = _member_parts(member.name, dest)
                if not parts:
                    continue  # "./": the destination itself
                parent = _parent(root, parts[:-1], member.name, dest)
                target = os.path.join(parent, parts[-1])
                if member.isdir():
                    if not _is_real_dir(target):
                        _clear(target)
                        os.mkdir(target, 0o700)
                    directories.append((target, member))
                    continue
                if member.isreg():
                    _clear(target)
                    _write_file(target, tar.extractfile(member), member, owner)
                elif member.issym():
                    _clear(target)
                    # The link itself is kept as the container had it (absolute targets included):
                    # it is never followed here, since every later member's path is resolved first.
                    os.symlink(member.linkname, target)
                    if owner:
                        os.lchown(target, member.uid, member.gid)
                elif member.islnk():
                    source_path = _link_source(root, member, dest)
                    _clear(target)
                    os.link(source_path, target, follow_symlinks=False)
                    continue
                elif member.isfifo():
                    _clear(target)
                    os.mkfifo(target, member.mode & 0o777)
                else:
                    warn(f"{member.name}: device files are not copied")
                    continue
                os.utime(target, (member.mtime, member.mtime), follow_symlinks=False)
    except tarfile.TarError as e:
        raise CommandError(f"Invalid archive from the daemon: {e}") from None
    # Modes and times of directories last: a read-only directory must still take its members.
    for path, member in reversed(directories):
        if owner:
            os.lchown(path, member.uid, member.gid)
        os.chmod(path, member.mode & 0o777)
        os.utime(path, (member.mtime, member.mtime))


def _member_parts(name: str, dest: str) -> list[str]:
    # A leading "/" is dropped as GNU tar does; ".." is refused outright rather than resolved.
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise UnsafeArchive(f"Refusing to extract {name!r}: it would be written outside {dest}")
    return parts


def _within(root: str, path: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _parent(root: str, parts: list[str], name: str, dest: str) -> str:
    """The member's directory, resolved through any symlinks, checked to be inside root, created."""
    real = os.path.realpath(os.path.join(root, *parts))
    if not _within(root, real):
        raise UnsafeArchive(f"Refusing to extract {name!r}: it would be written outside {dest}")
    os.makedirs(real, exist_ok=True)
    return real


def _is_real_dir(path: str) -> bool:
    return os.path.isdir(path) and not os.path.islink(path)


def _clear(target: str) -> None:
    """Make room for a new member: an old file or symlink goes (never followed), a directory stays."""
    if _is_real_dir(target):
        raise CommandError(f"Cannot overwrite directory {target} with a non-directory")
    if os.path.lexists(target):
        os.unlink(target)


def _write_file(target: str, data: BinaryIO | None, member, owner: bool) -> None:
    # O_EXCL | O_NOFOLLOW: the path was just cleared, so anything there now is an attack; fail.
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    with open(fd, "wb") as f:
        if data is not None:
            while chunk := data.read(_COPY_SIZE):
                f.write(chunk)
        if owner:
            os.fchown(fd, member.uid, member.gid)
        # Permission bits only: setuid/setgid files from a container have no business on the host.
        os.fchmod(fd, member.mode & 0o777)


def _link_source(root: str, member, dest: str) -> str:
    parts = _member_parts(member.linkname, dest)
    source = os.path.realpath(os.path.join(root, *parts))
    if not parts or not _within(root, source):
        raise UnsafeArchive(
            f"Refusing to extract {member.name!r}: its hard link target {member.linkname!r} is outside {dest}"
        )
    if not os.path.isfile(source):
        raise CommandError(f"Cannot extract {member.name!r}: hard link target {member.linkname!r} not found")
    return source
