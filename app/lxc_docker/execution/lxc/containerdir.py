"""A container's directory under the lxc driver, `<graph root>/execdriver/lxc/<id>`: what the daemon
writes there before `lxc-start` (the config, the `start-host` hook and its two fifos, the seccomp
profile, a privileged container's devices hook) and what it reads back (LXC's log, whose first error
is the start failure users see).
"""

from __future__ import annotations

import os
import shlex
import shutil

from lxc_docker.execution.base import Command, ContainerStartError, Stdio
from lxc_docker.execution.lxc import config as lxcconf
from lxc_docker.execution.lxc import seccomp as lxcseccomp
from lxc_docker.execution.lxc.prepare import prepare
from lxc_docker.execution.native.lookpath import NOT_EXECUTABLE, NOT_FOUND
from lxc_docker.sysutil import atomic

PID_FIFO = "pid.fifo"  # the hook writes PID 1's host pid here
GO_FIFO = "go.fifo"  # and reads the daemon's "go" (or "stop") from here
LOG = "lxc.log"

# Runs on the host (LXC gives it LXC_PID, PID 1's host pid). If the daemon dies before the hook opens
# a fifo, the open would wait for it forever: `timeout` ends the hook, and LXC then stops the start.
# If it dies later, its ends of the fifos close: the read gets EOF and the start fails likewise.
_HOOK = """#!/bin/sh
timeout {limit} sh -c 'printf "%s\\n" "$LXC_PID" > "$1"' hook {pid} || exit 1
answer=$(timeout {limit} head -n 1 {go}) || exit 1
[ "$answer" = go ]
"""


# A privileged container's /dev gets every device node of the host's (the native driver copies them
# too). Runs in the container's mount namespace before pivot_root, where the host's /dev is still
# visible; -xdev leaves out devpts, shm and mqueue, tar -k the nodes LXC made already.
_DEVICES_HOOK = """#!/bin/sh
cd /dev || exit 0
find . -xdev \\( -type c -o -type b \\) ! -name console ! -name tty ! -name ptmx |
    tar -cf - --no-recursion -T - 2>/dev/null | tar -xkf - -C "$LXC_ROOTFS_MOUNT/dev" 2>/dev/null
exit 0
"""


def console(command: Command, stdio: Stdio) -> str:
    """The pty slave's path in the daemon's namespace, for a `-t` container; LXC binds it before the
    container's devpts hides the host's. `tty` in the container then names /dev/console, as with the
    native driver."""
    if not command.tty:
        return ""
    try:
        path = os.readlink(f"/proc/self/fd/{stdio.stdout}")
    except OSError:
        return ""
    return path if path.startswith("/dev/pts/") else ""


def write_files(
    command: Command, directory: str, host: lxcconf.HostFacts, console_path: str, hook_limit: int
) -> None:
    """Make `directory` anew with everything `lxc-start` reads for `command`; the hook gives up after
    `hook_limit` seconds without the daemon."""
    init = prepare(command)
    init.console = console_path
    shutil.rmtree(directory, ignore_errors=True)  # left by a crash: everything is made anew
    os.makedirs(directory, mode=0o700)
    for name in (PID_FIFO, GO_FIFO):
        os.mkfifo(os.path.join(directory, name), 0o600)
    hook = os.path.join(directory, "start-host")
    text = _HOOK.format(
        limit=hook_limit,
        pid=shlex.quote(os.path.join(directory, PID_FIFO)),
        go=shlex.quote(os.path.join(directory, GO_FIFO)),
    )
    atomic.write_bytes(hook, text.encode(), 0o700)
    profile = lxcseccomp.profile_text(command)
    seccomp_path = ""
    if profile is not None:
        seccomp_path = os.path.join(directory, "seccomp")
        atomic.write_bytes(seccomp_path, profile.encode(), 0o600)
    devices_hook = ""
    if command.privileged:
        devices_hook = os.path.join(directory, "autodev")
        atomic.write_bytes(devices_hook, _DEVICES_HOOK.encode(), 0o700)
    entries = lxcconf.generate(command, host, init, hook, seccomp_path, devices_hook)
    entries = lxcconf.apply_overrides(entries, command.lxc_conf)
    atomic.write_bytes(os.path.join(directory, "config"), lxcconf.render(entries).encode(), 0o600)


def lxc_error(log_path: str) -> str:
    """LXC's own message from its log: the first ERROR line, without its source location."""
    try:
        with open(log_path, errors="replace") as f:
            lines = [line.rstrip("\n") for line in f if " ERROR " in line]
    except OSError:
        lines = []
    if not lines:
        return ""
    # "lxc-start <name> <time> ERROR    confile - ../src/lxc/confile.c:func:164 - <message>"
    parts = lines[0].split(" - ", 2)
    return parts[2] if len(parts) == 3 else lines[0]


def start_failure(message: str, entrypoint: str) -> ContainerStartError:
    """The start failure for LXC's `message`: a failed exec in the native driver's wording and exit
    codes (127, 126), anything else as lxc-start's (1)."""
    if "Failed to exec" in message:
        # "<strerror> - Failed to exec "<program>"".
        reason = message.split(" - ", 1)[0]
        code = NOT_FOUND if reason.startswith("No such file") else NOT_EXECUTABLE
        return ContainerStartError(f'exec: "{entrypoint}": {reason[:1].lower()}{reason[1:]}', code)
    return ContainerStartError(f"lxc-start: {message or 'the container failed to start'}", 1)


def failure_from_log(directory: str, entrypoint: str) -> ContainerStartError:
    """The start failure LXC's log in `directory` tells of."""
    return start_failure(lxc_error(os.path.join(directory, LOG)), entrypoint)
