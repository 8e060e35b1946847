"""Container configuration at create time: defaults, merging with the image's config, validation."""

from __future__ import annotations

import copy
from typing import Any

from ..errors import InvalidParameter

CONFIG_DEFAULTS: dict[str, Any] = {
    "Hostname": "",
    "Domainname": "",
    "User": "",
    "Memory": 0,
    "MemorySwap": 0,
    "CpuShares": 0,
    "AttachStdin": False,
    "AttachStdout": False,
    "AttachStderr": False,
    "PortSpecs": None,
    "ExposedPorts": None,
    "Tty": False,
    "OpenStdin": False,
    "StdinOnce": False,
    "Env": None,
    "Cmd": None,
    "Dns": None,
    "Image": "",
    "Volumes": None,
    "VolumesFrom": "",
    "WorkingDir": "",
    "Entrypoint": None,
    "NetworkDisabled": False,
    "OnBuild": None,
}

HOST_CONFIG_DEFAULTS: dict[str, Any] = {
    "Binds": None,
    "ContainerIDFile": "",
    "LxcConf": None,
    "Privileged": False,
    "PortBindings": None,
    "Links": None,
    "PublishAllPorts": False,
    "Dns": None,
    "VolumesFrom": None,
}

# Keys a newer client sends inside HostConfig that 0.9 kept in Config.
_HOST_RESOURCE_KEYS = ("Memory", "MemorySwap", "CpuShares")


def normalize_config(body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Split a create body into (Config, HostConfig or None) with Docker 0.9's field set and types."""
    if not isinstance(body, dict):
        raise InvalidParameter("the container config must be a JSON object")
    config = {k: copy.deepcopy(body.get(k, v)) for k, v in CONFIG_DEFAULTS.items()}
    host = body.get("HostConfig")
    host_config = None
    if isinstance(host, dict):
        host_config = normalize_host_config(host)
        for key in _HOST_RESOURCE_KEYS:
            if not config.get(key) and host.get(key):
                config[key] = host[key]
    for key in ("Cmd", "Entrypoint"):
        value = config[key]
        if isinstance(value, str):
            config[key] = [value] if key == "Entrypoint" else ["/bin/sh", "-c", value]
        elif value is not None and not (isinstance(value, list) and all(isinstance(x, str) for x in value)):
            raise InvalidParameter(f"{key} must be a list of strings")
    for key in ("Memory", "MemorySwap", "CpuShares"):
        value = config[key] or 0
        if not isinstance(value, int) or isinstance(value, bool):
            raise InvalidParameter(f"{key} must be an integer")
        config[key] = value
    if config["Memory"] and config["Memory"] < 524288:
        raise InvalidParameter("Minimum memory limit allowed is 512k")
    if config["Memory"] < 0:
        raise InvalidParameter("Memory must not be negative")
    env = config["Env"]
    if env is not None and not (isinstance(env, list) and all(isinstance(x, str) for x in env)):
        raise InvalidParameter("Env must be a list of KEY=VALUE strings")
    if config["WorkingDir"] and not str(config["WorkingDir"]).startswith("/"):
        raise InvalidParameter(
            f"The working directory '{config['WorkingDir']}' is invalid. It needs to be an absolute path."
        )
    for key in ("Volumes", "ExposedPorts"):
        if config[key] is not None and not isinstance(config[key], dict):
            raise InvalidParameter(f"{key} must be an object")
    for path in config["Volumes"] or {}:
        if not path.startswith("/"):
            raise InvalidParameter(f"Invalid volume path {path!r}: it must be absolute")
    return config, host_config


def normalize_host_config(host: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(host, dict):
        raise InvalidParameter("HostConfig must be a JSON object")
    result = {k: copy.deepcopy(host.get(k, v)) for k, v in HOST_CONFIG_DEFAULTS.items()}
    # Newer clients send more (NetworkMode, RestartPolicy...); keep it so inspect shows it back.
    for k, v in host.items():
        result.setdefault(k, v)
    for key in ("Binds", "Links", "Dns"):
        value = result[key]
        if value is not None and not (isinstance(value, list) and all(isinstance(x, str) for x in value)):
            raise InvalidParameter(f"HostConfig.{key} must be a list of strings")
    vf = result["VolumesFrom"]
    if isinstance(vf, str):
        result["VolumesFrom"] = [v for v in vf.split(",") if v] or None
    return result


def merge_image_config(config: dict[str, Any], image_config: dict[str, Any] | None) -> None:
    """Fill what the user did not set from the image (the run reference's override rules)."""
    if not image_config:
        return
    user_entrypoint = bool(config.get("Entrypoint"))
    if not user_entrypoint:
        config["Entrypoint"] = copy.deepcopy(image_config.get("Entrypoint"))
        if not config.get("Cmd"):
            config["Cmd"] = copy.deepcopy(image_config.get("Cmd"))
    # With --entrypoint the image's CMD no longer applies: it was written for the old entrypoint.
    for key in ("User", "WorkingDir", "Hostname", "Domainname"):
        if not config.get(key) and image_config.get(key):
            config[key] = image_config[key]
    for key in ("Memory", "MemorySwap", "CpuShares"):
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
    if not config.get("PortSpecs") and image_config.get("PortSpecs"):
        config["PortSpecs"] = list(image_config["PortSpecs"])
    if not config.get("Dns") and image_config.get("Dns"):
        config["Dns"] = list(image_config["Dns"])
    if not config.get("OnBuild") and image_config.get("OnBuild"):
        config["OnBuild"] = list(image_config["OnBuild"])


def path_and_args(config: dict[str, Any]) -> tuple[str, list[str]]:
    entrypoint = list(config.get("Entrypoint") or [])
    cmd = list(config.get("Cmd") or [])
    full = entrypoint + cmd
    if not full:
        raise InvalidParameter("No command specified")
    return full[0], full[1:]


def merge_commit_config(base: dict[str, Any], overrides: dict[str, Any] | None) -> dict[str, Any]:
    """`commit --run`: fields given in the JSON replace the container's, others stay."""
    result = copy.deepcopy(base)
    for key, value in (overrides or {}).items():
        if key in ("Env",) and value:
            keys = {e.split("=", 1)[0] for e in value}
            result[key] = [e for e in (result.get(key) or []) if e.split("=", 1)[0] not in keys] + list(value)
        elif key in ("ExposedPorts", "Volumes") and isinstance(value, dict):
            merged = dict(result.get(key) or {})
            merged.update(value)
            result[key] = merged
        else:
            result[key] = copy.deepcopy(value)
    return result
