"""`docker import`, `save` and `load` of a 200 MB, 10,000-file rootfs, against plain `tar -x` and `cat`.

Usage: sudo python3 bench/bench_import.py [RUNS] [--build] [--dev]
The daemon's graph root and the `tar -x` target are on the same filesystem (/var/tmp). Our daemon and
CLI are the zipapp get.sh installs (bench/ours.py; --dev: this checkout); the daemon runs without
networking (-b none): no container runs, so a bridge would touch nothing measured.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import ours as entries
from bench_extract import CACHE, _generate
from common import docker_entry, start_daemon, stop_daemon


def timed(
    argv: list[str],
    stdin_path: str | None = None,
    stdout_path: str | None = None,
    env: dict[str, str] | None = None,
) -> float:
    stdin = open(stdin_path, "rb") if stdin_path else subprocess.DEVNULL
    stdout = open(stdout_path, "wb") if stdout_path else subprocess.DEVNULL
    try:
        start = time.perf_counter()
        subprocess.run(argv, stdin=stdin, stdout=stdout, env=env, check=True)
        return time.perf_counter() - start
    finally:
        for f in (stdin, stdout):
            if f is not subprocess.DEVNULL:
                f.close()


def drop_caches() -> None:
    # Writes must reach the disk between runs, or the next run pays for the previous one's flush.
    subprocess.run(["sync"], check=True)


def main() -> None:
    args = entries.take_options(sys.argv[1:])
    runs = int(args[0]) if args else 3
    entries.header("bench_import.py", runs, networking="none, no container runs")
    if not os.path.exists(CACHE):
        _generate(CACHE)
    size_mb = os.path.getsize(CACHE) / 1e6
    work = tempfile.mkdtemp(prefix="ldbi-", dir="/var/tmp")
    d = start_daemon(base=os.path.join(work, "daemon"), network=False)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["DOCKER_HOST"] = d.host
    docker = docker_entry()
    results: dict[str, list[float]] = {"tar -x": [], "import": [], "save": [], "load": [], "cat": []}
    try:
        for i in range(runs):
            target = os.path.join(work, f"tar-{i}")
            os.makedirs(target)
            drop_caches()
            results["tar -x"].append(timed(["tar", "-x", "-f", CACHE, "-C", target]))
            shutil.rmtree(target)
            drop_caches()
            results["import"].append(timed(docker + ["import", "-", f"bench/import:{i}"], CACHE, env=env))
            drop_caches()
            saved = os.path.join(work, "saved.tar")
            results["save"].append(timed(docker + ["save", f"bench/import:{i}"], stdout_path=saved, env=env))
            results["cat"].append(timed(["cat", saved], stdout_path="/dev/null"))
            subprocess.run(
                docker + ["rmi", f"bench/import:{i}"], env=env, stdout=subprocess.DEVNULL, check=True
            )
            drop_caches()
            results["load"].append(timed(docker + ["load"], saved, env=env))
            subprocess.run(
                docker + ["rmi", f"bench/import:{i}"], env=env, stdout=subprocess.DEVNULL, check=True
            )
            os.unlink(saved)
    finally:
        stop_daemon(d)
        shutil.rmtree(work, ignore_errors=True)
    med = {k: statistics.median(v) for k, v in results.items()}
    print(f"archive {size_mb:.0f} MB, ~10,000 entries")
    for key, value in med.items():
        print(f"{key:>8}: median {value:.2f} s over {runs} runs")
    print(f"import / tar -x = {med['import'] / med['tar -x']:.2f}")
    print(f"save / cat = {med['save'] / med['cat']:.2f}, save / import = {med['save'] / med['import']:.2f}")
    print(f"load / import = {med['load'] / med['import']:.2f}")


if __name__ == "__main__":
    main()
