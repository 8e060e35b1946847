"""Logging drivers and their options (`HostConfig.LogConfig`, `--log-driver`/`--log-opt`): which
drivers exist, which options each takes, and what a valid value is, in Docker 1.12's words.

Pure checks, shared by create (a bad option is a 400 there, not a failed start later) and the
daemon's `--log-opt` flags. The drivers themselves are `daemon/logdrivers/`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

_COMMON = {"labels", "env"}
# Docker 1.12's option names per driver (each driver's ValidateLogOpt).
OPTIONS: dict[str, set[str]] = {
    "json-file": _COMMON | {"max-size", "max-file"},
    "none": set(),
    "syslog": _COMMON
    | {
        "syslog-address",
        "syslog-facility",
        "syslog-format",
        "syslog-tls-ca-cert",
        "syslog-tls-cert",
        "syslog-tls-key",
        "syslog-tls-skip-verify",
        "tag",
    },
    "journald": _COMMON | {"tag"},
    "gelf": _COMMON | {"gelf-address", "gelf-compression-type", "gelf-compression-level", "tag"},
    "fluentd": _COMMON
    | {
        "fluentd-address",
        "fluentd-buffer-limit",
        "fluentd-retry-wait",
        "fluentd-max-retries",
        "fluentd-async-connect",
        "tag",
    },
}
# Drivers whose only use is a vendor's cloud service, which this daemon never reaches.
CLOUD_DRIVERS = ("awslogs", "splunk", "gcplogs", "etwlogs", "logentries")
# Drivers `docker logs` can read back (Docker 1.12 also reads journald through libsystemd; we do not).
READABLE = {"json-file"}

FACILITIES = {
    "kern": 0,
    "user": 1,
    "mail": 2,
    "daemon": 3,
    "auth": 4,
    "syslog": 5,
    "lpr": 6,
    "news": 7,
    "uucp": 8,
    "cron": 9,
    "authpriv": 10,
    "ftp": 11,
    **{f"local{i}": 16 + i for i in range(8)},
}
SYSLOG_FORMATS = ("", "rfc3164", "rfc5424", "rfc5424micro")
_SIZE = re.compile(r"^(\d+(?:\.\d+)*) ?([kKmMgGtTpP])?[bB]?$")
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}
_DURATION = re.compile(r"^(\d+(?:\.\d*)?)(ns|us|µs|ms|s|m|h)$")
_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


class LogOptError(ValueError):
    """A driver or option the daemon refuses; the message is Docker's."""


@dataclass(frozen=True)
class Address:
    """Where a remote driver sends: `proto` is unix, unixgram, udp, tcp or tcp+tls."""

    proto: str
    host: str = ""
    port: int = 0
    path: str = ""

    def __str__(self) -> str:
        return self.path if self.proto.startswith("unix") else f"{self.host}:{self.port}"


def check(kind: str, config: dict[str, str], *, stat_sockets: bool = True) -> None:
    """Raise LogOptError unless `kind` is a driver we run and `config` options it takes, with valid
    values. `stat_sockets`: a unix syslog address must exist, as Docker checks at create."""
    if kind in CLOUD_DRIVERS:
        raise LogOptError(
            f"logger: no log driver named '{kind}' is registered "
            f"(the {kind} driver sends to a cloud service; this daemon does not include it)"
        )
    if kind not in OPTIONS:
        raise LogOptError(f"logger: no log driver named '{kind}' is registered")
    for key in config:
        if key not in OPTIONS[kind]:
            raise LogOptError(f"unknown log opt '{key}' for {kind} log driver")
    if config.get("tag"):
        from .. import template

        try:
            template.parse(config["tag"], "log-tag")
        except template.TemplateError as e:
            raise LogOptError(str(e)) from None
    if kind == "json-file":
        json_file_limits(config)
    elif kind == "syslog":
        syslog_address(config.get("syslog-address", ""), stat_sockets=stat_sockets)
        syslog_facility(config.get("syslog-facility", ""))
        if config.get("syslog-format", "") not in SYSLOG_FORMATS:
            raise LogOptError("Invalid syslog format")
        if "syslog-tls-skip-verify" in config:
            parse_bool(config["syslog-tls-skip-verify"])
    elif kind == "gelf":
        gelf_address(config.get("gelf-address", ""))
        gelf_compression(config)
    elif kind == "fluentd":
        fluentd_address(config.get("fluentd-address", ""))
        fluentd_settings(config)


def json_file_limits(config: dict[str, str]) -> tuple[int, int]:
    """(max-size in bytes or -1, max-file): max-file without max-size never rotates, as in Docker."""
    size = -1
    if "max-size" in config:
        size = parse_size(config["max-size"])
        if size <= 0:
            raise LogOptError("max-size must be a positive number")
    files = 1
    if "max-file" in config:
        files = parse_int(config["max-file"])
        if files < 1:
            raise LogOptError("max-file cannot be less than 1")
    return size, files


def parse_size(text: str) -> int:
    """Docker's units.RAMInBytes: k, m, g... are powers of 1024, a trailing b optional."""
    m = _SIZE.match(text)
    if not m:
        raise LogOptError(f"invalid size: '{text}'")
    try:
        number = float(m.group(1))
    except ValueError:
        raise LogOptError(f"invalid size: '{text}'") from None
    return int(number * _UNITS[(m.group(2) or "").lower()])


def parse_int(text: str) -> int:
    if not re.fullmatch(r"[+-]?\d+", text):
        raise LogOptError(f'strconv.Atoi: parsing "{text}": invalid syntax')
    return int(text)


def parse_bool(text: str) -> bool:
    value = {"1": True, "t": True, "true": True, "0": False, "f": False, "false": False}.get(text.lower())
    if value is None:
        raise LogOptError(f'strconv.ParseBool: parsing "{text}": invalid syntax')
    return value


def parse_duration(text: str) -> float:
    m = _DURATION.match(text)
    if not m:
        raise LogOptError(f"time: invalid duration {text}")
    return float(m.group(1)) * _DURATION_UNITS[m.group(2)]


def _transport(address: str, option: str) -> tuple[str, str]:
    scheme, sep, _ = address.partition("://")
    if not sep or scheme not in ("tcp", "tcp+tls", "udp", "unix", "unixgram"):
        raise LogOptError(f"{option} should be in form proto://address, got {address}")
    return scheme, address


def _host_port(netloc: str, default_port: int | None, what: str) -> tuple[str, int]:
    try:
        parts = urlsplit("//" + netloc)
        host, port = parts.hostname or "", parts.port
    except ValueError:
        raise LogOptError(f"{what}: invalid address {netloc}") from None
    if port is None:
        if default_port is None:
            raise LogOptError(f"{what}: missing port in address {netloc}")
        port = default_port
    return host, port


def syslog_address(address: str, *, stat_sockets: bool = True) -> Address | None:
    """None: the local syslog (/dev/log, as Docker's default)."""
    if not address:
        return None
    scheme, _ = _transport(address, "syslog-address")
    rest = address.split("://", 1)[1]
    if scheme in ("unix", "unixgram"):
        if stat_sockets and not os.path.exists(rest):
            raise LogOptError(f"stat {rest}: no such file or directory")
        return Address(scheme, path=rest)
    host, port = _host_port(rest, 514, "syslog-address")
    return Address(scheme, host, port)


def syslog_facility(name: str) -> int:
    if not name:
        return FACILITIES["daemon"]
    if name in FACILITIES:
        return FACILITIES[name]
    if name.isdigit() and 0 <= int(name) <= 23:
        return int(name)
    raise LogOptError("invalid syslog facility")


def gelf_address(address: str) -> Address:
    if not address:
        raise LogOptError("gelf-address is a required parameter")
    scheme, _ = _transport(address, "gelf-address")
    if scheme != "udp":
        raise LogOptError("gelf: endpoint needs to be UDP")
    rest = address.split("://", 1)[1]
    try:
        host, port = _host_port(rest, None, "gelf")
    except LogOptError:
        raise LogOptError("gelf: please provide gelf-address as udp://host:port") from None
    return Address("udp", host, port)


def gelf_compression(config: dict[str, str]) -> tuple[str, int]:
    kind = config.get("gelf-compression-type", "") or "gzip"
    if kind not in ("gzip", "zlib", "none"):
        raise LogOptError(f"Unknown gelf compression type: {kind}")
    level = -1
    if config.get("gelf-compression-level", ""):
        text = config["gelf-compression-level"]
        if not re.fullmatch(r"-?\d+", text) or not -1 <= int(text) <= 9:
            raise LogOptError(f"gelf-compression-level must be an integer in [-1, 9], got {text}")
        level = int(text)
    return kind, level


def fluentd_address(address: str) -> Address:
    """host:port (Docker 1.12), or tcp://host:port and unix:///path (later Docker's)."""
    if not address:
        return Address("tcp", "localhost", 24224)
    if "://" in address:
        scheme, rest = address.split("://", 1)
        if scheme == "unix":
            return Address("unix", path=rest)
        if scheme != "tcp":
            raise LogOptError(f"invalid fluentd-address {address}: unsupported protocol {scheme}")
        address = rest
    try:
        host, port = _host_port(address, 24224, "fluentd-address")
    except LogOptError as e:
        raise LogOptError(f"invalid fluentd-address {address}: {e}") from None
    return Address("tcp", host or "localhost", port)


@dataclass(frozen=True)
class FluentdSettings:
    buffer_limit: int = 8 << 20  # bytes held while the endpoint is away (Docker's default)
    retry_wait: float = 1.0
    max_retries: int = 10
    async_connect: bool = False


def fluentd_settings(config: dict[str, str]) -> FluentdSettings:
    default = FluentdSettings()

    def opt(key: str, parse: Callable[[str], Any], unset: Any) -> Any:
        return parse(config[key]) if config.get(key) else unset

    return FluentdSettings(
        buffer_limit=opt("fluentd-buffer-limit", parse_size, default.buffer_limit),
        retry_wait=opt("fluentd-retry-wait", parse_duration, default.retry_wait),
        max_retries=opt("fluentd-max-retries", parse_int, default.max_retries),
        async_connect=opt("fluentd-async-connect", parse_bool, default.async_connect),
    )


def parse_flag_opts(values: list[str]) -> dict[str, str]:
    """`--log-opt KEY=VALUE` flags (run and daemon) into a map."""
    opts: dict[str, str] = {}
    for value in values:
        key, sep, val = value.partition("=")
        if not sep or not key:
            raise LogOptError(f"invalid key value pair format in log opt: {value}")
        opts[key] = val
    return opts
