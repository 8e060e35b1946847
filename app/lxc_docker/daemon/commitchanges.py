"""`commit --change` and `import --change`: the Dockerfile instructions newer clients send to edit the
committed or imported image's config."""

from __future__ import annotations

import copy
import json
import shlex
from typing import Any

from ..builder.parser import label_pairs
from ..errors import InvalidParameter
from ..runconfig.schema import CONFIG_DEFAULTS


def json_list(rest: str) -> list[str] | None:
    """The JSON form of an instruction's arguments (`["a", "b"]`), or None when it is not one."""
    rest = rest.strip()
    if rest.startswith("["):
        try:
            value = json.loads(rest)
        except ValueError:
            return None
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
    return None


def _args(rest: str) -> list[str]:
    value = json_list(rest)
    return value if value is not None else ["/bin/sh", "-c", rest.strip()]


def import_config(changes: list[str]) -> dict[str, Any]:
    """An imported image's config: the defaults every image config has, edited by `changes`."""
    config = copy.deepcopy(CONFIG_DEFAULTS)
    apply_changes(config, changes)
    return config


def apply_changes(config: dict[str, Any], changes: list[str]) -> None:
    for line in changes:
        line = line.strip()
        if not line:
            continue
        word, _, rest = line.partition(" ")
        instr = word.upper()
        if instr == "CMD":
            config["Cmd"] = _args(rest)
        elif instr == "ENTRYPOINT":
            config["Entrypoint"] = _args(rest)
        elif instr == "ENV":
            if "=" in rest.split(" ", 1)[0]:
                pairs = [p.split("=", 1) for p in shlex.split(rest)]
            else:
                key, _, value = rest.strip().partition(" ")
                pairs = [[key, value.strip()]]
            env = config.get("Env") or []
            for key, value in pairs:
                env = [e for e in env if e.split("=", 1)[0] != key] + [f"{key}={value}"]
            config["Env"] = env
        elif instr == "LABEL":
            config["Labels"] = {**(config.get("Labels") or {}), **dict(label_pairs(rest, 0))}
        elif instr == "EXPOSE":
            ports = dict(config.get("ExposedPorts") or {})
            for p in rest.split():
                ports[p if "/" in p else f"{p}/tcp"] = {}
            config["ExposedPorts"] = ports
        elif instr == "USER":
            config["User"] = rest.strip()
        elif instr == "WORKDIR":
            config["WorkingDir"] = rest.strip()
        elif instr == "VOLUME":
            vols = dict(config.get("Volumes") or {})
            paths = json_list(rest)
            if paths is None:
                paths = rest.split()
            for v in paths:
                vols[v] = {}
            config["Volumes"] = vols
        elif instr == "ONBUILD":
            config["OnBuild"] = list(config.get("OnBuild") or []) + [rest.strip()]
        else:
            raise InvalidParameter(f"{word} is not a valid change command")
