"""The execution drivers side by side, beside Docker 20.10, in one run of this script.

Usage: sudo python3 bench/bench_drivers.py [--runs N] [--parallel M] [--build] [--dev]

For lxc-docker with `-e native`, `-e oci --oci-runtime runc`, `-e oci --oci-runtime crun` and
`-e lxc`, and for Debian's dockerd 20.10 (runc through containerd and a shim per container), each
engine a daemon of its own with its own root, socket and bridge (never docker0), the same busybox
image imported:
- `docker run --rm busybox true`, the whole client process, networking on, N runs each, interleaved
  across the engines so that a slow spell of the shared machine hits all alike;
- M (20) `docker run -d busybox sleep 1000` started at once: the time until the last client returns;
- memory per running container: the engine's processes (every process whose command line names the
  engine's own directory: our daemon; with `-e lxc` the `lxc-start` monitor of each container too, whose
  `-P` names the daemon's root; dockerd, its containerd and the containerd-shim of each container)
  measured before the M containers and while they run, divided by M. RSS and PSS (from
  /proc/PID/smaps_rollup, which shares a binary's pages among the processes mapping it). The
  containers' own processes (`sleep`) are the same on every engine and are not counted.

Our daemons are the zipapp get.sh installs (bench/ours.py: packaging/dist, built when stale or with
--build; --dev runs this checkout instead). dockerd runs as common.dockerd_argv starts it
(--iptables=false, its own --data-root and --exec-root).
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import ours as entries  # noqa: E402
from common import REPO, Engine, Rig, clean_env, docker_entry, interleaved, is_root, print_header, report, sh  # noqa: E402

DRIVERS = (
    ("native", []),
    ("oci-runc", ["-e", "oci", "--oci-runtime", "runc"]),
    ("oci-crun", ["-e", "oci", "--oci-runtime", "crun"]),
    ("lxc", ["-e", "lxc"]),
)


def engine_memory(base: str) -> tuple[int, int, int]:
    """(processes, RSS KiB, PSS KiB) of every process whose command line names `base`."""
    count = rss = pss = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                if base.encode() not in f.read():
                    continue
            with open(f"/proc/{entry}/smaps_rollup") as f:
                fields = dict(line.split(":", 1) for line in f if ":" in line and not line[0].isdigit())
        except OSError:
            continue  # exited meanwhile
        count += 1
        rss += int(fields["Rss"].split()[0])
        pss += int(fields["Pss"].split()[0])
    return count, rss, pss


def parallel_run(engine: Engine, count: int) -> tuple[float, list[str]]:
    """Start `count` detached containers at once; seconds until the last client returned, and ids."""
    argv = [*engine.client, "run", "-d", "busybox", "sleep", "1000"]
    start = time.perf_counter()
    procs = [subprocess.Popen(argv, env=engine.env, stdout=subprocess.PIPE) for _ in range(count)]
    ids = [p.communicate()[0].decode().strip() for p in procs]
    elapsed = time.perf_counter() - start
    if any(p.returncode for p in procs):
        raise RuntimeError(f"{engine.name}: a `run -d` failed")
    return elapsed, ids


def remove_all(engine: Engine, ids: list[str]) -> None:
    subprocess.run([*engine.client, "rm", "-f", *ids], env=engine.env, capture_output=True, check=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10, help="runs of each `run --rm` (default 10)")
    ap.add_argument("--parallel", type=int, default=20, help="containers started at once (default 20)")
    entries.add_options(ap)
    opts = ap.parse_args()
    if not is_root("bench_drivers.py"):
        return 1
    entries.use_options(opts)
    flags = entries.flags()
    print_header(f"sudo python3 bench/bench_drivers.py --runs {opts.runs} --parallel {opts.parallel}{flags}")
    print(entries.ours().describe())
    rig = Rig("bench-drivers-")
    try:
        env = clean_env(PYTHONPATH=os.path.join(REPO, "app"))  # for --dev; the zipapp runs with -I
        entry = docker_entry()
        for index, (name, args) in enumerate(DRIVERS):
            bridge = f"lbd{os.getpid() % 10000}{index}"
            engine = rig.ours(name, f"lxc-docker -e {name}", entry, bridge, env, *args)
            info = sh(*engine.client, "info", env=env, text=True).stdout
            driver = next((line for line in info.splitlines() if "Execution Driver" in line), "").strip()
            print(f"{engine.name} ({driver}): {shlex.join(engine.cmd)}")
        rig.docker20("Docker 20.10 (runc via containerd)", f"lbd{os.getpid() % 10000}d")

        rig.import_busybox(check_network=True)
        runs = {
            engine.name: ([*engine.client, "run", "--rm", "busybox", "true"], engine.env)
            for engine in rig.engines
        }
        report(
            f"`run --rm busybox true` with networking, {opts.runs} runs each, median (min-max):",
            interleaved(runs, opts.runs),
        )

        print(f"{opts.parallel} parallel `run -d busybox sleep 1000`, and the engine's memory per container:")
        for engine in rig.engines:
            before = engine_memory(engine.base)
            elapsed, ids = parallel_run(engine, opts.parallel)
            during = engine_memory(engine.base)
            remove_all(engine, ids)
            extra = during[0] - before[0]
            per_rss = (during[1] - before[1]) / opts.parallel
            per_pss = (during[2] - before[2]) / opts.parallel
            print(
                f"  {elapsed * 1000:7.0f} ms for {opts.parallel}  | engine {before[0]} -> {during[0]} "
                f"processes "
                f"(+{extra}), RSS {before[1] / 1024:.1f} -> {during[1] / 1024:.1f} MiB, "
                f"per container RSS {per_rss:.0f} KiB, PSS {per_pss:.0f} KiB  {engine.name}"
            )
        return 0
    finally:
        rig.close()


if __name__ == "__main__":
    sys.exit(main())
