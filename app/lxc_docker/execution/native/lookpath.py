"""Find the container's program as Go's exec.LookPath does, so that errors read like Docker's:
`exec: "nosuchcmd": executable file not found in $PATH`.
"""

from __future__ import annotations

import os
import stat

# What Docker uses when the container's environment has no PATH.
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

NOT_FOUND = 127  # the shell's "command not found", as Docker reports it
NOT_EXECUTABLE = 126  # the shell's "found but can't run"


class ExecError(Exception):
    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def _check(path: str) -> None:
    st = os.stat(path)
    if stat.S_ISDIR(st.st_mode) or not st.st_mode & 0o111:
        raise PermissionError(13, "permission denied", path)


def look_path(file: str, path_env: str | None) -> str:
    """The path to execute for `file`: itself when it contains a slash, else the first executable
    regular file named `file` in the directories of `path_env`."""
    if "/" in file:
        try:
            _check(file)
        except FileNotFoundError:
            raise ExecError(f'exec: "{file}": stat {file}: no such file or directory', NOT_FOUND)
        except PermissionError:
            raise ExecError(f'exec: "{file}": permission denied', NOT_EXECUTABLE)
        except OSError as e:
            raise ExecError(f'exec: "{file}": stat {file}: {describe(e)}', NOT_FOUND)
        return file
    if file:
        for directory in (DEFAULT_PATH if path_env is None else path_env).split(":"):
            candidate = os.path.join(directory or ".", file)
            try:
                _check(candidate)
            except OSError:
                continue
            return candidate
    raise ExecError(f'exec: "{file}": executable file not found in $PATH', NOT_FOUND)


def exec_failure(file: str, error: OSError) -> ExecError:
    """The error for an execve(2) that failed although look_path found the file."""
    # ENOENT here means a missing interpreter or loader (a "#!" line pointing nowhere).
    code = NOT_FOUND if error.errno == 2 else NOT_EXECUTABLE
    return ExecError(f'exec: "{file}": {describe(error)}', code)


def describe(error: OSError) -> str:
    """Go's wording of an errno: the C library's message with a lowercase first letter."""
    text = error.strerror or str(error)
    return text[:1].lower() + text[1:]


def path_of(env: list[str]) -> str | None:
    """The PATH of a "KEY=VALUE" environment list, or None when it has none."""
    for item in env:
        if item.startswith("PATH="):
            return item[5:]
    return None
