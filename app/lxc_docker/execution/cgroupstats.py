"""One sample of a container's resource usage, from its cgroups (v1 or v2) and its network namespace,
in the field names of the Remote API 1.24 `stats` body (cpu_stats, memory_stats, blkio_stats,
pids_stats, networks). The API layer adds `read` and `precpu_stats`.
"""

from __future__ import annotations

import os
from typing import Any

from .cgroupfs import ContainerCgroup, read_int, read_keyed, read_text

# USER_HZ: the unit of cpuacct.stat and /proc/stat; Docker reports nanoseconds.
_TICK_NS = 1_000_000_000 // (os.sysconf("SC_CLK_TCK") or 100)
_V1_BLKIO = {
    "io_service_bytes_recursive": "blkio.throttle.io_service_bytes_recursive",
    "io_serviced_recursive": "blkio.throttle.io_serviced_recursive",
}


def system_cpu_usage() -> int:
    """The host's CPU time in nanoseconds, as Docker reads it (the `cpu` line of /proc/stat)."""
    for line in (read_text("/proc/stat") or "").splitlines():
        if line.startswith("cpu "):
            return sum(int(v) for v in line.split()[1:8]) * _TICK_NS
    return 0


def online_cpus() -> int:
    return os.cpu_count() or 1


def host_memory() -> int:
    for line in (read_text("/proc/meminfo") or "").splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    return 0


def _cpu(cg: ContainerCgroup) -> dict[str, Any]:
    if cg.version == 2:
        stat = read_keyed(cg.file("", "cpu.stat") or "")
        usage = {
            "total_usage": stat.get("usage_usec", 0) * 1000,
            "percpu_usage": None,
            "usage_in_kernelmode": stat.get("system_usec", 0) * 1000,
            "usage_in_usermode": stat.get("user_usec", 0) * 1000,
        }
        throttled_ns = stat.get("throttled_usec", 0) * 1000
    else:
        acct = read_keyed(cg.file("cpuacct", "cpuacct.stat") or "")
        percpu = (read_text(cg.file("cpuacct", "cpuacct.usage_percpu") or "") or "").split()
        usage = {
            "total_usage": read_int(cg.file("cpuacct", "cpuacct.usage") or "") or 0,
            "percpu_usage": [int(v) for v in percpu] or None,
            "usage_in_kernelmode": acct.get("system", 0) * _TICK_NS,
            "usage_in_usermode": acct.get("user", 0) * _TICK_NS,
        }
        stat = read_keyed(cg.file("cpu", "cpu.stat") or "")
        throttled_ns = stat.get("throttled_time", 0)
    return {
        "cpu_usage": usage,
        "system_cpu_usage": system_cpu_usage(),
        "online_cpus": online_cpus(),
        "throttling_data": {
            "periods": stat.get("nr_periods", 0),
            "throttled_periods": stat.get("nr_throttled", 0),
            "throttled_time": throttled_ns,
        },
    }


def _memory(cg: ContainerCgroup) -> dict[str, Any]:
    total = host_memory()
    if cg.version == 2:
        usage = read_int(cg.file("", "memory.current") or "") or 0
        limit = read_int(cg.file("", "memory.max") or "")
        peak = read_int(cg.file("", "memory.peak") or "") or usage
        failcnt = read_keyed(cg.file("", "memory.events") or "").get("max", 0)
        stats = read_keyed(cg.file("", "memory.stat") or "")
    else:
        usage = read_int(cg.file("memory", "memory.usage_in_bytes") or "") or 0
        limit = read_int(cg.file("memory", "memory.limit_in_bytes") or "")
        peak = read_int(cg.file("memory", "memory.max_usage_in_bytes") or "") or usage
        failcnt = read_int(cg.file("memory", "memory.failcnt") or "") or 0
        stats = read_keyed(cg.file("memory", "memory.stat") or "")
    # No limit reads as "max" (v2) or a page-rounded 2^63 (v1): the host's memory is the real one.
    if limit is None or limit < 0 or (total and limit > total):
        limit = total
    return {"usage": usage, "max_usage": peak, "stats": stats, "failcnt": failcnt, "limit": limit}


def _v1_blkio_entries(path: str) -> list[dict[str, Any]]:
    entries = []
    for line in (read_text(path) or "").splitlines():
        parts = line.split()
        if len(parts) != 3 or ":" not in parts[0]:
            continue  # the "Total N" line
        major, _, minor = parts[0].partition(":")
        entries.append({"major": int(major), "minor": int(minor), "op": parts[1], "value": int(parts[2])})
    return entries


def _blkio(cg: ContainerCgroup) -> dict[str, Any]:
    out: dict[str, Any] = {
        "io_service_bytes_recursive": [],
        "io_serviced_recursive": [],
        "io_queue_recursive": [],
        "io_service_time_recursive": [],
        "io_wait_time_recursive": [],
        "io_merged_recursive": [],
        "io_time_recursive": [],
        "sectors_recursive": [],
    }
    if cg.version == 2:
        # io.stat: "8:0 rbytes=N wbytes=N rios=N wios=N ...", shaped as v1's Read/Write entries.
        for line in (read_text(cg.file("", "io.stat") or "") or "").splitlines():
            device, *pairs = line.split()
            major, _, minor = device.partition(":")
            values = dict(p.split("=", 1) for p in pairs if "=" in p)
            for key, field, op in (
                ("rbytes", "io_service_bytes_recursive", "Read"),
                ("wbytes", "io_service_bytes_recursive", "Write"),
                ("rios", "io_serviced_recursive", "Read"),
                ("wios", "io_serviced_recursive", "Write"),
            ):
                out[field].append(
                    {"major": int(major), "minor": int(minor), "op": op, "value": int(values.get(key, 0))}
                )
        return out
    for field, name in _V1_BLKIO.items():
        out[field] = _v1_blkio_entries(cg.file("blkio", name) or "")
    return out


def _pids(cg: ContainerCgroup) -> dict[str, Any]:
    current = read_int(cg.file("" if cg.version == 2 else "pids", "pids.current") or "") or 0
    limit = read_int(cg.file("" if cg.version == 2 else "pids", "pids.max") or "")
    doc: dict[str, Any] = {"current": current}
    if limit and limit > 0:
        doc["limit"] = limit
    return doc


def networks(pid: int) -> dict[str, dict[str, int]]:
    """Interface counters of the network namespace PID 1 lives in (its /proc/<pid>/net/dev)."""
    out: dict[str, dict[str, int]] = {}
    if pid <= 0:
        return out
    lines = (read_text(f"/proc/{pid}/net/dev") or "").splitlines()[2:]
    for line in lines:
        name, _, rest = line.partition(":")
        name = name.strip()
        values = rest.split()
        if name == "lo" or len(values) < 16:
            continue
        v = [int(x) for x in values]
        out[name] = {
            "rx_bytes": v[0],
            "rx_packets": v[1],
            "rx_errors": v[2],
            "rx_dropped": v[3],
            "tx_bytes": v[8],
            "tx_packets": v[9],
            "tx_errors": v[10],
            "tx_dropped": v[11],
        }
    return out


def sample(parent: str, container_id: str, pid: int) -> dict[str, Any]:
    """cpu_stats, memory_stats, blkio_stats, pids_stats and networks of a running container."""
    cg = ContainerCgroup(parent, container_id)
    return {
        "cpu_stats": _cpu(cg),
        "memory_stats": _memory(cg),
        "blkio_stats": _blkio(cg),
        "pids_stats": _pids(cg),
        "networks": networks(pid),
    }
