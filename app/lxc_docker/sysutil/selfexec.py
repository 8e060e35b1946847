"""How to run this very program again in another mode, chosen by its first argument (the container
init is `init`, the native driver's keeper `keeper`).

A PyInstaller binary (`sys.frozen`) is its own interpreter. A plain zipapp, whose modules live inside
the archive, is run by the interpreter with the archive's path. Otherwise the package is a real
directory (a checkout, an installed package, or the cache a shiv zipapp extracts itself to), and
the interpreter imports it from there by path: whatever the working directory or PYTHONPATH, with
`-I -S` and without the zipapp's bootstrap. That takes 8 ms where `python -m lxc_docker` (site,
runpy) takes 25 to 50 ms and shiv's bootstrap 70 to 85 ms, on every container start.
"""

from __future__ import annotations

import os
import sys

_cache: list[list[str]] = []


def init_argv() -> list[str]:
    """The argv that re-runs this program in init mode; callers append the init's arguments."""
    return mode_argv("init")


def mode_argv(mode: str) -> list[str]:
    """The argv that re-runs this program with `mode` as its first argument ("init", "keeper")."""
    if not _cache:
        _cache.append(_program_argv())
    return [*_cache[0], mode]


def _program_argv() -> list[str]:
    if getattr(sys, "frozen", False):
        return [sys.executable]
    package_dir = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    archive = zipapp_path(package_dir)
    if archive:
        return [sys.executable, archive]
    # The init needs nothing outside the standard library and this package: no site, no environment.
    code = (
        f"import sys; sys.path.insert(0, {os.path.dirname(package_dir)!r}); "
        "from lxc_docker.main import main; sys.exit(main())"
    )
    return [sys.executable, "-I", "-S", "-c", code]


def zipapp_path(package_dir: str) -> str | None:
    """The archive that holds `package_dir` when the package is imported from inside a zipapp."""
    path = package_dir
    while True:
        parent = os.path.dirname(path)
        if parent == path:
            return None
        if os.path.isfile(parent):
            return parent
        path = parent
