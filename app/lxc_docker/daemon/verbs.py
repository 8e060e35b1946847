"""`docker pause`, `unpause`, `rename` and `update`: verbs on an existing container.

Pause and update act on the container's cgroups through `execution.cgroupfs`, which finds them at
`<hierarchy>/<cgroup_parent>/<id>` whichever exec driver started the container.
"""

from __future__ import annotations

import logging
from typing import Any

from ..errors import Conflict, DockerError, InvalidParameter
from ..execution import cgroupfs, cgroupupdate
from ..runconfig.parse import parse_link
from ..runconfig.restart import PolicyError, check_restart_policy
from .container import Container
from .containers import ContainerService, NotRunning
from .names import validate

log = logging.getLogger(__name__)

# Remote API 1.24's `POST /containers/{id}/update` body, with the JSON type each key takes.
UPDATE_KEYS: dict[str, type] = {
    "BlkioWeight": int,
    "CpuShares": int,
    "CpuPeriod": int,
    "CpuQuota": int,
    "CpusetCpus": str,
    "CpusetMems": str,
    "Memory": int,
    "MemorySwap": int,
    "MemoryReservation": int,
    "KernelMemory": int,
    "RestartPolicy": dict,
}
# Limits the exec drivers' Resources do not carry: written into the cgroups once PID 1 is in them
# (before it may exec), from HostConfig (`docker update` of a stopped container, or today's CLI's
# `run --cpu-quota ...`, whose keys HostConfig keeps as sent).
EXTRA_LIMITS = ("CpuPeriod", "CpuQuota", "CpusetCpus", "CpusetMems", "MemoryReservation", "BlkioWeight")
# The limits our Config also carries (Docker 0.9 kept them there; `_command` reads them from it).
_CONFIG_COPIES = ("Memory", "MemorySwap", "CpuShares")


class ContainerVerbs:
    def __init__(self, containers: ContainerService) -> None:
        self.containers = containers
        self.events = containers.events
        containers.on_created.append(self._apply_extra_limits)

    def cgroup_parent(self, c: Container) -> str:
        return getattr(c.command, "cgroup_parent", "") or self.containers.cgroup_parent

    def _cgroup(self, c: Container) -> cgroupfs.ContainerCgroup:
        return cgroupfs.ContainerCgroup(self.cgroup_parent(c), c.id)

    def _event(self, action: str, c: Container, **attrs: str) -> None:
        self.events.publish(action, c.id, from_=c.config.get("Image", ""), name=c.name.lstrip("/"), **attrs)

    def _apply_extra_limits(self, c: Container, _pid: int) -> None:
        values = {k: c.host_config[k] for k in EXTRA_LIMITS if c.host_config.get(k)}
        if not values:
            return
        try:
            for warning in cgroupupdate.apply(self.cgroup_parent(c), c.id, values):
                log.warning("%s: %s", c.id[:12], warning)
        except (OSError, TypeError, ValueError) as e:  # HostConfig keeps these keys as the client sent them
            log.warning("limits of %s not applied: %s", c.id[:12], e)

    # -- pause ---------------------------------------------------------------------------------------

    def pause(self, c: Container) -> None:
        with c.lock:
            if not c.state.running:
                raise NotRunning(f"Container {c.id} is not running")
            if c.state.paused:
                raise Conflict(f"Container {c.id} is already paused")
            try:
                self._cgroup(c).set_frozen(True)
            except (OSError, cgroupfs.CgroupError) as e:
                raise DockerError(f"Cannot pause container {c.id}: {e}") from None
            c.state.paused = True
            c.save()
        self._event("pause", c)

    def unpause(self, c: Container) -> None:
        with c.lock:
            if not c.state.paused:
                raise Conflict(f"Container {c.id} is not paused")
            try:
                self._cgroup(c).set_frozen(False)
            except (OSError, cgroupfs.CgroupError) as e:
                raise DockerError(f"Cannot unpause container {c.id}: {e}") from None
            c.state.paused = False
            c.save()
        self._event("unpause", c)

    def thaw_after_signal(self, c: Container) -> None:
        """A signal sent to a frozen container is delivered once it thaws (Docker: kill, then
        unpause), so `docker stop` and `docker kill` of a paused container work."""
        if not c.state.paused:
            return
        try:
            self._cgroup(c).set_frozen(False)
        except (OSError, cgroupfs.CgroupError) as e:
            log.warning("thawing %s: %s", c.id[:12], e)
            return
        c.state.paused = False
        self._event("unpause", c)

    # -- rename --------------------------------------------------------------------------------------

    def rename(self, c: Container, new_name: str) -> None:
        if not new_name:
            raise InvalidParameter("Neither old nor new names may be empty")
        new = validate(new_name)
        with c.lock:
            old = c.name
            if new == old:
                raise Conflict("Renaming a container with the same name as its current name")
            self.containers.names.rename(old, new, c.id)
            c.name = new
            try:
                c.save()
            except BaseException:
                self.containers.names.rename(new, old, c.id)
                c.name = old
                raise
        # Links name their child by name: they follow it, so a restart of the parent still finds it.
        for other in self.containers.all():
            links = other.host_config.get("Links") or []
            moved = [_relink(spec, old, new) for spec in links]
            if moved != links:
                with other.lock:
                    other.host_config["Links"] = moved
                    other.save()
        self._event("rename", c, oldName=old)

    # -- update --------------------------------------------------------------------------------------

    def update(self, c: Container, body: Any) -> list[str]:
        if not isinstance(body, dict):
            raise InvalidParameter("update body must be a JSON object")
        values: dict[str, Any] = {}
        for key, value in body.items():
            kind = UPDATE_KEYS.get(key)
            if kind is None or value is None:
                continue  # Docker's decoder ignores what it does not know
            if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
                raise InvalidParameter(f"json: cannot unmarshal into {key} of type {kind.__name__}")
            values[key] = value
        if not (values.get("RestartPolicy") or {}).get("Name"):
            # Today's CLI sends an empty policy with every update: Docker changes it only when named.
            values.pop("RestartPolicy", None)
        if "RestartPolicy" in values:
            try:
                values["RestartPolicy"] = check_restart_policy(values["RestartPolicy"])
            except PolicyError as e:
                raise InvalidParameter(str(e)) from None
        memory = values.get("Memory") or c.host_config.get("Memory") or c.config.get("Memory") or 0
        swap = values.get("MemorySwap") or 0
        if swap > 0 and memory and swap < memory:
            raise InvalidParameter("Minimum memoryswap limit should be larger than memory limit, see usage.")
        if values.get("Memory") and values["Memory"] < 4 * 1024 * 1024:
            raise InvalidParameter("Minimum memory limit allowed is 4MB")
        warnings: list[str] = []
        with c.lock:
            if c.state.running:
                try:
                    warnings = cgroupupdate.apply(self.cgroup_parent(c), c.id, values)
                except OSError as e:
                    raise DockerError(f"Cannot update container {c.id}: {e}") from None
            for key, value in values.items():
                if key == "RestartPolicy" or value:  # 0 and "" leave a limit as it was
                    c.host_config[key] = value
                    if key in _CONFIG_COPIES:
                        c.config[key] = value
            c.save()
        self._event("update", c)
        return warnings


def _relink(spec: str, old: str, new: str) -> str:
    try:
        name, alias = parse_link(spec).split(":", 1)
    except ValueError:
        return spec
    if "/" + name.strip("/") != old:
        return spec
    return f"{new}:{alias}"
