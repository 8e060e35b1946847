"""The execution driver interface: the `Command` that describes a container run, the `Stdio` it gets,
and the `ExecDriver` protocol that the daemon's monitor drives (one thread per running container).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from lxc_docker.errors import DockerError
from lxc_docker.execution.keptio import KeptIO


@dataclass
class Mount:
    """A bind mount into the container (volumes, and /etc/hosts, /etc/hostname, /etc/resolv.conf)."""

    source: str  # host path (file or directory)
    destination: str  # absolute path in the container, resolved inside its root filesystem
    writable: bool = True
    private: bool = True  # made MS_PRIVATE after binding, so later mounts don't propagate either way
    # A bind's propagation mode (shared, rslave...: sysutil/mountprop.py), "" for the default above.
    propagation: str = ""


@dataclass
class Resources:
    memory: int = 0  # bytes, 0 = unlimited
    memory_swap: int = 0  # memory + swap in bytes; 0 = twice `memory` (Docker 0.9), -1 = unlimited swap
    cpu_shares: int = 0  # relative weight, 0 = the kernel's default (1024)


@dataclass
class Network:
    """The container's eth0; a Command without one gets a network namespace with only `lo`."""

    interface: str = ""  # host-side name of the veth end that moves into the container as eth0
    address: str = ""  # "172.17.0.2/16"
    gateway: str = ""
    mtu: int = 1500
    mac: str = ""


@dataclass
class Command:
    """Everything the driver needs to start one container; handed to the in-container init."""

    id: str
    rootfs: str  # host path of the container's mounted root filesystem
    entrypoint: str  # absolute path, or a name looked up in the container's PATH (from `env`)
    args: list[str]  # arguments after the program
    env: list[str]  # "KEY=VALUE", complete: the daemon adds HOME, PATH, HOSTNAME, container=lxc, TERM
    user: str = ""  # "", "name", "uid", "uid:gid", "name:group", resolved in the container's /etc files
    # HostConfig.GroupAdd: group names (from the container's /etc/group) or numbers, added to the
    # supplementary groups of PID 1 and of every exec'd process.
    group_add: list[str] = field(default_factory=list)
    workdir: str = ""  # created if missing, as Docker does; "" means "/"
    hostname: str = ""
    tty: bool = False
    privileged: bool = False
    network: Network | None = None
    host_network: bool = False  # --net host: PID 1 stays in the host's network namespace
    net_from_pid: int = 0  # --net container:NAME: join the network namespace of this host pid
    resources: Resources = field(default_factory=Resources)
    mounts: list[Mount] = field(default_factory=list)
    cgroup_parent: str = "docker"  # cgroups live at <hierarchy>/<cgroup_parent>/<id>
    # Least privilege (ignored with `privileged`, which gets every capability and no filter).
    cap_add: list[str] = field(default_factory=list)  # HostConfig.CapAdd: "NET_ADMIN", "CAP_SYSLOG", "ALL"
    cap_drop: list[str] = field(default_factory=list)  # HostConfig.CapDrop
    seccomp: str = "default"  # "default" (Docker's default profile), "unconfined", "custom"
    seccomp_profile: dict[str, Any] | None = None  # with "custom": runconfig.security's checked profile
    no_new_privileges: bool = False  # PR_SET_NO_NEW_PRIVS before the exec (also with `privileged`)
    lxc_conf: list[dict[str, str]] = field(default_factory=list)  # HostConfig.LxcConf, lxc driver only

    def to_dict(self) -> dict[str, Any]:
        """Plain lists, dicts, strings, numbers and booleans (JSON- and marshal-safe)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Command:
        doc = dict(doc)
        network = doc.pop("network", None)
        resources = doc.pop("resources", None) or {}
        mounts = doc.pop("mounts", None) or []
        known = set(cls.__dataclass_fields__)
        return cls(
            **{k: v for k, v in doc.items() if k in known},
            network=Network(**network) if network else None,
            resources=Resources(**resources),
            mounts=[Mount(**m) for m in mounts],
        )

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, text: str | bytes) -> Command:
        return cls.from_dict(json.loads(text))


@dataclass
class Stdio:
    """The descriptors the container's PID 1 gets; the daemon creates them and copies the data.

    With `Command.tty` the daemon passes the pty slave as all three and the init makes it the
    controlling terminal (and bind-mounts it on /dev/console, as Docker 0.9 does).
    """

    stdin: int | None  # read end of a pipe, or None for /dev/null
    stdout: int
    stderr: int
    kept: KeptIO | None = None  # the daemon's ends, which the driver keeps open while the daemon is down


@dataclass
class ExecProcess:
    """One more process in a running container (`docker exec`): it joins the container's namespaces
    and cgroups and keeps the container's least-privilege settings (its seccomp filter, no_new_privs,
    capabilities; `privileged` gives it every capability)."""

    args: list[str]  # argv; args[0] is looked up in the PATH of `env` unless it holds a slash
    env: list[str]  # "KEY=VALUE", complete (the container's environment with the exec's on top)
    user: str = ""  # as Command.user; "" runs as root
    workdir: str = ""  # must exist in the container; "" means "/"
    tty: bool = False  # a new terminal of the container's own /dev/pts, handed over by `on_terminal`
    privileged: bool = False


class ContainerStartError(DockerError):
    """The container's command never ran. `exit_code` follows the shell's convention, as Docker does:
    127 when the program does not exist (or is not found in $PATH), 126 when it exists but can't be
    executed (permission denied, not a binary), 1 for anything else that failed before the exec
    (unknown user or group, unusable working directory, a mount that failed).
    """

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class ExecDriver(Protocol):
    name: str  # "native"

    def run(
        self,
        command: Command,
        stdio: Stdio,
        on_start: Callable[[int], None],
        on_created: Callable[[int], None] | None = None,
    ) -> int:
        """Start the container, call `on_start(host pid of its PID 1)` once its command runs (in its
        cgroups, with its network and mounts), block until PID 1 exits, remove its cgroups and return
        its exit code (N, or 128+signal). Raises ContainerStartError, before `on_start`, when the
        command could not be started."""
        ...

    def exec(
        self,
        command: Command,
        process: ExecProcess,
        stdio: Stdio,
        on_start: Callable[[int], None],
        on_terminal: Callable[[int], None] | None = None,
    ) -> int:
        """Run `process` in the running container `command` describes; call `on_start(host pid)` once
        its program runs, block until it exits and return its exit code (N, or 128+signal). With
        `process.tty`, `stdio` is not used: the process gets a new terminal and `on_terminal(master
        fd)` receives its master (the caller's to close) before `on_start`. Raises ContainerStartError
        (127 no such program, 126 not executable, 1 anything else) when the program never ran."""
        ...

    def kill(self, command: Command, sig: int) -> None:
        """Send `sig` to the container's PID 1; nothing happens if it is already gone."""
        ...

    def pids(self, id: str) -> list[int]:
        """Host pids of every process of the container (from its cgroup)."""
        ...

    def adopt(self, command: Command, pid: int) -> int | None:
        """Wait for a container started by an earlier daemon to exit, then remove its cgroups. Returns
        its exit code when this process can reap it, else None."""
        ...

    def resume(self, command: Command, pid: int) -> KeptIO | None:
        """A container an earlier daemon started and the driver kept whole (live restore): the
        daemon's ends of its stdio, after which `wait(command.id)` works as after a start. None when
        it was not kept (then `adopt` it, or clean it up)."""
        ...

    def resumed(self) -> None:
        """Every container to resume was: stop and let go of the rest the driver kept (containers the
        daemon does not know as running)."""
        ...

    def wait(self, id: str) -> int:
        """Block until the PID 1 of a started or resumed container exits, remove its cgroups and
        return its exit code (-1 when it could not be known)."""
        ...

    def close(self) -> None:
        """The daemon stops cleanly, its containers stopped: let go of what keeps them."""
        ...

    def is_alive(self, id: str, pid: int) -> bool:
        """Whether `pid` is still the running PID 1 of container `id` (not a recycled pid)."""
        ...

    def cleanup(self, id: str) -> None:
        """Kill what is left of a dead container and remove its cgroups (crash recovery)."""
        ...
