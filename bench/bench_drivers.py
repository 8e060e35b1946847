"""The execution drivers side by side, beside Docker 20.10, in one run of this script.

Usage: sudo python3 bench/bench_drivers.py [--runs N] [--parallel M]

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

dockerd runs as bench_startup.py starts it (--iptables=false, its own --data-root and --exec-root).
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_startup import DEBIAN_CLI, DOCKERD, Bridge, Engine, clean_env, interleaved, report, sh  # noqa: E402, I001
from common import REPO, docker_entry  # noqa: E402, I001
from lib.busybox import write_rootfs_tar  # noqa: E402, I001

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
    opts = ap.parse_args()
    if os.geteuid() != 0:
        print("bench_drivers.py starts daemons: run it as root", file=sys.stderr)
        return 1
    print(f"command: sudo python3 bench/bench_drivers.py --runs {opts.runs} --parallel {opts.parallel}")
    print(f"machine: {os.cpu_count()} cores, Linux {os.uname().release}, load {os.getloadavg()[0]:.2f}")
    work = tempfile.mkdtemp(prefix="bench-drivers-", dir="/var/tmp")
    bridges: list[Bridge] = []
    engines: list[Engine] = []
    try:
        env = clean_env(PYTHONPATH=os.path.join(REPO, "app"))
        entry = docker_entry()
        for index, (name, args) in enumerate(DRIVERS):
            bridge = Bridge(f"lbd{os.getpid() % 10000}{index}")
            bridges.append(bridge)
            base = os.path.join(work, name)
            os.makedirs(base)
            sock = "unix://" + os.path.join(base, "docker.sock")
            root, pidfile = os.path.join(base, "root"), os.path.join(base, "pid")
            argv = [*entry, "-d", "-H", sock, "-g", root, "-p", pidfile, "-b", bridge.name, *args]
            engine = Engine(f"lxc-docker -e {name}", base, argv, env, [*entry, "-H", sock])
            engines.append(engine)
            info = sh(*engine.client, "info", env=env, text=True).stdout
            driver = next((line for line in info.splitlines() if "Execution Driver" in line), "").strip()
            print(f"{engine.name} ({driver}): {shlex.join(argv)}")
        if os.access(DOCKERD, os.X_OK):
            bridge = Bridge(f"lbd{os.getpid() % 10000}d")
            bridges.append(bridge)
            base = os.path.join(work, "docker20")
            os.makedirs(base)
            sock = "unix://" + os.path.join(base, "docker.sock")
            argv = [DOCKERD, "--data-root", os.path.join(base, "root"),
                    "--exec-root", os.path.join(base, "exec"), "-H", sock,
                    "--pidfile", os.path.join(base, "docker.pid"), f"--bridge={bridge.name}",
                    "--iptables=false", "--ip-forward=false", "--ip-masq=false"]  # fmt: skip
            engines.append(
                Engine(
                    "Docker 20.10 (runc via containerd)", base, argv, clean_env(), [DEBIAN_CLI, "-H", sock]
                )
            )
            print(f"Docker 20.10: {shlex.join(argv)}")
        else:
            print(f"no {DOCKERD} (apt-get install docker.io): Docker 20.10's figures are left out")

        tar = write_rootfs_tar(os.path.join(work, "busybox.tar"))
        runs: dict[str, tuple[list[str], dict[str, str]]] = {}
        for engine in engines:
            with open(tar, "rb") as f:
                sh(*engine.client, "import", "-", "busybox", stdin=f, env=engine.env)
            out = sh(*engine.client, "run", "--rm", "busybox", "ip", "-4", "addr", "show", "eth0",
                     env=engine.env, text=True).stdout  # fmt: skip
            if "inet " not in out:
                raise RuntimeError(f"{engine.name}: the container has no network:\n{out}")
            runs[engine.name] = ([*engine.client, "run", "--rm", "busybox", "true"], engine.env)
        report(
            f"`run --rm busybox true` with networking, {opts.runs} runs each, median (min-max):",
            interleaved(runs, opts.runs),
        )

        print(f"{opts.parallel} parallel `run -d busybox sleep 1000`, and the engine's memory per container:")
        for engine in engines:
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
        for engine in reversed(engines):
            engine.stop()
        for bridge in bridges:
            bridge.remove()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
