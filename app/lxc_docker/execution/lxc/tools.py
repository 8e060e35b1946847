"""Finding LXC's tools and their version; a host without them cannot run `-e lxc`."""

from __future__ import annotations

import shutil
import subprocess

from lxc_docker.errors import DriverNotSupported

PACKAGE_HINT = "install Debian's lxc package (apt-get install lxc)"


def find(name: str = "lxc-start") -> str:
    """The path of LXC tool `name`, or DriverNotSupported naming the package to install."""
    path = shutil.which(name)
    if not path:
        raise DriverNotSupported(
            f"the lxc execution driver needs {name}, which is not on PATH: {PACKAGE_HINT}"
        )
    return path


def version(lxc_start: str) -> str:
    """The installed LXC's version ("5.0.2"), as `lxc-start --version` prints it."""
    try:
        result = subprocess.run([lxc_start, "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise DriverNotSupported(f"running {lxc_start} --version: {e} ({PACKAGE_HINT})")
    text = result.stdout.strip().split()
    if result.returncode != 0 or not text or not text[0][:1].isdigit():
        raise DriverNotSupported(
            f"{lxc_start} --version failed: {(result.stderr or result.stdout).strip()} ({PACKAGE_HINT})"
        )
    return text[0]
