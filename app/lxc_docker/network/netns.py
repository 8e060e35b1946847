"""Run a function inside another process's network namespace, on a short-lived thread.

setns(2) with CLONE_NEWNET changes only the calling thread's namespace, so a throwaway thread can
enter a container's namespace, configure it through its own netlink socket and end, while the
daemon's other threads never leave the host namespace.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import TypeVar

from ..sysutil.syscalls import CLONE_NEWNET, setns

T = TypeVar("T")


def netns_path(pid: int) -> str:
    return f"/proc/{pid}/ns/net"


def run_in_netns(pid: int, fn: Callable[[], T], timeout: float = 30.0) -> T:
    """Call `fn()` inside the network namespace of process `pid`; returns its result or re-raises."""
    target = os.open(netns_path(pid), os.O_RDONLY | os.O_CLOEXEC)
    result: list[T] = []
    failure: list[BaseException] = []

    def body() -> None:
        home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        try:
            setns(target, CLONE_NEWNET)
            try:
                result.append(fn())
            finally:
                # Go home before the thread ends: Python may run more code on this OS thread
                # (thread-local destructors, finalizers) and it must see the host namespace.
                setns(home, CLONE_NEWNET)
        except BaseException as e:
            failure.append(e)
        finally:
            os.close(home)

    try:
        thread = threading.Thread(target=body, name=f"netns-{pid}", daemon=True)
        thread.start()
        thread.join(timeout)
        if thread.is_alive():
            raise TimeoutError(f"configuring the network namespace of process {pid} took over {timeout:.0f}s")
    finally:
        os.close(target)
    if failure:
        raise failure[0]
    return result[0]
