"""`docker insert IMAGE URL PATH`: a new image with one file downloaded into it."""

from __future__ import annotations

from ..progress import display


def flags(cli):
    return cli.flags("insert", "IMAGE URL PATH", "Insert a file from URL in the IMAGE at PATH")


def run(cli, args: list[str]) -> int:
    _, rest = cli.parse(flags(cli), args, 3, 3)
    image, url, path = rest
    display(cli.client.stream("POST", f"/images/{image}/insert", {"url": url, "path": path}), cli.out)
    return 0
