"""A create or start body from the Remote API turned into the daemon's Config and HostConfig.

Types come from the schema; the rules here are the ones across keys (resource limits sent in
HostConfig, the shell form of Cmd, absolute paths). Every refusal is an InvalidParameter (HTTP 400)
naming the key, never an exception from deeper down.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from ..errors import InvalidParameter
from . import logopts, restart, schema, security
from .schema import Version

DEFAULT_VERSION: Version = schema.CORE_VERSION

# Keys a client at API 1.18 or later sends inside HostConfig that Docker 0.9 kept in Config.
_HOST_RESOURCE_KEYS = ("Memory", "MemorySwap", "CpuShares")
MIN_MEMORY = 524288


_HEX = set("0123456789abcdefABCDEF")


def normalize_create_body(
    body: Any, api_version: Version = DEFAULT_VERSION
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """`POST /containers/create`'s body → (Config, HostConfig or None when none was sent).

    HostConfig is read at every API version, though Docker introduced it on create in 1.15: today's
    CLI sends `-v`, `-p`, `--link` there whatever version it speaks (client-compatibility.md, 2).
    """
    if not isinstance(body, dict):
        raise InvalidParameter("the container config must be a JSON object")
    config = schema.check(schema.CONFIG, body, "Config", api_version)
    host = body.get("HostConfig")
    host_config = None
    if host is not None:
        host_config = normalize_host_config(host, api_version)
        for key in _HOST_RESOURCE_KEYS:
            if not config[key] and host_config.get(key):
                config[key] = host_config[key]
    for key, value in config.items():
        _refuse_nul(value, f"Config.{key}")
    if config.get("Healthcheck") is not None:
        try:
            restart.check_healthcheck(config["Healthcheck"])
        except restart.PolicyError as e:
            raise InvalidParameter(str(e)) from None
    cmd = config["Cmd"]
    if isinstance(body.get("Cmd"), str):
        # A string Cmd is the shell form; a string Entrypoint is one program name.
        config["Cmd"] = ["/bin/sh", "-c", cmd[0]]
    for key in _HOST_RESOURCE_KEYS:
        if config[key] < 0:
            raise InvalidParameter(f"Invalid Config.{key}: it must not be negative")
    if config["Memory"] and config["Memory"] < MIN_MEMORY:
        raise InvalidParameter("Minimum memory limit allowed is 512k")
    if config["WorkingDir"] and not config["WorkingDir"].startswith("/"):
        raise InvalidParameter(
            f"The working directory '{config['WorkingDir']}' is invalid. It needs to be an absolute path."
        )
    for path in config["Volumes"] or {}:
        if not path.startswith("/"):
            raise InvalidParameter(f"Invalid volume path {path!r}: it must be absolute")
    mac = config.get("MacAddress") or ""
    if mac:
        octets = mac.split(":")
        if len(octets) != 6 or not all(len(o) == 2 and all(ch in _HEX for ch in o) for o in octets):
            raise InvalidParameter(f"{mac} is not a valid mac address")
        config["MacAddress"] = mac.lower()
    return config, host_config


def normalize_host_config(host: Any, api_version: Version = DEFAULT_VERSION) -> dict[str, Any]:
    """A HostConfig (in a create body, or the body of `POST /containers/{id}/start`)."""
    if not isinstance(host, dict):
        raise InvalidParameter("HostConfig must be a JSON object")
    result = schema.check(schema.HOST_CONFIG, host, "HostConfig", api_version)
    # Refused here, at create, rather than when the container starts (as today's Docker does).
    for key in ("CapAdd", "CapDrop"):
        for name in result.get(key) or ():
            security.normalize_capability(name, key)
    security.parse_security_opts(result.get("SecurityOpt"))
    if "RestartPolicy" in result:
        try:
            result["RestartPolicy"] = restart.check_restart_policy(result["RestartPolicy"])
        except restart.PolicyError as e:
            raise InvalidParameter(str(e)) from None
    if "LogConfig" in result:
        result["LogConfig"] = _check_log_config(result["LogConfig"])
    # Keys the schema does not know (Ulimits, Devices...): kept as sent, so inspect shows them back.
    for key, value in host.items():
        if key not in schema.HOST_CONFIG:
            result[key] = value
    for key, value in result.items():
        _refuse_nul(value, f"HostConfig.{key}")
    return result


def _check_log_config(value: Any) -> dict[str, Any]:
    """A LogConfig as sent; Type "" stays "" (the daemon's default, filled in at create), any other
    driver and its options are checked here (runconfig/logopts.py) so a bad one is a 400."""
    if value is None:
        return {"Type": "", "Config": {}}
    kind = value.get("Type") or ""
    if not isinstance(kind, str):
        raise InvalidParameter("HostConfig.LogConfig.Type must be a string")
    config = value.get("Config") or {}
    if not isinstance(config, dict) or not all(isinstance(v, str) for v in config.values()):
        raise InvalidParameter("HostConfig.LogConfig.Config must map names to strings")
    if kind:
        try:
            logopts.check(kind, config)
        except logopts.LogOptError as e:
            raise InvalidParameter(str(e)) from None
    return {"Type": kind, "Config": dict(config)}


def merge_start_host_config(current: dict[str, Any], given: Any, api_version: Version) -> dict[str, Any]:
    """The HostConfig a start body brings, over the one the container has: what it leaves empty stays."""
    merged = dict(current)
    merged.update(
        {
            k: v
            for k, v in normalize_host_config(given, api_version).items()
            if v not in (None, "", False, [], {}) or k not in merged
        }
    )
    if "LogConfig" in current and not (merged.get("LogConfig") or {}).get("Type"):
        # The daemon's default was filled in at create (our 1.9 CLI sends its flags again here).
        merged["LogConfig"] = current["LogConfig"]
    return merged


def _refuse_nul(value: Any, where: str) -> None:
    """A NUL byte cannot reach execve, a path or a file the daemon writes: refuse it at create, not
    as a 500 when the container starts (issue 15). Iterative: values kept as sent may nest deeply."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\0" in item:
                raise InvalidParameter(f"Invalid {where}: it contains a NUL byte")
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())


def endpoints_config(body: Any) -> dict[str, dict[str, Any]]:
    """`NetworkingConfig.EndpointsConfig` of a create body (API 1.22+, read at every version as
    HostConfig is): per network name, its Aliases and IPAMConfig.IPv4Address."""
    if not isinstance(body, dict):
        return {}
    networking = body.get("NetworkingConfig")
    if networking is None:
        return {}
    if not isinstance(networking, dict):
        raise InvalidParameter("NetworkingConfig must be a JSON object")
    endpoints = networking.get("EndpointsConfig") or {}
    if not isinstance(endpoints, dict):
        raise InvalidParameter("NetworkingConfig.EndpointsConfig must be a JSON object")
    result: dict[str, dict[str, Any]] = {}
    for name, cfg in endpoints.items():
        cfg = cfg or {}
        if not isinstance(cfg, dict):
            raise InvalidParameter(f"NetworkingConfig.EndpointsConfig.{name} must be a JSON object")
        aliases = cfg.get("Aliases") or []
        if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
            raise InvalidParameter(f"NetworkingConfig.EndpointsConfig.{name}.Aliases: a list of strings")
        ipam = cfg.get("IPAMConfig") or {}
        if not isinstance(ipam, dict):
            raise InvalidParameter(f"NetworkingConfig.EndpointsConfig.{name}.IPAMConfig: a JSON object")
        for family, parse in (("IPv4", ipaddress.IPv4Address), ("IPv6", ipaddress.IPv6Address)):
            wanted = ipam.get(f"{family}Address") or ""
            if wanted:
                try:
                    parse(wanted)
                except ValueError:
                    raise InvalidParameter(f"invalid {family} address {wanted!r} for network {name}")
        links = cfg.get("Links") or []
        if not isinstance(links, list) or not all(isinstance(x, str) for x in links):
            raise InvalidParameter(f"NetworkingConfig.EndpointsConfig.{name}.Links: a list of strings")
        result[name] = {"Aliases": list(aliases), "Links": list(links), "IPAMConfig": _ipam_config(ipam)}
    return result


def _ipam_config(ipam: dict[str, Any]) -> dict[str, Any] | None:
    """An endpoint's IPAMConfig as given (IPv4Address, LinkLocalIPs), None when empty."""
    kept = {k: ipam[k] for k in ("IPv4Address", "IPv6Address", "LinkLocalIPs") if ipam.get(k)}
    return kept or None
