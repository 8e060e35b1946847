"""A controlling terminal for the PID 1 of a `-t` container under LXC.

LXC makes the container's init a session leader (setsid) but never gives it a controlling terminal:
its stdio are the daemon's pty slave (bound on /dev/console too), yet `tty_nr` is 0, `tty` names
/dev/console, a shell says "can't access tty; job control turned off" and ^C reaches no foreground
job. The native init does setsid + TIOCSCTTY before its exec; under LXC nothing of ours runs in
PID 1 before the user's program, and LXC has no key for it (`lxc.console.path` set to the slave
only puts LXC's own pty and a proxy in between, still without a controlling terminal).

What it takes, by the kernel's rule, is that the session leader opens a terminal without
O_NOCTTY: so, when the image has a /bin/sh, PID 1 starts as `/bin/sh -c <OPEN>` which opens
/dev/console (our pty slave) once, closes it again, and execs the user's program in its place.
Still one process: no extra PID 1 (as LXC's own init.lxc, lxc-execute's, would be), and the program
keeps PID 1's signal semantics. The program was looked up on the host already (prepare.py), so a
missing one fails the start with the same message and exit code as without the wrapper. An image
without /bin/sh (or a user who may not open the terminal) runs as before, without a controlling
terminal.
"""

from __future__ import annotations

import shlex
import stat

from lxc_docker.archive import safepath
from lxc_docker.execution.base import Command

SHELL = "/bin/sh"
# `exec` with only redirections applies them to the shell itself, PID 1: open, then close at once.
# [ -r ] && [ -w ] first, since a failed redirection of `exec` would end the shell.
OPEN = "[ -r /dev/console ] && [ -w /dev/console ] && exec 3<>/dev/console 3>&-"
# What a shell adds to the environment it hands on (ash, dash and bash export these two): put back as
# the container's environment had them, or removed.
_SHELL_VARIABLES = ("SHLVL", "PWD")


def _has_shell(rootfs: str) -> bool:
    try:
        st = safepath.lstat(rootfs, SHELL, follow=True)
    except OSError:
        return False
    return stat.S_ISREG(st.st_mode) and bool(st.st_mode & 0o111)


def argv(command: Command) -> list[str]:
    """The program LXC runs as PID 1: the container's command, behind the shell's open with a tty."""
    program = [command.entrypoint, *command.args]
    if not command.tty or not _has_shell(command.rootfs):
        return program
    return [SHELL, "-c", script(command.env), "sh", *program]


def script(env: list[str]) -> str:
    """The shell's script: open the terminal, restore the environment, exec the program ("$@")."""
    given = dict(entry.split("=", 1) for entry in env if "=" in entry)
    steps = [OPEN]
    for name in _SHELL_VARIABLES:
        if name in given:
            steps.append(f"export {name}={shlex.quote(given[name])}")
        else:
            steps.append(f"unset {name}")
    steps.append('exec "$@"')
    return "; ".join(steps)
