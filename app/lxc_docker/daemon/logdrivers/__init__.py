"""Logging drivers (Docker 1.12's json-file, none, syslog, journald, gelf, fluentd): where a container's
output goes besides attached clients, chosen per container by `HostConfig.LogConfig` and per daemon by
`--log-driver`/`--log-opt`.

`LoggerFactory` is what the daemon holds: it fills a new container's LogConfig from the daemon's
default at create (as Docker 1.13+, so inspect shows the driver that runs), opens one driver per run
(`daemon/streams.py` writes through it) and says whether `docker logs` can read the container back.
Options are checked by `runconfig/logopts.py`; each driver is a module here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ...errors import DockerError, InvalidParameter
from ...runconfig import logopts
from .base import Copier, Driver, LogInfo, NoneDriver
from .jsonfile import JsonFileDriver

if TYPE_CHECKING:
    from ..container import Container

log = logging.getLogger(__name__)

# Docker's message for a driver `docker logs` cannot read (logger.ErrReadLogsNotSupported).
READ_NOT_SUPPORTED = "configured logging driver does not support reading"


class LogsNotReadable(DockerError):
    # Docker 1.12 answers this as a plain error (500); 17.x on as "not implemented" (501).
    status = 500


class LoggerFactory:
    def __init__(self, kind: str = "json-file", config: dict[str, str] | None = None) -> None:
        self.default: dict[str, Any] = {"Type": "json-file", "Config": {}}
        self.set_default(kind, config or {})

    def set_default(self, kind: str, config: dict[str, str]) -> None:
        """The daemon's `--log-driver`/`--log-opt`; raises logopts.LogOptError when invalid."""
        kind = kind or "json-file"
        # A unix syslog socket may come up after the daemon: checked when a container starts.
        logopts.check(kind, config, stat_sockets=False)
        self.default = {"Type": kind, "Config": dict(config)}

    # -- create --------------------------------------------------------------------------------------

    def on_create(self, c: Container) -> Callable[[], None]:
        """A create step: the container's LogConfig with the daemon's default filled in, checked."""
        given = c.host_config.get("LogConfig") or {}
        c.host_config["LogConfig"] = effective = self.effective(given)
        try:
            logopts.check(effective["Type"], effective["Config"])
        except logopts.LogOptError as e:
            raise InvalidParameter(str(e)) from None
        return lambda: None

    def effective(self, given: dict[str, Any]) -> dict[str, Any]:
        kind = given.get("Type") or self.default["Type"]
        config = dict(given.get("Config") or {})
        if kind == self.default["Type"]:
            for key, value in self.default["Config"].items():
                config.setdefault(key, value)
        return {"Type": kind, "Config": config}

    def config_of(self, c: Container) -> dict[str, Any]:
        """What a container runs with; one made before create filled it in gets the default."""
        given = c.host_config.get("LogConfig")
        if not given or not given.get("Type"):
            return self.effective(given or {})
        return {"Type": given["Type"], "Config": dict(given.get("Config") or {})}

    # -- runs ----------------------------------------------------------------------------------------

    def opener(self, c: Container) -> Callable[[], Copier]:
        return lambda: self.open(c)

    def open(self, c: Container) -> Copier:
        """The driver for one run of `c`; an endpoint that cannot be reached fails the start."""
        cfg = self.config_of(c)
        try:
            driver = self._driver(cfg["Type"], info_of(c, cfg["Config"]))
        except DockerError:
            raise
        except Exception as e:  # OSError from the endpoint, a tag template that fails to render...
            raise DockerError(f"Failed to initialize logging driver: {_describe(e)}") from None
        return Copier(driver)

    def _driver(self, kind: str, info: LogInfo) -> Driver:
        logopts.check(kind, info.config)
        if kind == "json-file":
            return JsonFileDriver(info.log_path, info.config, info)
        if kind == "none":
            return NoneDriver()
        if kind == "syslog":
            from .syslog import SyslogDriver

            return SyslogDriver(info)
        if kind == "journald":
            from .journald import JournaldDriver

            return JournaldDriver(info)
        if kind == "gelf":
            from .gelf import GelfDriver

            return GelfDriver(info)
        if kind == "fluentd":
            from .fluentd import FluentdDriver

            return FluentdDriver(info)
        raise logopts.LogOptError(f"logger: no log driver named '{kind}' is registered")

    # -- reading -------------------------------------------------------------------------------------

    def check_readable(self, c: Container) -> None:
        if self.config_of(c)["Type"] not in logopts.READABLE:
            raise LogsNotReadable(READ_NOT_SUPPORTED)


def info_of(c: Container, config: dict[str, str]) -> LogInfo:
    cfg = c.config or {}
    return LogInfo(
        container_id=c.id,
        name=c.name if c.name.startswith("/") else "/" + c.name,
        image_id=c.image,
        image_name=cfg.get("Image") or "",
        command=" ".join([c.path, *c.args]).strip(),
        created=str(c.created),
        log_path=c.log_path,
        config=dict(config),
        labels=dict(cfg.get("Labels") or {}),
        env=list(cfg.get("Env") or []),
    )


def _describe(e: Exception) -> str:
    if isinstance(e, OSError) and e.strerror:
        return e.strerror
    return str(e)


__all__ = ["Copier", "LoggerFactory", "LogsNotReadable", "READ_NOT_SUPPORTED", "info_of"]
