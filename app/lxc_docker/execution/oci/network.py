"""A Command's own network (execution/base.py's Network) for the OCI driver: the host-side veth end
moved into the container's namespace between the runtime's `create` and `start`, and configured
there as eth0. The daemon's networking does this itself through on_created; this is the driver's
side of the same contract, which the native driver's init fulfils from inside.
"""

from __future__ import annotations

import os
import subprocess
import threading
from dataclasses import asdict

from lxc_docker.execution.base import Command, ContainerStartError
from lxc_docker.execution.native import netconf as native_netconf
from lxc_docker.sysutil import syscalls


def configure_network(command: Command, pid: int) -> None:
    """A Command's own eth0 (execution/base.py's Network; the daemon's networking uses on_created
    instead): move the host-side veth end into PID 1's namespace and configure it there with the
    native driver's ioctls, from a thread that joins the namespace and returns before it ends."""
    network = asdict(command.network)
    moved = subprocess.run(
        ["ip", "link", "set", "dev", network["interface"], "netns", str(pid)], capture_output=True, text=True
    )
    if moved.returncode != 0:
        raise ContainerStartError(
            f"moving {network['interface']} into the container: {moved.stderr.strip()}", 1
        )
    target = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    failure: list[BaseException] = []

    def body() -> None:
        home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        try:
            syscalls.setns(target, syscalls.CLONE_NEWNET)
            try:
                native_netconf.configure(network)
            finally:
                syscalls.setns(home, syscalls.CLONE_NEWNET)
        except BaseException as e:
            failure.append(e)
        finally:
            os.close(home)

    try:
        thread = threading.Thread(target=body, name=f"oci-net-{pid}", daemon=True)
        thread.start()
        thread.join()
    finally:
        os.close(target)
    if failure:
        raise ContainerStartError(f"configuring eth0: {failure[0]}", 1)
