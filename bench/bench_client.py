"""Client round trip: `docker version` as a whole process against the bare interpreter's start-up.

Usage: sudo python3 bench/bench_client.py [RUNS] [--build] [--dev]
Our daemon and CLI are the zipapp get.sh installs (bench/ours.py; --dev: this checkout). The daemon runs
without networking (-b none): `docker version` starts no container, which is all a bridge would touch.
"""

from __future__ import annotations

import os
import statistics
import sys

import ours as entries
from common import docker_entry, start_daemon, stop_daemon, summary, time_command


def main() -> None:
    args = entries.take_options(sys.argv[1:])
    runs = int(args[0]) if args else 50
    entries.header("bench_client.py", runs, networking="none, no container runs")
    d = start_daemon(network=False)
    try:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        env["DOCKER_HOST"] = d.host
        entry = docker_entry()
        time_command(entry + ["version"], 3, env)  # warm the page cache and .pyc files
        bare: list[float] = []
        ours: list[float] = []
        # Interleaved, so that drift in the machine's load hits both sides alike.
        for _ in range(runs):
            bare += time_command(["/usr/bin/python3", "-c", "pass"], 1)
            ours += time_command(entry + ["version"], 1, env)
        print(summary("/usr/bin/python3 -c pass", bare))
        print(summary("docker version (whole process, one API call)", ours))
        print(f"ratio: {statistics.median(ours) / statistics.median(bare):.2f}x the bare interpreter")
    finally:
        stop_daemon(d)


if __name__ == "__main__":
    main()
