"""`docker diff CONTAINER`: the files added (A), changed (C) and deleted (D) in a container's filesystem."""

from __future__ import annotations

_KINDS = {0: "C", 1: "A", 2: "D"}


def flags(cli):
    return cli.flags("diff", "CONTAINER", "Inspect changes on a container's filesystem")


def run(cli, args: list[str]) -> int:
    _, rest = cli.parse(flags(cli), args, 1, 1)
    changes = cli.client.json("GET", f"/containers/{rest[0]}/changes") or []
    cli.out.write("".join(f"{_KINDS.get(c.get('Kind'), '?')} {c.get('Path', '')}\n" for c in changes))
    return 0
