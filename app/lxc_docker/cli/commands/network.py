"""`docker network create|ls|inspect|rm|connect|disconnect`: user-defined networks."""

from __future__ import annotations

import ipaddress
import json

from ...client.api import ApiError
from ...mflag import HelpRequested
from ..filterflag import add_filter_flag, filters_query
from ..main import CommandError, UsageError


def _parse(cli, fs, args: list[str], min_args: int = 0, max_args: int = -1):
    try:
        return cli.parse(fs, args, min_args, max_args)
    except HelpRequested:
        raise HelpRequested(fs.usage())


USAGE = "COMMAND"
SUBCOMMANDS = {
    "create": "Create a network",
    "ls": "List networks",
    "inspect": "Display detailed information on one or more networks",
    "rm": "Remove one or more networks",
    "connect": "Connect a container to a network",
    "disconnect": "Disconnect a container from a network",
}


def flags(cli):
    text = "Manage networks\n\nCommands:\n" + "".join(f"  {k:<12}{v}\n" for k, v in SUBCOMMANDS.items())
    return cli.flags("network", USAGE, text)


def run(cli, args: list[str]) -> int:
    if not args or args[0] not in SUBCOMMANDS:
        cli.parse(flags(cli), args)  # --help and unknown options are answered here
        raise UsageError(flags(cli))
    sub, rest = args[0], args[1:]
    try:
        return globals()[f"_{sub}"](cli, rest)
    except HelpRequested as e:
        # The subcommand's own options, not the `network` summary main would print.
        cli.out.write(e.args[0] if e.args else "")
        return 0


def _kv(values: list[str], what: str) -> dict[str, str]:
    result = {}
    for value in values:
        key, _, val = value.partition("=")
        if not key:
            raise CommandError(f"invalid {what}: {value!r}")
        result[key] = val
    return result


def _create(cli, args: list[str]) -> int:
    fs = cli.flags("network create", "[OPTIONS] NETWORK", SUBCOMMANDS["create"])
    fs.string(["d", "-driver"], "bridge", "Driver to manage the Network")
    fs.list(["-subnet"], "Subnet in CIDR format that represents a network segment")
    fs.list(["-gateway"], "IPv4 Gateway for the master subnet")
    fs.list(["-ip-range"], "Allocate container ip from a sub-range")
    fs.bool(["-internal"], False, "Restrict external access to the network")
    fs.bool(["-ipv6"], False, "Enable IPv6 networking")
    fs.list(["-label"], "Set metadata on a network")
    fs.list(["o", "-opt"], "Set driver specific options")
    opts, rest = _parse(cli, fs, args, 1, 1)
    body = {
        "Name": rest[0],
        "CheckDuplicate": True,
        "Driver": opts.driver,
        "EnableIPv6": bool(opts.ipv6),
        "IPAM": {"Driver": "default", "Config": _pools(opts.subnet, opts.gateway, opts.ip_range)},
        "Internal": bool(opts.internal),
        "Options": _kv(opts.opt, "option"),
        "Labels": _kv(opts.label, "label"),
    }
    try:
        result = cli.client.json("POST", "/networks/create", json_body=body)
    except ApiError as e:
        raise CommandError(str(e))
    cli.out.write(f"{result['Id']}\n")
    return 0


def _pools(subnets: list[str], gateways: list[str], ranges: list[str]) -> list[dict[str, str]]:
    """One IPAM pool per --subnet (at most one IPv4 and one IPv6), each gateway and ip-range given
    to the subnet that contains it, as Docker's CLI pairs them."""
    pools: list[dict[str, str]] = []
    nets = []
    for subnet in subnets:
        try:
            net = ipaddress.ip_network(subnet, strict=False)
        except ValueError:
            raise CommandError(f"invalid subnet {subnet!r}")
        if any(n.version == net.version for n in nets):
            raise CommandError(f"only one IPv{net.version} --subnet is supported")
        nets.append(net)
        pools.append({"Subnet": subnet})
    for key, values in (("Gateway", gateways), ("IPRange", ranges)):
        for value in values:
            try:
                wanted = ipaddress.ip_network(value, strict=False)
            except ValueError:
                raise CommandError(f"invalid {key.lower()} {value!r}")
            owner = next(
                (i for i, n in enumerate(nets) if n.version == wanted.version and wanted.subnet_of(n)), None
            )
            if owner is None or key in pools[owner]:
                raise CommandError("every ip-range or gateway must have a corresponding subnet")
            pools[owner][key] = value
    return pools


def _ls(cli, args: list[str]) -> int:
    fs = cli.flags("network ls", "[OPTIONS]", SUBCOMMANDS["ls"])
    fs.bool(["q", "-quiet"], False, "Only display network IDs")
    fs.bool(["-no-trunc"], False, "Do not truncate the output")
    add_filter_flag(fs, "Provide filter values (e.g. 'driver=bridge')")
    opts, _ = _parse(cli, fs, args, 0, 0)
    query = {}
    filters = filters_query(opts.filter)
    if filters:
        query["filters"] = filters
    try:
        networks = cli.client.json("GET", "/networks", query) or []
    except ApiError as e:
        raise CommandError(str(e))
    networks.sort(key=lambda n: n.get("Name", ""))
    if opts.quiet:
        for n in networks:
            cli.out.write(f"{n['Id'] if opts.no_trunc else n['Id'][:12]}\n")
        return 0
    cli.out.write(f"{'NETWORK ID':<20}{'NAME':<20}{'DRIVER':<10}SCOPE\n")
    for n in networks:
        nid = n["Id"] if opts.no_trunc else n["Id"][:12]
        cli.out.write(f"{nid:<20}{n['Name']:<20}{n['Driver']:<10}{n.get('Scope', 'local')}\n")
    return 0


def _inspect(cli, args: list[str]) -> int:
    fs = cli.flags("network inspect", "NETWORK [NETWORK...]", SUBCOMMANDS["inspect"])
    opts, rest = _parse(cli, fs, args, 1)
    docs, status = [], 0
    for name in rest:
        try:
            docs.append(cli.client.json("GET", f"/networks/{name}"))
        except ApiError as e:
            cli.err.write(f"Error: {e}\n")
            status = 1
    cli.out.write(json.dumps(docs, indent=4) + "\n")
    return status


def _rm(cli, args: list[str]) -> int:
    fs = cli.flags("network rm", "NETWORK [NETWORK...]", SUBCOMMANDS["rm"])
    _, rest = _parse(cli, fs, args, 1)
    status = 0
    for name in rest:
        try:
            cli.client.call("DELETE", f"/networks/{name}").close()
        except ApiError as e:
            cli.err.write(f"Error response from daemon: {e}\n")
            status = 1
            continue
        cli.out.write(f"{name}\n")
    return status


def _connect(cli, args: list[str]) -> int:
    fs = cli.flags("network connect", "[OPTIONS] NETWORK CONTAINER", SUBCOMMANDS["connect"])
    fs.list(["-alias"], "Add network-scoped alias for the container")
    fs.string(["-ip"], "", "IPv4 address")
    fs.string(["-ip6"], "", "IPv6 address")
    opts, rest = _parse(cli, fs, args, 2, 2)
    endpoint: dict = {"Aliases": list(opts.alias)}
    ipam = {k: v for k, v in (("IPv4Address", opts.ip), ("IPv6Address", opts.ip6)) if v}
    if ipam:
        endpoint["IPAMConfig"] = ipam
    try:
        body = {"Container": rest[1], "EndpointConfig": endpoint}
        cli.client.call("POST", f"/networks/{rest[0]}/connect", json_body=body).close()
    except ApiError as e:
        raise CommandError(str(e))
    return 0


def _disconnect(cli, args: list[str]) -> int:
    fs = cli.flags("network disconnect", "[OPTIONS] NETWORK CONTAINER", SUBCOMMANDS["disconnect"])
    fs.bool(["f", "-force"], False, "Force the container to disconnect from a network")
    opts, rest = _parse(cli, fs, args, 2, 2)
    try:
        cli.client.call(
            "POST", f"/networks/{rest[0]}/disconnect", json_body={"Container": rest[1], "Force": opts.force}
        ).close()
    except ApiError as e:
        raise CommandError(str(e))
    return 0
