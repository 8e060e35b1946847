"""Exit statuses of processes that are not our children, from the kernel's process events connector
(netlink, CONFIG_PROC_EVENTS).

Under `lxc-start -F` the container's PID 1 is a child of lxc-start, which reaps it and exits 0
whatever the status was; LXC hands the status to no hook either. The kernel broadcasts every exec
and exit, with the waitpid(2) status, to listeners of the connector's process group (root only):
the daemon learns PID 1's exec (the container's command runs) and its exit code, even for a container
an earlier daemon started. The event is sent before the process becomes a zombie, so it is queued
here before lxc-start can reap it and exit.

Events for other processes are dropped as they are read; the socket's buffer is large, and a
dropped batch (ENOBUFS) only makes a status unknown (the caller then reports -1, as for a ghost).
"""

from __future__ import annotations

import logging
import os
import socket
import struct
import threading
import time

log = logging.getLogger(__name__)

NETLINK_CONNECTOR = 11
CN_IDX_PROC = 1
CN_VAL_PROC = 1
PROC_CN_MCAST_LISTEN = 1
PROC_EVENT_EXEC = 0x00000002
PROC_EVENT_EXIT = 0x80000000
NLMSG_DONE = 3

_NLMSG = struct.Struct("=IHHII")  # len, type, flags, seq, pid
_CN_MSG = struct.Struct("=IIIIHH")  # idx, val, seq, ack, len, flags
_EVENT = struct.Struct("=IIQ")  # what, cpu, timestamp_ns
_PIDS = struct.Struct("=ii")  # process_pid, process_tgid
_EXIT = struct.Struct("=iiII")  # process_pid, process_tgid, exit_code, exit_signal


def exit_code(status: int) -> int:
    """The shell's convention for a waitpid(2) status: N, or 128+signal."""
    if status & 0x7F:
        return 128 + (status & 0x7F)
    return (status >> 8) & 0xFF


class _Watch:
    __slots__ = ("since", "execed", "exited", "status")

    def __init__(self) -> None:
        # The kernel stamps events with CLOCK_MONOTONIC: one still queued from an earlier process
        # that had this pid (before it was recycled) is older than the watch, and ignored.
        self.since = time.monotonic_ns()
        self.execed = False
        self.exited = False
        self.status = 0


class ProcEvents:
    """One listening socket and one reader thread; `watch(pid)` before the event can happen."""

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_CONNECTOR)
        try:
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
            self._sock.bind((0, CN_IDX_PROC))
            payload = struct.pack("=I", PROC_CN_MCAST_LISTEN)
            cn = _CN_MSG.pack(CN_IDX_PROC, CN_VAL_PROC, 0, 0, len(payload), 0)
            msg = cn + payload
            self._sock.send(_NLMSG.pack(_NLMSG.size + len(msg), NLMSG_DONE, 0, 0, os.getpid()) + msg)
        except OSError:
            self._sock.close()
            raise
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._watches: dict[int, _Watch] = {}
        self._thread = threading.Thread(target=self._read, name="lxc-procevents", daemon=True)
        self._thread.start()

    def watch(self, pid: int) -> None:
        with self._lock:
            self._watches.setdefault(pid, _Watch())

    def forget(self, pid: int) -> None:
        with self._lock:
            self._watches.pop(pid, None)

    def wait_exec_or_exit(self, pid: int, timeout: float) -> bool:
        """Whether watched `pid` exec'd or exited (False: neither within `timeout`)."""
        with self._changed:
            w = self._watches.get(pid)
            return w is not None and self._changed.wait_for(lambda: w.execed or w.exited, timeout)

    def execed(self, pid: int) -> bool:
        with self._lock:
            w = self._watches.get(pid)
            return bool(w and w.execed)

    def exit_code(self, pid: int, timeout: float) -> int | None:
        """The exit code of watched `pid` once it has exited, or None if the event never came."""
        with self._changed:
            w = self._watches.get(pid)
            if w is None or not self._changed.wait_for(lambda: w.exited, timeout):
                return None
            return exit_code(w.status)

    def _read(self) -> None:
        while True:
            try:
                data = self._sock.recv(1 << 16)
            except OSError as e:
                # ENOBUFS: events were dropped; anything else is fatal for this listener.
                if e.errno == 105:
                    log.warning("process events were dropped: an exit status may be unknown")
                    continue
                log.warning("process events listener stopped: %s", e)
                return
            self._dispatch(data)

    def _dispatch(self, data: bytes) -> None:
        offset = 0
        while offset + _NLMSG.size <= len(data):
            length = _NLMSG.unpack_from(data, offset)[0]
            if length < _NLMSG.size:
                return
            body = offset + _NLMSG.size + _CN_MSG.size
            if body + _EVENT.size + _PIDS.size <= offset + length:
                what, _, stamp = _EVENT.unpack_from(data, body)
                at = body + _EVENT.size
                if what == PROC_EVENT_EXIT:
                    pid, tgid, status, _ = _EXIT.unpack_from(data, at)
                    if pid == tgid:
                        self._note(pid, stamp, exited=True, status=status)
                elif what == PROC_EVENT_EXEC:
                    pid, tgid = _PIDS.unpack_from(data, at)
                    if pid == tgid:
                        self._note(pid, stamp, exited=False, status=0)
            offset += (length + 3) & ~3

    def _note(self, pid: int, stamp: int, exited: bool, status: int) -> None:
        with self._changed:
            w = self._watches.get(pid)
            if w is None or stamp < w.since:
                return
            if exited:
                w.status, w.exited = status, True
            else:
                w.execed = True
            self._changed.notify_all()
