"""Prerequisites of a test: missing on a developer's machine, the test skips with the reason; missing
in CI (CI=true), the test fails, since a skip there would pass a run that tested nothing.

    from lib.require import require, require_module, require_tools

    require(os.path.exists(DOCKER_CLI), "the docker CLI 28 is not at /usr/local/bin/docker")
    docker = require_module("docker")          # instead of pytest.importorskip
    require_tools("iptables", "ip", module=True)  # at module level
"""

from __future__ import annotations

import importlib
import os
import shutil
from types import ModuleType

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def require(condition: object, reason: str, *, module: bool = False) -> None:
    """Skip (locally) or fail (under CI=true) with `reason` unless `condition` holds.

    `module=True` where it is called at a module's top level, as pytest.skip needs to know."""
    if condition:
        return
    if in_ci():
        pytest.fail(f"{reason} (CI=true: a missing prerequisite is a failure, not a skip)", pytrace=False)
    pytest.skip(reason, allow_module_level=module)


def require_tools(*tools: str, hint: str = "", module: bool = False) -> None:
    """Each of `tools` on PATH (or as an absolute path, executable)."""
    missing = [t for t in tools if not shutil.which(t)]
    reason = f"missing tools: {', '.join(missing)}" + (f" ({hint})" if hint else "")
    require(not missing, reason, module=module)


def require_module(name: str, hint: str = "", *, module: bool = False) -> ModuleType:
    """The imported module `name`, as pytest.importorskip gives it, but failing under CI=true."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        require(False, f"the Python module {name} is not importable: {exc}" + (f" ({hint})" if hint else ""),
                module=module)  # fmt: skip
        raise  # not reached: require() skipped or failed
