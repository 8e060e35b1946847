"""`docker top CONTAINER [ps OPTIONS]`: the processes running in a container, as `ps` shows them."""

from __future__ import annotations

from ..formatting import TabWriter


def flags(cli):
    return cli.flags("top", "CONTAINER [ps OPTIONS]", "Lookup the running processes of a container")


def run(cli, args: list[str]) -> int:
    _, rest = cli.parse(flags(cli), args, 1)
    query = {"ps_args": " ".join(rest[1:]) if len(rest) > 1 else None}
    result = cli.client.json("GET", f"/containers/{rest[0]}/top", query) or {}
    tw = TabWriter()
    tw.write("\t".join(result.get("Titles") or ()) + "\n")
    for process in result.get("Processes") or ():
        tw.write("\t".join(str(field) for field in process) + "\n")
    cli.out.write(tw.flush())
    return 0
