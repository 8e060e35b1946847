"""PyInstaller run-time hook: hands systemd's activated sockets to the daemon of the one-file binary.

A one-file binary starts as a small launcher that unpacks the program and runs it as its child. systemd
sets LISTEN_PID to the launcher's pid, so `docker -d -H fd://` in the child would find the sockets "not
for this process" (sd_listen_fds' rule) and fail. When LISTEN_PID names our parent and that parent is
this same executable, the sockets were meant for us: say so. The launcher itself never reads them.
"""

import os
import sys


def _adopt_activated_sockets() -> None:
    listen_pid = os.environ.get("LISTEN_PID")
    parent = os.getppid()
    if not listen_pid or listen_pid != str(parent) or not getattr(sys, "frozen", False):
        return
    try:
        same_program = os.path.samefile(f"/proc/{parent}/exe", sys.executable)
    except OSError:
        return
    if same_program:
        os.environ["LISTEN_PID"] = str(os.getpid())


_adopt_activated_sockets()
