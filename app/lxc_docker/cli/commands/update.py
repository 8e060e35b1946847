"""`docker update [OPTIONS] CONTAINER [CONTAINER...]`: change the resource limits and restart policy
of containers (a running container's cgroups at once)."""

from __future__ import annotations

from ...client.api import ApiError
from ...runconfig.parse import parse_memory
from ...runconfig.restart import PolicyError, parse_restart
from ..main import CommandError


def flags(cli):
    fs = cli.flags(
        "update", "[OPTIONS] CONTAINER [CONTAINER...]", "Update configuration of one or more containers"
    )
    fs.int(["-blkio-weight"], 0, "Block IO (relative weight), between 10 and 1000")
    fs.int(["-cpu-period"], 0, "Limit CPU CFS (Completely Fair Scheduler) period")
    fs.int(["-cpu-quota"], 0, "Limit CPU CFS (Completely Fair Scheduler) quota")
    fs.int(["c", "-cpu-shares"], 0, "CPU shares (relative weight)")
    fs.string(["-cpuset-cpus"], "", "CPUs in which to allow execution (0-3, 0,1)")
    fs.string(["-cpuset-mems"], "", "MEMs in which to allow execution (0-3, 0,1)")
    fs.string(["-kernel-memory"], "", "Kernel memory limit")
    fs.string(["m", "-memory"], "", "Memory limit")
    fs.string(["-memory-reservation"], "", "Memory soft limit")
    fs.string(["-memory-swap"], "", "Swap limit equal to memory plus swap: '-1' to enable unlimited swap")
    fs.string(["-restart"], "", "Restart policy to apply when a container exits")
    return fs


def _bytes(text: str) -> int:
    if text == "-1":
        return -1
    try:
        return parse_memory(text)
    except ValueError as e:
        raise CommandError(str(e)) from None


def run(cli, args: list[str]) -> int:
    opts, rest = cli.parse(flags(cli), args, 1)
    body: dict = {
        "BlkioWeight": opts.blkio_weight,
        "CpuPeriod": opts.cpu_period,
        "CpuQuota": opts.cpu_quota,
        "CpuShares": opts.cpu_shares,
        "CpusetCpus": opts.cpuset_cpus,
        "CpusetMems": opts.cpuset_mems,
        "KernelMemory": _bytes(opts.kernel_memory) if opts.kernel_memory else 0,
        "Memory": _bytes(opts.memory) if opts.memory else 0,
        "MemoryReservation": _bytes(opts.memory_reservation) if opts.memory_reservation else 0,
        "MemorySwap": _bytes(opts.memory_swap) if opts.memory_swap else 0,
    }
    if opts.restart:
        try:
            body["RestartPolicy"] = parse_restart(opts.restart)
        except PolicyError as e:
            raise CommandError(str(e)) from None
    if not any(body.values()):
        raise CommandError("You must provide one or more flags when using this command.")
    failed = False
    for name in rest:
        try:
            result = cli.client.json("POST", f"/containers/{name}/update", json_body=body) or {}
        except ApiError as e:
            cli.err.write(f"Error: {e}\n")
            failed = True
            continue
        for warning in result.get("Warnings") or ():
            cli.err.write(f"WARNING: {warning}\n")
        cli.out.write(name + "\n")
    if failed:
        raise CommandError("failed to update one or more containers")
    return 0
