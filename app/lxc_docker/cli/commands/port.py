"""`docker port CONTAINER PRIVATE_PORT[/PROTO]`: the public address NAT-ed to a container's port."""

from __future__ import annotations

from ..main import CommandError


def flags(cli):
    return cli.flags(
        "port", "CONTAINER PRIVATE_PORT", "Lookup the public-facing port which is NAT-ed to PRIVATE_PORT"
    )


def run(cli, args: list[str]) -> int:
    _, rest = cli.parse(flags(cli), args, 1, 2)
    info = cli.client.json("GET", f"/containers/{rest[0]}/json") or {}
    ports = (info.get("NetworkSettings") or {}).get("Ports") or {}
    if len(rest) == 1:
        # Later Docker: every mapping, `80/tcp -> 0.0.0.0:49153`.
        for key in sorted(ports, key=_port_order):
            for binding in ports[key] or ():
                cli.out.write(f"{key} -> {binding.get('HostIp', '')}:{binding.get('HostPort', '')}\n")
        return 0
    port, _, proto = rest[1].partition("/")
    bindings = ports.get(f"{port}/{proto or 'tcp'}")
    if not bindings:
        raise CommandError(f"No public port '{port}' published for {rest[0]}")
    for binding in bindings:
        cli.out.write(f"{binding.get('HostIp', '')}:{binding.get('HostPort', '')}\n")
    return 0


def _port_order(key: str) -> tuple[int, str]:
    number, _, proto = key.partition("/")
    return (int(number) if number.isdigit() else 0, proto)
