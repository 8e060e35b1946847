"""The exec driver's `Command` for a run of a container, from its config and host config (Docker
0.9's environment defaults, the bind mounts of its name files, resources, capabilities, seccomp)."""

from __future__ import annotations

from ..execution.base import Command, Mount, Resources
from ..runconfig.security import parse_security_opts
from .container import DEFAULT_PATH, Container


def run_command(c: Container, rootfs: str, cgroup_parent: str) -> Command:
    """What the exec driver runs for `c` on `rootfs`: its program, environment, user, mounts of the
    name files, resources and security options."""
    config = c.config
    hostname = config.get("Hostname") or c.id[:12]
    env = ["HOME=/", f"PATH={DEFAULT_PATH}", f"HOSTNAME={hostname}", "container=lxc"]
    if config.get("Tty"):
        env.append("TERM=xterm")
    keys = {e.split("=", 1)[0] for e in config.get("Env") or []}
    env = [e for e in env if e.split("=", 1)[0] not in keys] + list(config.get("Env") or [])
    mounts = [
        Mount(c.file("resolv.conf"), "/etc/resolv.conf", True),
        Mount(c.file("hostname"), "/etc/hostname", True),
        Mount(c.file("hosts"), "/etc/hosts", True),
    ]
    memory = int(config.get("Memory") or 0)
    security = parse_security_opts(c.host_config.get("SecurityOpt"))
    return Command(
        id=c.id,
        rootfs=rootfs,
        entrypoint=c.path,
        args=list(c.args),
        env=env,
        user=config.get("User") or "",
        group_add=list(c.host_config.get("GroupAdd") or ()),
        workdir=config.get("WorkingDir") or "",
        hostname=hostname,
        tty=bool(config.get("Tty")),
        privileged=bool(c.host_config.get("Privileged")),
        network=None,
        resources=Resources(
            memory=memory,
            memory_swap=int(config.get("MemorySwap") or 0),
            cpu_shares=int(config.get("CpuShares") or 0),
        ),
        mounts=mounts,
        cgroup_parent=cgroup_parent,
        cap_add=list(c.host_config.get("CapAdd") or ()),
        cap_drop=list(c.host_config.get("CapDrop") or ()),
        seccomp=security.seccomp,
        seccomp_profile=security.seccomp_profile,
        no_new_privileges=security.no_new_privileges,
        lxc_conf=list(c.host_config.get("LxcConf") or ()),
    )
