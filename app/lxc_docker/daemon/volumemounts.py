"""What a volume does to a container's root and to itself when it is made: mount points in the
layers (made through safepath, as the image is untrusted) and the copy of the image's content at the
volume's path into a volume (Docker copies it into a new anonymous volume and into an empty named one).
"""

from __future__ import annotations

import errno
import os
import stat
import subprocess

from ..archive import safepath
from ..errors import InvalidParameter, SystemError_


def fill_from_image(image_root: str, dest: str, data: str) -> None:
    """Copy what the image has at `dest` into the volume directory `data`, with its owner and mode.

    `dest` is found in `image_root` through safepath's descriptor walk (the image may link its
    parents anywhere) and copied from that descriptor, never by a path joined under the root.
    Nothing at `dest` in the image leaves `data` as it is.
    """
    try:
        src_fd = safepath.open_dir(image_root, dest)
    except FileNotFoundError:
        return
    except OSError as e:
        if e.errno not in (errno.ENOTDIR, errno.ELOOP):
            raise
        what = "it is a file in the image" if e.errno == errno.ENOTDIR else e.strerror
        raise InvalidParameter(f"Cannot mount a volume on {dest}: {what}") from None
    try:
        st = os.fstat(src_fd)
        if os.listdir(src_fd):
            copy_contents(src_fd, data)
        os.chown(data, st.st_uid, st.st_gid)
        os.chmod(data, stat.S_IMODE(st.st_mode))
    finally:
        os.close(src_fd)


def make_mountpoints(root: str, entries: dict[str, tuple[str, bool]], times_from: str | None = None) -> None:
    """Create each mount point in `root`: a directory, or an empty file for a bind of a file.

    The image is untrusted (a parent of a mount point may be a symlink to a host directory): every
    entry is reached through safepath's descriptor walk, symlinks followed inside `root`.
    With `times_from` (the init layer, where the same mount points were made a moment before), each
    mount point and its parents take that layer's times: `docker diff` compares mtimes, and must not
    show a mount point as changed in a layer the storage driver copied (vfs).
    """
    root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for dest in sorted(entries):
            source = entries[dest][0]
            is_dir = os.path.isdir(source)  # the volume's own path (the daemon's, or a bind's)
            try:
                try:
                    st = safepath.lstat(root_fd, dest, follow=True)
                except FileNotFoundError:
                    st = None
                if st is None and is_dir:
                    os.close(safepath.make_dirs(root_fd, dest)[0])
                elif st is None:
                    safepath.make_file(root_fd, dest)
            except OSError as e:
                if e.errno not in (errno.ENOTDIR, errno.ELOOP):
                    raise
                # Named as the container sees it: never the host path of the layer.
                raise InvalidParameter(f"Cannot mount a volume on {dest}: {e.strerror}") from None
            if st is None:
                continue
            if stat.S_ISDIR(st.st_mode) != is_dir:
                # Not naming `source`: a volume's source is a path of the daemon's on the host.
                what = "directory" if is_dir else "file"
                raise InvalidParameter(
                    f"Cannot mount a {what} on {dest}: the image has a "
                    f"{'file' if is_dir else 'directory'} there"
                )
        if times_from is not None:
            _copy_times(root_fd, times_from, entries)
    finally:
        os.close(root_fd)


def _copy_times(root_fd: int, times_from: str, entries: dict[str, tuple[str, bool]]) -> None:
    from_fd = os.open(times_from, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for dest in sorted(entries):
            parts = dest.strip("/").split("/")
            for depth in range(1, len(parts) + 1):
                path = "/" + "/".join(parts[:depth])
                try:
                    st = safepath.lstat(from_fd, path, follow=True)
                    found = safepath.open_parent(root_fd, path)
                except (FileNotFoundError, NotADirectoryError):
                    continue
                try:
                    name = found.name or b"."
                    own = os.stat(name, dir_fd=found.dir_fd, follow_symlinks=False)
                    # Only where they differ: through an overlay mount, touching it copies it up.
                    if own.st_mtime_ns != st.st_mtime_ns:
                        times = (st.st_atime_ns, st.st_mtime_ns)
                        os.utime(name, ns=times, dir_fd=found.dir_fd, follow_symlinks=False)
                finally:
                    os.close(found.dir_fd)
    finally:
        os.close(from_fd)


def copy_contents(source_fd: int, dest: str) -> None:
    # cp -a keeps owners, modes, hard links, xattrs and device nodes; symlinks are copied, not
    # followed, so an image's link to / can't pull the host's files into the volume. The source
    # is the directory safepath opened, handed to cp as /proc/self/fd/N (its own descriptor).
    source = f"/proc/self/fd/{source_fd}"
    result = subprocess.run(
        ["cp", "-a", "--reflink=auto", "--", source + "/.", dest + "/"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        check=False,
        pass_fds=(source_fd,),
    )
    if result.returncode != 0:
        raise SystemError_(
            f"copying the image's content into a new volume failed: "
            f"{result.stderr.decode(errors='replace').strip()}"
        )
