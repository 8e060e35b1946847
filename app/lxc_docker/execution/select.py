"""Choose the execution driver named by `-e`; the only module that imports a concrete driver."""

from __future__ import annotations

from typing import Any

from lxc_docker.errors import DriverNotSupported, InvalidParameter
from lxc_docker.execution.base import ExecDriver

NAMES = ("native", "lxc", "oci")


def new_driver(
    name: str = "native",
    cgroup_parent: str = "docker",
    state_dir: str | None = None,
    oci_runtime: str = "runc",
) -> ExecDriver:
    """The driver `name`, whose containers' cgroups live under `cgroup_parent` unless a Command says
    otherwise; DriverNotSupported for a driver this program does not have or this host cannot run.
    `state_dir` is the daemon's root (the native driver's keeper socket, the lxc driver's
    per-container configurations, the oci driver's bundles and runtime state), `oci_runtime` the
    runtime of `-e oci`."""
    if name == "native":
        from lxc_docker.execution.native.driver import NativeDriver

        return NativeDriver(cgroup_parent=cgroup_parent, state_dir=state_dir)
    if name == "lxc":
        from lxc_docker.execution.lxc.driver import LxcDriver

        return LxcDriver(state_dir or "/var/lib/docker", cgroup_parent=cgroup_parent)
    if name == "oci":
        from lxc_docker.execution.oci.driver import OciDriver

        return OciDriver(state_dir or "", oci_runtime, cgroup_parent=cgroup_parent)
    raise DriverNotSupported(f"execution driver {name!r} is not supported (choose from: {', '.join(NAMES)})")


def version_string(driver: ExecDriver) -> str:
    """`docker info`'s "Execution Driver": "native-0.1", "lxc-5.0.2" (the installed LXC's) or
    "oci-runc-1.1.5" (the runtime's own)."""
    return getattr(driver, "description", None) or f"{driver.name}-{getattr(driver, 'version', '0.1')}"


def check_host_config(driver: ExecDriver, host_config: dict[str, Any] | None) -> None:
    """Refuse what only another driver can honour: `--lxc-conf` needs `-e lxc` (later Docker's
    "Cannot use --lxc-conf with execdriver" rule; Docker 0.9's native driver ignored it silently)."""
    if (host_config or {}).get("LxcConf") and driver.name != "lxc":
        raise InvalidParameter(
            f"Cannot use --lxc-conf with execdriver: {version_string(driver)} "
            "(LxcConf needs a daemon started with -e lxc)"
        )
