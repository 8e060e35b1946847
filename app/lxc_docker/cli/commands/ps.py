"""`docker ps [OPTIONS]`: list containers in Docker 0.9's table, only their ids, or `--format`ted."""

from __future__ import annotations

import time

from ...mflag import go_quote
from ...timeutil import human_duration
from ..filterflag import add_filter_flag, filters_query
from ..formatting import TabWriter, human_size


def flags(cli):
    fs = cli.flags("ps", "[OPTIONS]", "List containers")
    fs.bool(["a", "-all"], False, "Show all containers. Only running containers are shown by default.")
    fs.string(
        ["#beforeId", "#-before-id", "-before"],
        "",
        "Show only container created before Id or Name, include non-running ones.",
    )
    fs.bool(["l", "-latest"], False, "Show only the latest created container, include non-running ones.")
    fs.int(["n"], -1, "Show n last created containers, include non-running ones.")
    fs.bool(["#notrunc", "-no-trunc"], False, "Don't truncate output")
    fs.bool(["q", "-quiet"], False, "Only display numeric IDs")
    fs.bool(["s", "-size"], False, "Display sizes")
    fs.string(["#format", "-format"], "", "Pretty-print containers using a Go template")
    fs.string(
        ["#sinceId", "#-since-id", "-since"],
        "",
        "Show only containers created since Id or Name, include non-running ones.",
    )
    add_filter_flag(fs, "Filter output based on conditions provided (e.g. label=x, status=exited)")
    return fs


def run(cli, args: list[str]) -> int:
    opts, _ = cli.parse(flags(cli), args, 0, 0)
    limit = opts.n
    if limit == -1 and opts.latest:
        limit = 1
    query = {
        "all": 1 if opts.all else None,
        "limit": limit if limit != -1 else None,
        "since": opts.since or None,
        "before": opts.before or None,
        "size": 1 if opts.size else None,
        "filters": filters_query(opts.filter),
    }
    containers = cli.client.json("GET", "/containers/json", query) or []
    if opts.quiet:
        for c in containers:
            cli.out.write((c["Id"] if opts.no_trunc else c["Id"][:12]) + "\n")
        return 0
    now = time.time()
    if opts.format:
        from ..listformat import CONTAINER_HEADERS, CONTAINER_TABLE, container_fields, print_formatted

        rows = [container_fields(c, trunc=not opts.no_trunc, now=now) for c in containers]
        return print_formatted(cli, opts.format, rows, CONTAINER_HEADERS, CONTAINER_TABLE)
    tw = TabWriter()
    tw.write("CONTAINER ID\tIMAGE\tCOMMAND\tCREATED\tSTATUS\tPORTS\tNAMES")
    tw.write("\tSIZE\n" if opts.size else "\n")
    for c in containers:
        container_id = c["Id"] if opts.no_trunc else c["Id"][:12]
        created = human_duration(now - (c.get("Created") or 0)) + " ago"
        names = ",".join(n[1:] if n.startswith("/") else n for n in c.get("Names") or ())
        # Docker 0.9's row ends its NAMES cell with a tab too (so it is padded); kept byte for byte.
        command = display_command(c.get("Command") or "", opts.no_trunc)
        tw.write(
            f"{container_id}\t{c.get('Image', '')}\t{command}\t"
            f"{created}\t{c.get('Status', '')}\t{display_ports(c.get('Ports'))}\t{names}\t"
        )
        if opts.size:
            size = human_size(c.get("SizeRw") or 0)
            if (c.get("SizeRootFs") or 0) > 0:
                size += f" (virtual {human_size(c['SizeRootFs'])})"
            tw.write(size + "\n")
        else:
            tw.write("\n")
    cli.out.write(tw.flush())
    return 0


def display_command(command: str, no_trunc: bool) -> str:
    """The COMMAND cell: quoted (unless the daemon already quoted it, as 0.9's did), cut at 20 characters."""
    if not (len(command) >= 2 and command[0] == '"' and command[-1] == '"'):
        command = go_quote(command)
    return command if no_trunc else command[:20]


def display_ports(ports: list[dict] | None) -> str:
    """`0.0.0.0:49153->8080/tcp, 22/tcp`: published ports with their host address, the others bare."""
    out = []
    for port in sorted(ports or (), key=lambda p: (p.get("PublicPort") or 0, p.get("PrivatePort") or 0)):
        kind = port.get("Type") or "tcp"
        if port.get("IP") and port.get("PublicPort"):
            out.append(f"{port['IP']}:{port['PublicPort']}->{port.get('PrivatePort')}/{kind}")
        else:
            out.append(f"{port.get('PrivatePort')}/{kind}")
    return ", ".join(out)
