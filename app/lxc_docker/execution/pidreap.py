"""Kill a child of the daemon for good and reap it, through its pidfd: what every driver does with a
process it started (a container's PID 1, an exec'd program) when the start fails half-way.

Why a pidfd and not the pid: a pid is only a number, and once its process has died and been reaped
by anyone, the kernel may give it to an unrelated process; `kill(pid, SIGKILL)` would then kill that
one. A pidfd names one process for as long as it is open: the signal goes through it (a process that
has gone already is ESRCH, never someone else), and waiting on it (P_PIDFD) reaps exactly that process,
never another of the daemon's children, so no zombie is left in the daemon (a child subreaper) and no
other waiter's exit status is stolen, as waitpid(-1) would.
"""

from __future__ import annotations

import os
import signal


def kill_and_reap(pidfd: int) -> None:
    """SIGKILL the process `pidfd` names, wait for it to exit and reap it, then close `pidfd`.

    Blocks until it exits (SIGKILL cannot be caught; a process in uninterruptible sleep takes as long
    as the kernel does). A process that has exited already is only reaped; one that is not our child
    (ECHILD: its parent, or a waiter elsewhere, reaps it) is only signalled."""
    try:
        try:
            signal.pidfd_send_signal(pidfd, signal.SIGKILL)
        except ProcessLookupError:
            pass  # exited already: a zombie still to reap, or gone
        try:
            os.waitid(os.P_PIDFD, pidfd, os.WEXITED)
        except ChildProcessError:
            pass
    finally:
        os.close(pidfd)
