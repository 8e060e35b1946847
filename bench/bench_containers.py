"""Container figures: `run --rm busybox true`, 20 parallel `run -d`, memory, create and `ps -a` at scale.

Usage: sudo python3 bench/bench_containers.py [RUNS]
The daemon runs without networking (-b none) unless BENCH_BRIDGE names a bridge to use.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

from common import REPO, Daemon, docker_entry

sys.path.insert(0, os.path.join(REPO, "tests"))
from lib.busybox import write_rootfs_tar  # noqa: E402


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    work = tempfile.mkdtemp(prefix="ldbc-", dir="/var/tmp")
    bridge = os.environ.get("BENCH_BRIDGE")
    d = Daemon(os.path.join(work, "d"), ["-b", bridge] if bridge else []).start()
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
        children = subprocess.run(
            ["pgrep", "-P", str(d.proc.pid)], capture_output=True, text=True
        ).stdout.split()
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
            f"command: sudo python3 bench/bench_containers.py {runs}   (entry: {' '.join(docker)}, "
            f"network: {bridge or 'none'})"
        )
        print(
            f"run --rm busybox true: median {statistics.median(times) * 1000:.0f} ms "
            f"(min {min(times) * 1000:.0f}, n={runs})"
        )
        print(f"20 parallel run -d busybox sleep: all running after {parallel:.2f} s ({running} running)")
        print(
            f"daemon RSS idle: {idle_rss / 1024:.1f} MiB; "
            f"with 20 running containers: {busy_rss / 1024:.1f} MiB "
            f"(+{(busy_rss - idle_rss) / 20:.0f} KiB each); daemon children besides containers: "
            f"{len(children) - 20}"
        )
        print(f"create, one after another: median {statistics.median(creates) * 1000:.0f} ms each (n=100)")
        print(f"ps -a with {len(created)} containers: median {statistics.median(ps_times) * 1000:.0f} ms")
        dk("rm", *created)
    finally:
        d.stop()
        subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    main()
