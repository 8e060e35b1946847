"""`docker rmi IMAGE [IMAGE...]`: untag and delete images, reporting each step."""

from __future__ import annotations

from ...client.api import ApiError


def flags(cli):
    fs = cli.flags("rmi", "IMAGE [IMAGE...]", "Remove one or more images")
    fs.bool(["f", "-force"], False, "Force")
    fs.bool(["#noprune", "-no-prune"], False, "Do not delete untagged parents")
    return fs


def run(cli, args: list[str]) -> int:
    opts, rest = cli.parse(flags(cli), args, 1)
    failed = False
    for name in rest:
        try:
            results = cli.client.json(
                "DELETE", f"/images/{name}", {"force": opts.force or None, "noprune": opts.no_prune or None}
            )
        except ApiError as e:
            cli.err.write(f"Error: {e}\n")
            failed = True
            continue
        for r in results or []:
            if "Untagged" in r:
                cli.out.write(f"Untagged: {r['Untagged']}\n")
            if "Deleted" in r:
                cli.out.write(f"Deleted: {r['Deleted']}\n")
    if failed:
        cli.err.write("Error: failed to remove one or more images\n")
        return 1
    return 0
