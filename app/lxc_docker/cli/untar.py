"""`docker cp`'s extractor for hosts other than Linux (macOS, Windows), where the daemon's extractor
(`archive/extract.py`: directory descriptors, O_NOFOLLOW walks, `resource`) cannot run.

The archive comes from a daemon that reads a container's filesystem, so it is treated as hostile:
a member whose name is absolute or climbs with `..` stops the copy, as does one whose parent
directory resolves (through a symlink made earlier or already on the disk) outside the destination;
an existing symlink at a member's own path is replaced, never written through; hard links must point
at a member inside the destination; device nodes and FIFOs are skipped with a warning; only
permission bits are kept (no setuid, setgid or sticky bit, no owners). It uses tarfile from the
standard library, which reads every compression the daemon may send.
"""

from __future__ import annotations

import os
import shutil
import stat

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import BinaryIO


class UnsafeArchive(ValueError):
    """A member would land outside the destination directory."""


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _parts(name: str) -> list[str]:
    """The member name as path components; raises UnsafeArchive for absolute or climbing names."""
    name = name.replace("\\", "/")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise UnsafeArchive(f"{name}: absolute path in the archive")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise UnsafeArchive(f"{name}: path climbs out of the destination")
    return parts


def _place(root: str, parts: list[str]) -> str:
    """Where member `parts` goes, after checking that its parent resolves inside root."""
    parent = os.path.realpath(os.path.join(root, *parts[:-1]))
    if not _inside(parent, root):
        raise UnsafeArchive(f"{'/'.join(parts)}: a link in its path leads outside the destination")
    return os.path.join(parent, parts[-1])


def _clear(path: str) -> None:
    # Replace whatever is at the member's own path unless it is a directory (directories merge).
    if os.path.islink(path) or (os.path.lexists(path) and not os.path.isdir(path)):
        os.unlink(path)


def extract(source: BinaryIO, dest: str, warn: Callable[[str], None] = lambda message: None) -> None:
    """Unpack the tar stream `source` into directory `dest`; raise UnsafeArchive or OSError."""
    import tarfile

    root = os.path.realpath(dest)
    dir_modes: list[tuple[str, int]] = []
    with tarfile.open(fileobj=source, mode="r|*") as archive:
        for member in archive:
            parts = _parts(member.name)
            if not parts:
                continue  # the destination itself
            path = _place(root, parts)
            mode = stat.S_IMODE(member.mode) & 0o777
            if member.isdir():
                if not os.path.isdir(path) or os.path.islink(path):
                    _clear(path)
                    os.makedirs(path, exist_ok=True)
                dir_modes.append((path, mode))
            elif member.isreg():
                _clear(path)
                reader = archive.extractfile(member)
                with open(path, "wb") as out:
                    if reader is not None:
                        shutil.copyfileobj(reader, out, 1 << 20)
                os.chmod(path, mode)
            elif member.issym():
                _clear(path)
                try:
                    os.symlink(member.linkname, path)
                except OSError as e:  # Windows without the symlink privilege
                    warn(f"{member.name}: symbolic link not created ({e.strerror or e})")
            elif member.islnk():
                source_path = _place(root, _parts(member.linkname) or ["."])
                if not _inside(os.path.realpath(source_path), root) or not os.path.isfile(source_path):
                    raise UnsafeArchive(f"{member.name}: hard link to {member.linkname}, not in the archive")
                _clear(path)
                try:
                    os.link(source_path, path)
                except OSError:
                    shutil.copyfile(source_path, path)
            else:
                warn(f"{member.name}: device files are not copied")
            if not member.issym() and os.path.lexists(path):
                os.utime(path, (member.mtime, member.mtime))
    # Directory modes last: a read-only directory must still have received its files.
    for path, mode in reversed(dir_modes):
        os.chmod(path, mode)
