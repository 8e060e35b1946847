"""Choose the execution driver named by `-e`; the only module that imports a concrete driver."""

from __future__ import annotations

from lxc_docker.errors import DriverNotSupported
from lxc_docker.execution.base import ExecDriver

NAMES = ("native", "oci")


def new_driver(
    name: str = "native",
    cgroup_parent: str = "docker",
    state_dir: str | None = None,
    oci_runtime: str = "runc",
) -> ExecDriver:
    """The driver `name`, whose containers' cgroups live under `cgroup_parent` unless a Command says
    otherwise; DriverNotSupported for a driver this program does not have. `state_dir` is the
    daemon's root (the oci driver keeps its bundles and the runtime's state there), `oci_runtime`
    the runtime of `-e oci`."""
    if name == "native":
        from lxc_docker.execution.native.driver import NativeDriver

        return NativeDriver(cgroup_parent=cgroup_parent)
    if name == "oci":
        from lxc_docker.execution.oci.driver import OciDriver

        return OciDriver(state_dir or "", oci_runtime, cgroup_parent=cgroup_parent)
    raise DriverNotSupported(f"execution driver {name!r} is not supported (choose from: {', '.join(NAMES)})")
