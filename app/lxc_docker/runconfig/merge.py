"""Configs combined: a container's with its image's at create, a container's with `commit --run`'s."""

from __future__ import annotations

import copy
from typing import Any

from ..errors import InvalidParameter
from . import schema

# Scalars the image supplies when the user left them empty.
_INHERITED = ("User", "WorkingDir", "Hostname", "Domainname", "Memory", "MemorySwap", "CpuShares")
_INHERITED += ("StopSignal",)
_INHERITED_LISTS = ("PortSpecs", "Dns", "OnBuild")


def merge_image_config(config: dict[str, Any], image_config: dict[str, Any] | None) -> None:
    """Fill what the user did not set from the image (the run reference's override rules)."""
    if not image_config:
        return
    if not config.get("Entrypoint"):
        config["Entrypoint"] = copy.deepcopy(image_config.get("Entrypoint"))
        if not config.get("Cmd"):
            config["Cmd"] = copy.deepcopy(image_config.get("Cmd"))
    # With --entrypoint the image's CMD no longer applies: it was written for the old entrypoint.
    for key in _INHERITED:
        if not config.get(key) and image_config.get(key):
            config[key] = image_config[key]
    image_env = image_config.get("Env") or []
    user_env = config.get("Env") or []
    user_keys = {e.split("=", 1)[0] for e in user_env}
    merged = [e for e in image_env if e.split("=", 1)[0] not in user_keys] + list(user_env)
    config["Env"] = merged or None
    for key in ("ExposedPorts", "Volumes"):
        combined = dict(image_config.get(key) or {})
        combined.update(config.get(key) or {})
        config[key] = combined or None
    for key in _INHERITED_LISTS:
        if not config.get(key) and image_config.get(key):
            config[key] = list(image_config[key])
    image_check = image_config.get("Healthcheck")
    if image_check:
        # Docker's merge: the image's HEALTHCHECK, with what `--health-*` set taking its place.
        own = config.get("Healthcheck") or {}
        config["Healthcheck"] = {**image_check, **{k: v for k, v in own.items() if v}}
    if image_config.get("Labels"):
        # A container carries its image's labels, its own overriding them (Docker's merge).
        config["Labels"] = {**image_config["Labels"], **(config.get("Labels") or {})}


def path_and_args(config: dict[str, Any]) -> tuple[str, list[str]]:
    """The program a container runs and its arguments: Entrypoint, then Cmd."""
    full = list(config.get("Entrypoint") or []) + list(config.get("Cmd") or [])
    if not full:
        raise InvalidParameter("No command specified")
    return full[0], full[1:]


def merge_commit_config(base: dict[str, Any], overrides: Any) -> dict[str, Any]:
    """`commit --run`: keys given in the JSON replace the container's (Env and maps merge), others stay.

    The JSON is a Config: its values are checked by the schema; keys a Config does not have are
    ignored, as Docker's decoder ignored them.
    """
    if overrides is not None and not isinstance(overrides, dict):
        raise InvalidParameter("the --run config must be a JSON object")
    result = copy.deepcopy(base)
    for key, raw in (overrides or {}).items():
        field = schema.CONFIG.get(key)
        if field is None:
            continue
        value = schema.check_value(field, raw, "Config")
        if key == "Env" and value:
            keys = {e.split("=", 1)[0] for e in value}
            result[key] = [e for e in (result.get(key) or []) if e.split("=", 1)[0] not in keys] + value
        elif key in ("ExposedPorts", "Volumes", "Labels") and isinstance(value, dict):
            merged = dict(result.get(key) or {})
            merged.update(value)
            result[key] = merged
        else:
            result[key] = value
    return result
