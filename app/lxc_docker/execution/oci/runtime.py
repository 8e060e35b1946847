"""An OCI runtime's command line (runc, crun, or another that speaks runc's CLI): its path, version,
state directory, and the calls the driver makes (create, start, kill, delete, state, ps).

Every call gets `--root <daemon root>/oci/<runtime>` so that two daemons (or a daemon and another
engine using the same runtime) never see each other's containers, and `--log` in JSON so that the
runtime's errors are read from a file of ours rather than from its stderr, which at `create` is the
container's own stderr.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from typing import Any

from lxc_docker.errors import DriverNotSupported

# Debian's package for each runtime, named when it is missing.
PACKAGES = {"runc": "runc", "crun": "crun"}

# How long a runtime call may take; far above the 10-50 ms they need, it bounds a call stuck on a
# hung mount or a wedged kernel.
CALL_TIMEOUT = 60.0

_UNIFIED = "/sys/fs/cgroup/unified"


class RuntimeFailed(Exception):
    """A runtime call that exited non-zero; `message` is the runtime's own error text."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def find(runtime: str) -> str:
    """The absolute path of `runtime` (a name looked up in PATH, or a path), or DriverNotSupported
    naming the package to install."""
    path = shutil.which(runtime)
    if path is None:
        name = os.path.basename(runtime)
        package = PACKAGES.get(name)
        hint = (
            f"install Debian's {package} package (apt-get install {package})"
            if package
            else "install it, or name another runtime with --oci-runtime"
        )
        raise DriverNotSupported(f"the OCI runtime {runtime!r} is not found or not executable: {hint}")
    return os.path.abspath(path)


def hybrid_with_controllers(cgroup_root: str = "/sys/fs/cgroup") -> bool:
    """Whether this host mixes cgroup v1 hierarchies with a cgroup2 mount at <root>/unified that has
    a controller enabled (systemd's hybrid layout, with a controller the v1 side does not hold)."""
    if os.path.exists(os.path.join(cgroup_root, "cgroup.controllers")):
        return False  # pure cgroup v2
    try:
        with open(os.path.join(cgroup_root, "unified", "cgroup.controllers")) as f:
            return bool(f.read().split())
    except OSError:
        return False


class Runtime:
    """One OCI runtime binary, with its state directory under the daemon's root."""

    def __init__(self, runtime: str, state_root: str) -> None:
        self.path = find(runtime)
        self.state_root = state_root
        first = self._version_line()
        # "runc version 1.1.5+ds1" / "crun version 1.8.1": the program's own name, not the file's.
        match = re.match(r"(\S+) version (\S+)", first)
        if match is None:
            raise DriverNotSupported(
                f"{self.path} does not look like an OCI runtime: --version said {first!r}"
            )
        self.name = match.group(1)
        self.version = match.group(2).split("+", 1)[0]  # "+ds1": Debian's repack, not the version
        self.prefix: list[str] = []
        if self.name == "crun" and hybrid_with_controllers():
            # crun 1.8 (Debian 12) refuses the hybrid layout as soon as the cgroup2 tree at
            # /sys/fs/cgroup/unified holds a controller ("cgroups in hybrid mode not supported, drop
            # all controllers from cgroupv2"), even though the container only needs the v1
            # hierarchies, where every controller we set lives. In a mount namespace of its own
            # without that one mount, crun sees a plain v1 host and works. The namespace keeps the
            # host's propagation (a slave copy could never send an rshared bind's mounts back to the
            # host); the mount it sits on is made private first, as an unmount propagates through its
            # parent's peers: the unmount stays inside. One namespace per call (made after the daemon
            # mounted the rootfs): crun keeps no process.
            self.prefix = [
                "unshare",
                "--mount",
                "--propagation",
                "unchanged",
                "/bin/sh",
                "-c",
                f'mount --make-private {os.path.dirname(_UNIFIED)} && umount -l {_UNIFIED} && exec "$0" "$@"',
            ]
        os.makedirs(state_root, 0o700, exist_ok=True)

    def _version_line(self) -> str:
        try:
            result = subprocess.run(
                [self.path, "--version"], capture_output=True, text=True, timeout=CALL_TIMEOUT
            )
        except OSError as e:
            raise DriverNotSupported(f"cannot run the OCI runtime {self.path}: {e.strerror}")
        lines = (result.stdout or result.stderr).splitlines()
        return lines[0].strip() if lines else ""

    @property
    def description(self) -> str:
        """`docker info`'s Execution Driver: "oci-runc-1.1.5"."""
        return f"oci-{self.name}-{self.version}"

    def argv(self, *args: str, log: str | None = None) -> list[str]:
        head = [*self.prefix, self.path, "--root", self.state_root]
        if log:
            head += ["--log", log, "--log-format", "json"]
        return head + list(args)

    def call(self, *args: str, log: str | None = None, check: bool = True) -> str:
        """Run `runtime args...` and return its stdout; RuntimeFailed (with the runtime's message)
        when it exits non-zero and `check`."""
        try:
            result = subprocess.run(
                self.argv(*args, log=log),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=CALL_TIMEOUT,
                close_fds=True,
            )
        except subprocess.TimeoutExpired:
            raise RuntimeFailed(f"{self.name} {args[0]} did not finish in {CALL_TIMEOUT:g} s", -1)
        if check and result.returncode != 0:
            text = result.stderr.decode("utf-8", "replace")
            raise RuntimeFailed(error_text(text, log), result.returncode)
        return result.stdout.decode("utf-8", "replace")

    def state(self, id: str) -> dict[str, Any] | None:
        """The runtime's `state` of container `id`, or None when it does not know it."""
        try:
            return json.loads(self.call("state", id))
        except (RuntimeFailed, ValueError):
            return None

    def delete(self, id: str) -> None:
        """`delete --force`: kill what is left, remove the cgroups and the state. Quiet when the
        runtime does not know the container."""
        try:
            self.call("delete", "--force", id)
        except RuntimeFailed:
            if self.state(id) is not None:
                raise


def error_text(stderr: str, log: str | None) -> str:
    """The runtime's error: the last error-level record of its JSON log, else its stderr."""
    message = ""
    if log:
        try:
            with open(log, errors="replace") as f:
                lines = f.read().splitlines()
        except OSError:
            lines = []
        for line in lines:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and record.get("level") in ("error", "fatal") and record.get("msg"):
                message = str(record["msg"])
    if not message:
        text = [line.strip() for line in stderr.splitlines() if line.strip()]
        message = text[-1] if text else ""
    return message or "the OCI runtime failed without a message"
