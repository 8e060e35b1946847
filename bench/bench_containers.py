"""Container figures: `run --rm busybox true`, 20 parallel `run -d`, memory, create and `ps -a` at scale.

Usage: sudo python3 bench/bench_containers.py [RUNS] [--build] [--dev]
Our daemon and CLI are the zipapp get.sh installs (bench/ours.py; --dev: this checkout). The daemon
gets a bridge of its own (never docker0), made and removed here; BENCH_BRIDGE=NAME uses an existing
bridge instead, BENCH_BRIDGE=none runs without networking (-b none).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import ours as entries
from common import REPO, docker_entry, start_daemon, stop_daemon

sys.path.insert(0, os.path.join(REPO, "tests"))
from lib.busybox import write_rootfs_tar  # noqa: E402


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def engine_processes(pid: int) -> int:
    """The daemon and its descendants in its own PID namespace (keeper, helpers): every process the
    engine runs besides the containers' own, which live in namespaces of theirs."""
    parents: dict[int, int] = {}
    for name in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{name}/stat") as f:
                parents[int(name)] = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError):
            continue
    ours, grew = {pid}, True
    while grew:
        found = {p for p, parent in parents.items() if parent in ours} - ours
        grew = bool(found)
        ours |= found
    own_ns = os.readlink(f"/proc/{pid}/ns/pid")
    count = 0
    for p in ours:
        try:
            count += os.readlink(f"/proc/{p}/ns/pid") == own_ns
        except OSError:
            continue  # exited meanwhile
    return count


def main() -> None:
    args = entries.take_options(sys.argv[1:])
    runs = int(args[0]) if args else 30
    work = tempfile.mkdtemp(prefix="ldbc-", dir="/var/tmp")
    bridge = os.environ.get("BENCH_BRIDGE")
    extra = ["-b", bridge] if bridge and bridge != "none" else []
    d = start_daemon(*extra, base=os.path.join(work, "d"), network=not bridge)
    bridge = bridge or f"{d.extra_args[1]}, its own"
    entries.header("bench_containers.py", runs, networking=bridge)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["DOCKER_HOST"] = d.host
    docker = docker_entry()

    def dk(*args: str, **kw) -> subprocess.CompletedProcess:
        return subprocess.run(docker + list(args), env=env, capture_output=True, check=True, **kw)

    try:
        tar = write_rootfs_tar(os.path.join(work, "busybox.tar"))
        with open(tar, "rb") as f:
            dk("import", "-", "busybox", stdin=f)
        for _ in range(3):
            dk("run", "--rm", "busybox", "true")
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            dk("run", "--rm", "busybox", "true")
            times.append(time.perf_counter() - start)
        idle_rss = rss_kib(d.proc.pid)
        idle_procs = engine_processes(d.proc.pid)
        ids: list[str] = []
        lock = threading.Lock()

        def one() -> None:
            out = dk("run", "-d", "busybox", "sleep", "600").stdout.decode().strip()
            with lock:
                ids.append(out)

        start = time.perf_counter()
        threads = [threading.Thread(target=one) for _ in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        parallel = time.perf_counter() - start
        running = len(dk("ps", "-q").stdout.split())
        busy_rss = rss_kib(d.proc.pid)
        busy_procs = engine_processes(d.proc.pid)
        dk("rm", "-f", *ids)
        creates = []
        for _ in range(100):
            start = time.perf_counter()
            subprocess.run(
                docker + ["create", "busybox", "true"], env=env, stdout=subprocess.DEVNULL, check=True
            )
            creates.append(time.perf_counter() - start)
        for _ in range(400):
            subprocess.run(
                docker + ["create", "busybox", "true"], env=env, stdout=subprocess.DEVNULL, check=True
            )
        created = dk("ps", "-a", "-q", "--no-trunc").stdout.decode().split()
        ps_times = []
        for _ in range(10):
            start = time.perf_counter()
            dk("ps", "-a")
            ps_times.append(time.perf_counter() - start)
        print(
            f"run --rm busybox true: median {statistics.median(times) * 1000:.0f} ms "
            f"(min {min(times) * 1000:.0f}, n={runs})"
        )
        print(f"20 parallel run -d busybox sleep: all running after {parallel:.2f} s ({running} running)")
        print(
            f"daemon RSS idle: {idle_rss / 1024:.1f} MiB; "
            f"with 20 running containers: {busy_rss / 1024:.1f} MiB "
            f"(+{(busy_rss - idle_rss) / 20:.0f} KiB each); engine processes outside the "
            f"containers: {idle_procs} idle, {busy_procs} with 20 running"
        )
        print(f"create, one after another: median {statistics.median(creates) * 1000:.0f} ms each (n=100)")
        print(f"ps -a with {len(created)} containers: median {statistics.median(ps_times) * 1000:.0f} ms")
        dk("rm", *created)
    finally:
        stop_daemon(d)
        subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    main()
