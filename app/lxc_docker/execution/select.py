"""Choose the execution driver named by `-e`; the only module that imports a concrete driver."""

from __future__ import annotations

from lxc_docker.errors import DriverNotSupported
from lxc_docker.execution.base import ExecDriver

NAMES = ("native",)


def new_driver(
    name: str = "native", cgroup_parent: str = "docker", state_dir: str | None = None
) -> ExecDriver:
    """The driver `name`, whose containers' cgroups live under `cgroup_parent` unless a Command says
    otherwise and whose state (the native driver's keeper socket) lives in `state_dir`;
    DriverNotSupported for a driver this program does not have."""
    if name == "native":
        from lxc_docker.execution.native.driver import NativeDriver

        return NativeDriver(cgroup_parent=cgroup_parent, state_dir=state_dir)
    raise DriverNotSupported(f"execution driver {name!r} is not supported (choose from: {', '.join(NAMES)})")
