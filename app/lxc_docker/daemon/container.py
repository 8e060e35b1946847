"""A container: its configuration, state and paths, persisted atomically as Docker laid them out.

`containers/<id>/config.json` holds everything but the host config, which is in `hostconfig.json`.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from .. import timeutil
from ..sysutil import atomic
from .state import State

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class Container:
    def __init__(self, root: str, container_id: str) -> None:
        self.id = container_id
        self.root = os.path.join(root, "containers", container_id)
        self.created = timeutil.now_rfc3339()
        self.path = ""
        self.args: list[str] = []
        self.config: dict[str, Any] = {}
        self.host_config: dict[str, Any] = {}
        self.image = ""
        self.name = ""
        self.driver = ""
        self.exec_driver = ""
        self.network_settings: dict[str, Any] = {}
        self.volumes: dict[str, str] = {}
        self.volumes_rw: dict[str, bool] = {}
        self.state = State()
        # Serializes start/stop/kill/rm of this container; other containers never wait on it.
        self.lock = threading.RLock()
        self.streams: Any = None  # daemon.streams.Streams, attached at registration
        self.command: Any = None  # execution.base.Command of the current run
        self.exec_ids: list[str] = []  # `docker exec` instances of the current run (daemon.execs)

    # -- paths ---------------------------------------------------------------------------------------

    @property
    def init_id(self) -> str:
        return f"{self.id}-init"

    def file(self, name: str) -> str:
        return os.path.join(self.root, name)

    @property
    def log_path(self) -> str:
        return self.file(f"{self.id}-json.log")

    # -- persistence ---------------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {
            "ID": self.id,
            "Created": self.created,
            "Path": self.path,
            "Args": self.args,
            "Config": self.config,
            "State": self.state.to_json(),
            "Image": self.image,
            "NetworkSettings": self.network_settings,
            "ResolvConfPath": self.file("resolv.conf"),
            "HostnamePath": self.file("hostname"),
            "HostsPath": self.file("hosts"),
            "Name": self.name,
            "Driver": self.driver,
            "ExecDriver": self.exec_driver,
            "Volumes": self.volumes,
            "VolumesRW": self.volumes_rw,
        }

    def save(self) -> None:
        atomic.write_json(self.file("config.json"), self.to_json())
        atomic.write_json(self.file("hostconfig.json"), self.host_config)

    @classmethod
    def load(cls, root: str, container_id: str) -> Container:
        c = cls(root, container_id)
        doc = atomic.read_json(c.file("config.json"))
        if not isinstance(doc, dict) or doc.get("ID") != container_id:
            raise ValueError("config.json does not describe this container")
        c.created = doc.get("Created") or c.created
        c.path = doc.get("Path") or ""
        c.args = list(doc.get("Args") or [])
        c.config = doc.get("Config") or {}
        c.image = doc.get("Image") or ""
        c.name = doc.get("Name") or ""
        c.driver = doc.get("Driver") or ""
        c.exec_driver = doc.get("ExecDriver") or ""
        c.network_settings = doc.get("NetworkSettings") or {}
        c.volumes = doc.get("Volumes") or {}
        c.volumes_rw = doc.get("VolumesRW") or {}
        c.state.load(doc.get("State") or {})
        try:
            c.host_config = atomic.read_json(c.file("hostconfig.json")) or {}
        except (OSError, ValueError):
            c.host_config = {}
        return c

    # -- derived -------------------------------------------------------------------------------------

    @property
    def tty(self) -> bool:
        return bool(self.config.get("Tty"))

    def command_line(self) -> str:
        return " ".join([self.path, *self.args]).strip()
