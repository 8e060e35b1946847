"""Docker's run configuration (Config and HostConfig): one schema, read by the CLI, the API and the daemon.

`schema` knows every key; `flags` and `parse` turn `docker run` options into a create body (client
side); `normalize` and `merge` read a create body and combine configs (server side).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .merge import merge_commit_config, merge_image_config, path_and_args
    from .normalize import (
        endpoints_config,
        merge_start_host_config,
        normalize_create_body,
        normalize_host_config,
    )

# The server-side functions, loaded on first use: the client imports `runconfig.flags` for `docker
# run` and must not pay for them.
_LAZY = {
    "merge_commit_config": "merge",
    "merge_image_config": "merge",
    "path_and_args": "merge",
    "merge_start_host_config": "normalize",
    "endpoints_config": "normalize",
    "normalize_create_body": "normalize",
    "normalize_host_config": "normalize",
}

__all__ = [
    "endpoints_config",
    "merge_commit_config",
    "merge_image_config",
    "merge_start_host_config",
    "normalize_create_body",
    "normalize_host_config",
    "path_and_args",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
