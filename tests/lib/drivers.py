"""The execution drivers the contract suite (tests/integration/test_exec_drivers.py) runs against:
(test id, extra `docker -d` flags). The tools each needs are checked through lib.require, so a
missing runtime skips locally and fails under CI=true."""

from __future__ import annotations

from lib.require import require_tools

DRIVERS: list[tuple[str, list[str]]] = [
    ("native", []),
    ("oci-runc", ["-e", "oci", "--oci-runtime", "runc"]),
    ("oci-crun", ["-e", "oci", "--oci-runtime", "crun"]),
    ("lxc", ["-e", "lxc"]),
]

# Tools a driver needs beyond the daemon's own, with the Debian package that has them.
TOOLS: dict[str, tuple[tuple[str, ...], str]] = {
    "oci-runc": (("runc",), "apt-get install runc"),
    "oci-crun": (("crun",), "apt-get install crun"),
    "lxc": (("lxc-start", "lxc-stop"), "apt-get install lxc"),
}


def require_driver(name: str) -> None:
    """Skip (fail under CI=true) unless the tools driver `name` needs are installed; the native
    driver needs none."""
    tools, hint = TOOLS.get(name, ((), ""))
    if tools:
        require_tools(*tools, hint=hint)
