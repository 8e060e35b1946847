"""Runs our `docker` client as if on Windows or macOS (issue 14): Linux-only modules refused at import,
POSIX-only functions and constants removed, /proc and /sys unreadable, and `sys.platform` set to
"win32" or "darwin" for the client's own code.

Standard-library modules that look at sys.platform while they load (ssl, subprocess, tarfile...)
are imported first, with the real value: on a real Windows they load their Windows half, which we
cannot have here. What the harness checks is our code: that it imports nothing and calls nothing the
other system lacks, and takes its own Windows or macOS branches.
"""

from __future__ import annotations

import subprocess
import sys

from lib.daemon import our_env

BOOT = r"""
import sys
platform = sys.argv.pop(1)
import _signal, _socket, builtins, io, os, select, signal
import codecs, json, queue, shutil, ssl, socket, stat, struct, subprocess, tarfile, tempfile
import threading, time, zlib, bz2, lzma, ctypes

# Modules a Windows Python lacks; a macOS one has termios, tty, pty, fcntl, resource, grp and pwd.
REFUSED = {"_posixshmem", "spwd", "crypt", "ossaudiodev", "nis"}
if platform == "win32":
    REFUSED |= {"termios", "tty", "pty", "fcntl", "resource", "grp", "pwd", "posix", "_posixsubprocess",
                "syslog", "readline", "_curses", "curses"}

class Refuse:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in REFUSED:
            raise ModuleNotFoundError(f"No module named {name!r} (refused: not on {platform})", name=name)
        return None

sys.meta_path.insert(0, Refuse())
for name in list(sys.modules):
    if name.split(".")[0] in REFUSED:
        del sys.modules[name]

# Linux-only everywhere else: epoll, the Linux file and process calls, extended attributes.
GONE = {
    os: ["sched_getaffinity", "sched_setaffinity", "memfd_create", "eventfd", "pidfd_open", "splice",
         "copy_file_range", "getxattr", "setxattr", "listxattr", "removexattr", "O_PATH", "O_TMPFILE",
         "unshare", "setns", "posix_fadvise", "pipe2"],
    select: ["epoll", "EPOLLIN", "EPOLLOUT"],
}
if platform == "win32":
    GONE[os] += ["getuid", "geteuid", "getgid", "getegid", "getgroups", "fork", "setsid", "getpgrp",
                 "killpg", "mkfifo", "mknod", "major", "minor", "makedev", "O_NOFOLLOW", "O_DIRECTORY",
                 "O_CLOEXEC", "O_NONBLOCK", "uname", "statvfs", "chown", "lchown", "fchown", "sync",
                 "sendfile", "set_blocking", "get_blocking", "getpgid", "setpgid", "wait", "waitpid",
                 "WNOHANG", "openpty", "ttyname", "getloadavg", "sysconf", "pathconf", "fpathconf"]
    GONE[select] += ["poll", "POLLIN", "POLLOUT"]
    GONE[_socket] = ["AF_UNIX", "SO_PEERCRED", "MSG_NOSIGNAL"]
    windows_lacks = ["SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGALRM", "SIGWINCH", "SIGCHLD",
                     "SIGPIPE", "SIGKILL", "SIGSTOP", "SIGCONT", "SIGTSTP", "SIGTTIN", "SIGTTOU"]
    GONE[_signal] = list(windows_lacks)
    GONE[signal] = list(windows_lacks)
for module, names in GONE.items():
    for name in names:
        if hasattr(module, name):
            delattr(module, name)

# Neither system has /proc or /sys.
def _refuse_linux_paths(fn):
    def guarded(path, *args, **kwargs):
        text = os.fsdecode(path) if isinstance(path, (str, bytes)) else ""
        if text.startswith(("/proc", "/sys")):
            raise FileNotFoundError(2, f"No such file or directory (not on {platform})", text)
        return fn(path, *args, **kwargs)
    return guarded

builtins.open = io.open = _refuse_linux_paths(io.open)
for name in ("open", "listdir", "scandir", "stat", "lstat", "readlink"):
    setattr(os, name, _refuse_linux_paths(getattr(os, name)))

sys.platform = platform
from lxc_docker.main import main
sys.exit(main(sys.argv[1:]))
"""


def foreign_cmd(platform: str) -> list[str]:
    """The command line that runs our client as on `platform` ("win32" or "darwin"); add its args."""
    return [sys.executable, "-c", BOOT, platform]


def run_foreign(
    platform: str,
    host: str,
    *args: str,
    input: bytes | None = None,
    timeout: float = 60,
    env: dict[str, str] | None = None,
    cwd: str | None = None,
) -> subprocess.CompletedProcess:
    """Run `docker args...` as on `platform` against DOCKER_HOST=host; stdout and stderr captured."""
    extra = {"DOCKER_HOST": host, **(env or {})}
    return subprocess.run(
        [*foreign_cmd(platform), *args],
        input=input,
        capture_output=True,
        timeout=timeout,
        env=our_env(extra),
        cwd=cwd,
    )
