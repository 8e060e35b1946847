"""`docker version`: the client's version, then the daemon's."""

from __future__ import annotations

import sys

from ... import API_VERSION, __version__


def flags(cli):
    return cli.flags("version", "", "Show the docker version information")


def run(cli, args: list[str]) -> int:
    cli.parse(flags(cli), args, 0, 0)
    out = cli.out
    out.write(f"Client version: {__version__}\n")
    out.write(f"Client API version: {API_VERSION}\n")
    out.write(f"Python version (client): {sys.version_info[0]}.{sys.version_info[1]}.{sys.version_info[2]}\n")
    out.write("Git commit (client): lxc-docker\n")
    out.flush()
    info = cli.client.json("GET", "/version")
    out.write(f"Server version: {info.get('Version', '')}\n")
    out.write(f"Server API version: {info.get('ApiVersion', '')}\n")
    out.write(f"Git commit (server): {info.get('GitCommit', '')}\n")
    out.write(f"Python version (server): {info.get('GoVersion', '').removeprefix('python')}\n")
    return 0
