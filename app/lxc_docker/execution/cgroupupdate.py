"""`docker update`: write new resource limits into a running container's cgroups (v1 or v2).

Keys are HostConfig's (API 1.24); a value of 0 (or "") leaves that limit as it is, as Docker does.
Limits the host cannot enforce come back as warnings, in Docker's words, instead of failing.
"""

from __future__ import annotations

from typing import Any

from .cgroupfs import ContainerCgroup, read_int, read_text, write


def _cpu_weight(shares: int) -> int:
    shares = min(max(shares, 2), 262144)
    return 1 + ((shares - 2) * 9999) // 262142


def _write_if(
    cg: ContainerCgroup, controller: str, name: str, value: Any, warning: str, out: list[str]
) -> None:
    path = cg.file(controller, name)
    if path is None:
        out.append(warning)
        return
    try:
        write(path, value)
    except FileNotFoundError:
        out.append(warning)


def _memory_v1(cg: ContainerCgroup, memory: int, swap: int, out: list[str]) -> None:
    limit = cg.file("memory", "memory.limit_in_bytes")
    memsw = cg.file("memory", "memory.memsw.limit_in_bytes")
    if limit is None:
        out.append("Your kernel does not support memory limit capabilities. Limitation discarded.")
        return
    has_memsw = memsw is not None and read_int(memsw) is not None
    if memory and swap and has_memsw:
        # memory <= memsw at every moment: raise memsw first when growing, lower memory first when not.
        current = read_int(limit) or 0
        order = [(memsw, swap), (limit, memory)] if memory >= current else [(limit, memory), (memsw, swap)]
        for path, value in order:
            write(path, value)  # type: ignore[arg-type]
        return
    if memory:
        current_sw = read_int(memsw) if has_memsw else None
        if current_sw is not None and 0 < current_sw < memory:
            write(memsw, memory)  # type: ignore[arg-type]
        write(limit, memory)
    if swap:
        if has_memsw:
            write(memsw, swap)  # type: ignore[arg-type]
        else:
            out.append("Your kernel does not support swap limit capabilities. Limitation discarded.")


def apply(parent: str, container_id: str, values: dict[str, Any]) -> list[str]:
    """Write what `values` asks into the cgroups; the warnings for what could not be applied."""
    cg = ContainerCgroup(parent, container_id)
    warnings: list[str] = []
    v2 = cg.version == 2
    shares = int(values.get("CpuShares") or 0)
    if shares:
        if v2:
            _write_if(
                cg,
                "",
                "cpu.weight",
                _cpu_weight(shares),
                "No cpu controller: CPU shares discarded.",
                warnings,
            )
        else:
            _write_if(cg, "cpu", "cpu.shares", shares, "No cpu cgroup: CPU shares discarded.", warnings)
    period, quota = int(values.get("CpuPeriod") or 0), int(values.get("CpuQuota") or 0)
    if period or quota:
        msg = "Your kernel does not support CPU cfs period/quota. Limitation discarded."
        if v2:
            old = (read_text(cg.file("", "cpu.max") or "") or "max 100000").split()
            text = f"{quota if quota > 0 else old[0]} {period or old[1]}"
            _write_if(cg, "", "cpu.max", text, msg, warnings)
        else:
            if period:
                _write_if(cg, "cpu", "cpu.cfs_period_us", period, msg, warnings)
            if quota:
                _write_if(cg, "cpu", "cpu.cfs_quota_us", quota, msg, warnings)
    for key, name in (("CpusetCpus", "cpuset.cpus"), ("CpusetMems", "cpuset.mems")):
        if values.get(key):
            msg = f"Your kernel does not support {name} for this container. Limitation discarded."
            _write_if(cg, "" if v2 else "cpuset", name, values[key], msg, warnings)
    memory, swap = int(values.get("Memory") or 0), int(values.get("MemorySwap") or 0)
    if memory or swap:
        if v2:
            msg = "Your kernel does not support memory limit capabilities. Limitation discarded."
            if memory:
                _write_if(cg, "", "memory.max", memory, msg, warnings)
            if swap:
                base = memory or read_int(cg.file("", "memory.max") or "") or 0
                value = "max" if swap == -1 else max(swap - base, 0)
                _write_if(
                    cg, "", "memory.swap.max", value, "No swap limit support. Limitation discarded.", warnings
                )
        else:
            _memory_v1(cg, memory, -1 if swap == -1 else swap, warnings)
    reservation = int(values.get("MemoryReservation") or 0)
    if reservation:
        msg = "Your kernel does not support memory soft limit capabilities. Limitation discarded."
        if v2:
            _write_if(cg, "", "memory.low", reservation, msg, warnings)
        else:
            _write_if(cg, "memory", "memory.soft_limit_in_bytes", reservation, msg, warnings)
    if int(values.get("KernelMemory") or 0):
        msg = "Your kernel does not support kernel memory limit capabilities. Limitation discarded."
        if v2:
            warnings.append(msg)
        else:
            _write_if(cg, "memory", "memory.kmem.limit_in_bytes", values["KernelMemory"], msg, warnings)
    weight = int(values.get("BlkioWeight") or 0)
    if weight:
        msg = "Your kernel does not support Block I/O weight. Weight discarded."
        if v2:
            _write_if(cg, "", "io.weight", weight, msg, warnings)
        elif cg.file("blkio", "blkio.weight"):
            _write_if(cg, "blkio", "blkio.weight", weight, msg, warnings)
        else:
            _write_if(cg, "blkio", "blkio.bfq.weight", weight, msg, warnings)
    return warnings
