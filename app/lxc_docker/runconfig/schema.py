"""The run-config schema: every Config and HostConfig key with its JSON type, default and API version.

This module is the only place that knows those facts (docker-py keeps them in
docker/types/containers.py, later Docker in its runconfig package). The CLI builds its create body
through `new_config`/`new_host_config`, the daemon validates a body with `check`, the builder starts
an image's config from `CONFIG_DEFAULTS`.

Two kinds of key. The core keys are Docker 0.9's (API 1.9, the API this daemon documents): a
normalised config always holds all of them. The later keys are ones today's clients send that the
daemon keeps (and shows back in inspect) or reads; they appear only when sent at an API version that
has them. A key's `since` is the API version that introduced it: Docker 0.9 read its own keys whatever
the version of the request, so the core keys carry 1.0; a later key sent at an older version is
ignored, as later Docker's daemon does (AutoRemove below 1.25: the client removes the container).
"""

from __future__ import annotations

from ..errors import InvalidParameter

# The client imports this module for every `docker run`: no typing, dataclasses or copy at run time
# (together they cost more than the rest of the client's start-up).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from typing import Any

    # A kind checks one JSON value and returns it normalised, or raises _Wrong.
    Check = Callable[[Any], Any]

Version = tuple[int, int]
CORE_VERSION: Version = (1, 9)  # Docker 0.9's API: its keys make up every normalised config


class _Wrong(Exception):
    """Raised by a kind: `expected` names the JSON type the key takes."""

    def __init__(self, expected: str) -> None:
        super().__init__(expected)
        self.expected = expected


def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise _Wrong("a string")
    return value


def _integer(value: Any) -> int:
    # JSON true is not 1 here: Go's decoder refuses a boolean for an int64 field.
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Wrong("an integer")
    return value


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _Wrong("a boolean (true or false)")
    return value


def _strings(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
        raise _Wrong("an array of strings")
    return list(value)


def _object(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Wrong("an object")
    return value


def _string_map(value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise _Wrong("an object of strings")
    return value


def _path_set(value: Any) -> dict[str, Any]:
    # {"/data": {}} (Volumes) or {"80/tcp": {}} (ExposedPorts): only the keys carry meaning.
    if not isinstance(value, dict) or not all(v is None or isinstance(v, dict) for v in value.values()):
        raise _Wrong('an object of empty objects, like {"/data": {}}')
    return {k: {} for k in value}


def _command(value: Any) -> list[str]:
    # Docker 0.9 took Cmd and Entrypoint as string arrays; a string is what later clients send for
    # the shell form, and means what the Dockerfile's shell form means.
    if isinstance(value, str):
        return [value]
    return _strings(value)


def _strings_or_comma_list(value: Any) -> list[str]:
    # HostConfig.VolumesFrom is an array since API 1.10; API 1.9 clients send Config's comma list.
    if isinstance(value, str):
        return [v for v in value.split(",") if v]
    return _strings(value)


def _port_bindings(value: Any) -> dict[str, list[dict[str, str]]]:
    expected = 'an object of port bindings, like {"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}'
    if not isinstance(value, dict):
        raise _Wrong(expected)
    result: dict[str, list[dict[str, str]]] = {}
    for port, bindings in value.items():
        if bindings is None:
            bindings = []
        if not isinstance(bindings, list) or not all(isinstance(b, dict) for b in bindings):
            raise _Wrong(expected)
        out = []
        for b in bindings:
            ip, host_port = b.get("HostIp") or "", b.get("HostPort") or ""
            if isinstance(host_port, int) and not isinstance(host_port, bool):
                host_port = str(host_port)  # hand-written clients send a number; Docker's field is a string
            if not isinstance(ip, str) or not isinstance(host_port, str):
                raise _Wrong(expected)
            out.append({"HostIp": ip, "HostPort": host_port})
        result[port] = out
    return result


def _lxc_conf(value: Any) -> list[dict[str, str]]:
    # Docker 0.9's []KeyValuePair; docker-py also sends a plain {"key": "value"} map.
    if isinstance(value, dict):
        value = [{"Key": k, "Value": v} for k, v in value.items()]
    expected = 'an array of {"Key": ..., "Value": ...} objects'
    if not isinstance(value, list):
        raise _Wrong(expected)
    for kv in value:
        if not isinstance(kv, dict) or not all(isinstance(kv.get(k, ""), str) for k in ("Key", "Value")):
            raise _Wrong(expected)
    return [{"Key": kv.get("Key", ""), "Value": kv.get("Value", "")} for kv in value]


def fresh(value: Any) -> Any:
    """A copy of a default (JSON-shaped), so that no two configs share a mutable default."""
    if isinstance(value, dict):
        return {k: fresh(v) for k, v in value.items()}
    if isinstance(value, list):
        return [fresh(v) for v in value]
    return value


class Field:
    """One key: its name, the kind of JSON value it takes, its default, the API version introducing it."""

    __slots__ = ("name", "check", "default", "since", "every_version", "core")

    def __init__(
        self, name: str, check: Check, default: Any, since: Version = (1, 0), every_version: bool = False
    ) -> None:
        self.name = name
        self.check = check
        self.default = default
        self.since = since
        # Read whatever the request's version: today's CLI sends the key at every version, and
        # ignoring it would silently drop what the user asked for (client-compatibility.md, 2).
        self.every_version = every_version
        self.core = since <= CORE_VERSION

    def __repr__(self) -> str:
        return f"Field({self.name!r}, since={self.since[0]}.{self.since[1]})"

    def read_at(self, version: Version) -> bool:
        return self.every_version or version >= self.since


CONFIG_FIELDS: tuple[Field, ...] = (
    Field("Hostname", _string, ""),
    Field("Domainname", _string, ""),
    Field("User", _string, ""),
    Field("Memory", _integer, 0),
    Field("MemorySwap", _integer, 0),
    Field("CpuShares", _integer, 0),
    Field("AttachStdin", _boolean, False),
    Field("AttachStdout", _boolean, False),
    Field("AttachStderr", _boolean, False),
    Field("PortSpecs", _strings, None),  # deprecated since API 1.7 for ExposedPorts + PortBindings
    Field("ExposedPorts", _path_set, None),
    Field("Tty", _boolean, False),
    Field("OpenStdin", _boolean, False),
    Field("StdinOnce", _boolean, False),
    Field("Env", _strings, None),
    Field("Cmd", _command, None),
    Field("Dns", _strings, None),
    Field("Image", _string, ""),
    Field("Volumes", _path_set, None),
    Field("VolumesFrom", _string, ""),  # API 1.9's comma list; HostConfig.VolumesFrom from 1.10
    Field("WorkingDir", _string, ""),
    Field("Entrypoint", _command, None),
    Field("NetworkDisabled", _boolean, False),
    Field("OnBuild", _strings, None),
    # Read at every version: Docker's decoder never looked at the version for Labels, and our own
    # CLI (which speaks 1.9) sends `-l` here; dropping them would hide a container from its tools.
    Field("Labels", _string_map, {}, since=(1, 18), every_version=True),
    # Set by the Dockerfile's STOPSIGNAL, SHELL and HEALTHCHECK (and `docker run --stop-signal`).
    Field("StopSignal", _string, "", since=(1, 21)),
    # eth0's address on the daemon's bridge (`--mac-address`); checked by normalize.py.
    Field("MacAddress", _string, "", since=(1, 15)),
    Field("Shell", _strings, None, since=(1, 24)),
    # {Test, Interval, Timeout, Retries}: `--health-*` and the Dockerfile's HEALTHCHECK; read at every
    # version because our own CLI (1.9) sends it.
    Field("Healthcheck", _object, None, since=(1, 24), every_version=True),
)

HOST_CONFIG_FIELDS: tuple[Field, ...] = (
    Field("Binds", _strings, None),
    Field("ContainerIDFile", _string, ""),
    Field("LxcConf", _lxc_conf, None),
    Field("Privileged", _boolean, False),
    Field("PortBindings", _port_bindings, None),
    Field("Links", _strings, None),
    Field("PublishAllPorts", _boolean, False),
    Field("Dns", _strings, None),
    Field("VolumesFrom", _strings_or_comma_list, None),
    # Resource limits moved here in API 1.18; the daemon copies them into Config (see normalize.py).
    Field("Memory", _integer, 0, since=(1, 18), every_version=True),
    Field("MemorySwap", _integer, 0, since=(1, 18), every_version=True),
    Field("CpuShares", _integer, 0, since=(1, 18), every_version=True),
    # Later keys the daemon keeps and shows back; the defaults are what Docker's inspect shows.
    # Security keys: read at every version, as the resource limits above, because today's CLI sends
    # them whatever version it speaks and dropping a `--cap-drop` silently would grant what the user
    # took away.
    Field("CapAdd", _strings, None, since=(1, 14), every_version=True),
    Field("CapDrop", _strings, None, since=(1, 14), every_version=True),
    Field("SecurityOpt", _strings, None, since=(1, 17), every_version=True),
    # Every version: our CLI (1.9) sends `--group-add` here; a dropped group would deny access quietly.
    Field("GroupAdd", _strings, None, since=(1, 20), every_version=True),
    # Read at every version: our CLI speaks 1.9 and sends `--net` here, as today's CLI does at any.
    Field("NetworkMode", _string, "default", since=(1, 15), every_version=True),
    # Every version: our CLI (1.9) sends `--restart` here, and losing it would silently not restart.
    Field(
        "RestartPolicy", _object, {"Name": "no", "MaximumRetryCount": 0}, since=(1, 15), every_version=True
    ),
    # Every version: our CLI (1.9) sends `--log-driver` here.
    Field("LogConfig", _object, {"Type": "json-file", "Config": {}}, since=(1, 18), every_version=True),
    Field("AutoRemove", _boolean, False, since=(1, 25)),
)

CONFIG: dict[str, Field] = {f.name: f for f in CONFIG_FIELDS}
HOST_CONFIG: dict[str, Field] = {f.name: f for f in HOST_CONFIG_FIELDS}

# Docker 0.9's Config and HostConfig, each key with its default: what a normalised config holds.
CONFIG_DEFAULTS: dict[str, Any] = {f.name: f.default for f in CONFIG_FIELDS if f.core}
HOST_CONFIG_DEFAULTS: dict[str, Any] = {f.name: f.default for f in HOST_CONFIG_FIELDS if f.core}


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def check_value(field: Field, value: Any, section: str) -> Any:
    """`value` normalised for `field`; JSON null means the default, as Go's decoder leaves it."""
    if value is None:
        return fresh(field.default)
    try:
        return field.check(value)
    except _Wrong as e:
        raise InvalidParameter(
            f"Invalid {section}.{field.name}: it must be {e.expected}, not {_json_type(value)}"
        ) from None


def check(fields: dict[str, Field], values: dict[str, Any], section: str, version: Version) -> dict[str, Any]:
    """A JSON object read through the schema at API `version`.

    Every core key comes back (the default when absent); a later key only when sent at a version
    that has it. A value of the wrong JSON type is an InvalidParameter naming the key, whether or not
    the version reads it (Docker's decoder refuses it before looking at versions). Keys the schema
    does not know are left out; the caller decides whether to keep them.
    """
    result: dict[str, Any] = {}
    for name, field in fields.items():
        if name in values:
            value = check_value(field, values[name], section)
            if field.read_at(version):
                result[name] = value
                continue
        if field.core:
            result[name] = fresh(field.default)
    return result


def _build(fields: dict[str, Field], values: dict[str, Any], section: str) -> dict[str, Any]:
    unknown = [k for k in values if k not in fields]
    if unknown:
        # A typo in our own code, not a user mistake: fail loudly where it was made.
        raise KeyError(f"not a {section} key: {', '.join(unknown)}")
    result = {name: fresh(f.default) for name, f in fields.items() if f.core}
    result.update(values)
    return result


def new_config(**values: Any) -> dict[str, Any]:
    """A Config: the core keys' defaults, then `values` (which must be schema keys)."""
    return _build(CONFIG, values, "Config")


def new_host_config(**values: Any) -> dict[str, Any]:
    """A HostConfig: the core keys' defaults, then `values` (which must be schema keys)."""
    return _build(HOST_CONFIG, values, "HostConfig")


def later_defaults(fields: Iterable[Field], version: Version) -> dict[str, Any]:
    """Defaults of the later keys a client at `version` expects to find (for inspect's answers)."""
    return {f.name: fresh(f.default) for f in fields if not f.core and version >= f.since}
