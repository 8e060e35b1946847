"""What the native init does inside the container before its exec, done here on the host in the
container's root filesystem, because LXC's init is the user's own program (no helper of ours runs in
the container): resolve the user in the image's /etc files, find the program as Go's exec.LookPath
would (so the errors and exit codes 127/126 read as with the native driver), make the working
directory and the mount targets.

Every path under the rootfs is opened through archive.safepath (one component at a time, symlinks
resolved as in a chroot): the image is untrusted. Mount targets are handed to LXC already resolved,
so LXC's own walk meets no symlink of the image's.
"""

from __future__ import annotations

import os
import stat

from lxc_docker.archive import safepath
from lxc_docker.execution.base import Command, ContainerStartError
from lxc_docker.execution.lxc.config import Init
from lxc_docker.execution.native import user as users
from lxc_docker.execution.native.lookpath import DEFAULT_PATH, NOT_EXECUTABLE, NOT_FOUND, path_of

_ACCOUNT_FILE_LIMIT = 4 << 20


def _read_account_file(root: str, path: str) -> str:
    """The text of /etc/passwd or /etc/group in the image, or "" (a fifo or device is never read)."""
    try:
        fd = safepath.open_file(root, path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return ""
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return ""
        return os.read(fd, _ACCOUNT_FILE_LIMIT).decode("utf-8", "replace")
    finally:
        os.close(fd)


def _describe(error: OSError) -> str:
    text = error.strerror or str(error)
    return text[:1].lower() + text[1:]


def _probe(root: str, path: str) -> None:
    """Raise OSError unless `path` (in the root) is an executable regular file that execve(2) can
    start: ENOENT for a missing file or a missing "#!" interpreter, EACCES, ENOEXEC."""
    st = safepath.lstat(root, path, follow=True)
    if stat.S_ISDIR(st.st_mode) or not st.st_mode & 0o111 or not stat.S_ISREG(st.st_mode):
        raise PermissionError(13, "Permission denied", path)
    fd = safepath.open_file(root, path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        head = os.read(fd, 256)
    finally:
        os.close(fd)
    if head.startswith(b"#!"):
        interpreter = head[2:].split(b"\n", 1)[0].strip().split()
        if not interpreter:
            raise OSError(8, "Exec format error", path)
        st = safepath.lstat(root, os.fsdecode(interpreter[0]), follow=True)  # FileNotFoundError: 127
        return
    if not head.startswith(b"\x7fELF"):
        # execve(2) says ENOEXEC; LXC's execvp would instead run the file with /bin/sh.
        raise OSError(8, "Exec format error", path)


def look_path(root: str, file: str, env: list[str], cwd: str) -> None:
    """Check that `file` would start in the container, with the native driver's messages."""
    if "/" in file:
        try:
            _probe(root, file if file.startswith("/") else os.path.join(cwd, file))
        except FileNotFoundError:
            raise ContainerStartError(f'exec: "{file}": stat {file}: no such file or directory', NOT_FOUND)
        except PermissionError:
            raise ContainerStartError(f'exec: "{file}": permission denied', NOT_EXECUTABLE)
        except OSError as e:
            raise ContainerStartError(f'exec: "{file}": {_describe(e)}', NOT_EXECUTABLE)
        return
    search = path_of(env)
    for directory in (DEFAULT_PATH if search is None else search).split(":"):
        candidate = os.path.join(directory or cwd, file)
        if not candidate.startswith("/"):
            candidate = os.path.join(cwd, candidate)
        try:
            st = safepath.lstat(root, candidate, follow=True)
        except OSError:
            continue
        if not stat.S_ISREG(st.st_mode) or not st.st_mode & 0o111:
            continue
        try:
            _probe(root, candidate)
        except FileNotFoundError:  # its "#!" interpreter is missing: execve says ENOENT
            raise ContainerStartError(f'exec: "{file}": no such file or directory', NOT_FOUND)
        except OSError as e:
            raise ContainerStartError(f'exec: "{file}": {_describe(e)}', NOT_EXECUTABLE)
        return
    raise ContainerStartError(f'exec: "{file}": executable file not found in $PATH', NOT_FOUND)


def _mount_target(root: str, source: str, destination: str) -> tuple[str, bool]:
    try:
        is_dir = stat.S_ISDIR(os.stat(source).st_mode)
    except OSError as e:
        # The container's path only: the source may be the daemon's own (a volume under its root).
        raise ContainerStartError(f"mounting {destination}: {e.strerror}", 1)
    try:
        if is_dir:
            os.close(safepath.make_dirs(root, destination)[0])
        else:
            safepath.make_file(root, destination)
    except OSError as e:
        raise ContainerStartError(f"creating mount point {destination}: {e.strerror}", 1)
    resolved = safepath.resolve_in_root(root, destination)
    return os.path.relpath(resolved, root), is_dir


def prepare(command: Command) -> Init:
    """The container's first process as LXC must start it; ContainerStartError (with the native
    driver's wording and exit code) when it cannot start."""
    root = os.path.realpath(command.rootfs)
    try:
        uid, gid, groups = users.resolve(
            command.user,
            _read_account_file(root, "/etc/passwd"),
            _read_account_file(root, "/etc/group"),
            command.group_add,
        )
    except users.UnknownUser as e:
        raise ContainerStartError(str(e), 1)
    mounts, propagation = [], {}
    for m in command.mounts:
        target, is_dir = _mount_target(root, m.source, m.destination)
        mounts.append((m.source, target, m.writable, is_dir))
        # LXC makes the container's tree a slave of the host's: without rprivate, a bind would go on
        # receiving the host's later mounts, where Docker's default lets nothing cross.
        if m.propagation or m.private:
            propagation[target] = m.propagation or "rprivate"
    workdir = os.path.normpath(command.workdir or "/")
    try:
        os.close(safepath.make_dirs(root, workdir, 0o755)[0])
    except OSError as e:
        raise ContainerStartError(f"Cannot use {workdir} as the working directory: {_describe(e)}", 1)
    look_path(root, command.entrypoint, command.env, workdir)
    return Init(uid=uid, gid=gid, groups=groups, cwd=workdir, mounts=mounts, propagation=propagation)
