"""`docker stats [--no-stream] [-a] [CONTAINER...]`: a live table of containers' resource usage.

One stats stream per container, read in its own thread (as Docker's CLI does), the table redrawn
every second; `--no-stream` asks each container for one sample (`stream=false`) and prints once.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from ...client.api import ApiError
from ..formatting import TabWriter, go_format_g, human_size
from ..main import CommandError

HEADER = "CONTAINER\tCPU %\tMEM USAGE / LIMIT\tMEM %\tNET I/O\tBLOCK I/O\tPIDS\n"
_BINARY_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def flags(cli):
    fs = cli.flags(
        "stats", "[OPTIONS] [CONTAINER...]", "Display a live stream of container(s) resource usage statistics"
    )
    fs.bool(["a", "-all"], False, "Show all containers (default shows just running)")
    fs.bool(["-no-stream"], False, "Disable streaming stats and only pull the first result")
    return fs


def bytes_size(size: float) -> str:
    """Docker's units.BytesSize: 1024-based units, `%.4g`."""
    value, unit = float(size), 0
    while value >= 1024.0 and unit < len(_BINARY_UNITS) - 1:
        value /= 1024.0
        unit += 1
    return f"{go_format_g(value, 4)} {_BINARY_UNITS[unit]}"


def cpu_percent(doc: dict[str, Any]) -> float:
    cpu, pre = doc.get("cpu_stats") or {}, doc.get("precpu_stats") or {}
    usage, pre_usage = cpu.get("cpu_usage") or {}, pre.get("cpu_usage") or {}
    cpu_delta = (usage.get("total_usage") or 0) - (pre_usage.get("total_usage") or 0)
    system_delta = (cpu.get("system_cpu_usage") or 0) - (pre.get("system_cpu_usage") or 0)
    if cpu_delta <= 0 or system_delta <= 0:
        return 0.0
    cpus = len(usage.get("percpu_usage") or ()) or cpu.get("online_cpus") or 1
    return cpu_delta / system_delta * cpus * 100.0


def row(name: str, doc: dict[str, Any] | None) -> str:
    if doc is None:
        return f"{name}\t--\t-- / --\t--\t--\t--\t--\n"
    memory = doc.get("memory_stats") or {}
    usage, limit = memory.get("usage") or 0, memory.get("limit") or 0
    mem_percent = usage / limit * 100.0 if limit else 0.0
    rx = sum(n.get("rx_bytes", 0) for n in (doc.get("networks") or {}).values())
    tx = sum(n.get("tx_bytes", 0) for n in (doc.get("networks") or {}).values())
    read = write = 0
    for entry in (doc.get("blkio_stats") or {}).get("io_service_bytes_recursive") or ():
        op = str(entry.get("op", "")).lower()
        if op == "read":
            read += entry.get("value", 0)
        elif op == "write":
            write += entry.get("value", 0)
    pids = (doc.get("pids_stats") or {}).get("current") or 0
    return (
        f"{name}\t{cpu_percent(doc):.2f}%\t{bytes_size(usage)} / {bytes_size(limit)}\t{mem_percent:.2f}%\t"
        f"{human_size(rx)} / {human_size(tx)}\t{human_size(read)} / {human_size(write)}\t{pids}\n"
    )


def _names(cli, opts, rest: list[str]) -> list[str]:
    if rest:
        return rest
    query = {"all": 1} if opts.all else {}
    return [c["Id"][:12] for c in cli.client.json("GET", "/containers/json", query) or ()]


def run(cli, args: list[str]) -> int:
    opts, rest = cli.parse(flags(cli), args)
    names = _names(cli, opts, rest)
    latest: dict[str, dict[str, Any] | None] = {name: None for name in names}
    errors: dict[str, str] = {}

    def follow(name: str) -> None:
        try:
            if opts.no_stream:
                latest[name] = cli.client.json("GET", f"/containers/{name}/stats", {"stream": 0})
                return
            for doc in cli.client.stream("GET", f"/containers/{name}/stats", {"stream": 1}):
                latest[name] = doc
        except (ApiError, OSError) as e:
            errors[name] = str(e)

    threads = [threading.Thread(target=follow, args=(n,), daemon=True) for n in names]
    for t in threads:
        t.start()
    if opts.no_stream:
        for t in threads:
            t.join()
        _print(cli, names, latest)
        if errors and len(errors) == len(names) and rest:
            raise CommandError("; ".join(errors[n] for n in names))
        return 0
    try:
        while any(t.is_alive() for t in threads):
            time.sleep(1.0)
            cli.out.write("\033[2J\033[H")
            _print(cli, names, latest)
    except KeyboardInterrupt:
        return 0
    return 0


def _print(cli, names: list[str], latest: dict[str, dict[str, Any] | None]) -> None:
    tw = TabWriter()
    tw.write(HEADER)
    for name in names:
        tw.write(row(name, latest.get(name)))
    cli.out.write(tw.flush())
    cli.out.flush()
