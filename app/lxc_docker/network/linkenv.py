"""The environment variables a link gives the parent container, exactly as Docker 0.9 names them."""

from __future__ import annotations

# Docker skips these in the child's environment: every image sets them, so copying them into the
# parent as ALIAS_ENV_PATH would only add noise.
_SKIPPED_CHILD_ENV = ("HOME", "PATH")


def split_port(key: str) -> tuple[int, str]:
    """'6379/tcp' (or '6379') → (6379, 'tcp')."""
    port, _, proto = key.partition("/")
    return int(port), (proto or "tcp").lower()


def _sorted_ports(exposed_ports: list[str]) -> list[tuple[int, str]]:
    # Lowest port first; for the same number tcp before udp. The first is the link's default port.
    return sorted({split_port(p) for p in exposed_ports}, key=lambda pp: (pp[0], pp[1] != "tcp", pp[1]))


def link_env(
    alias: str, child_name: str, child_ip: str, exposed_ports: list[str], child_env: list[str]
) -> list[str]:
    """NAME=value strings for the parent of a link.

    `alias` is the link alias (upper-cased as the prefix, other characters kept, as Docker did);
    `child_name` is the value of ALIAS_NAME, which Docker shows as the link's full name
    "/<parent name>/<alias>"; `exposed_ports` are the child's exposed ports ("6379/tcp");
    `child_env` is the child's Config.Env ("NAME=value").
    """
    prefix = alias.upper()
    env: list[str] = []
    ports = _sorted_ports(exposed_ports)
    if ports:
        port, proto = ports[0]
        env.append(f"{prefix}_PORT={proto}://{child_ip}:{port}")
    for port, proto in ports:
        key = f"{prefix}_PORT_{port}_{proto.upper()}"
        env.append(f"{key}={proto}://{child_ip}:{port}")
        env.append(f"{key}_ADDR={child_ip}")
        env.append(f"{key}_PORT={port}")
        env.append(f"{key}_PROTO={proto}")
    env.append(f"{prefix}_NAME={child_name}")
    for item in child_env:
        name, sep, value = item.partition("=")
        if not sep or not name or name in _SKIPPED_CHILD_ENV:
            continue
        env.append(f"{prefix}_ENV_{name}={value}")
    return env
