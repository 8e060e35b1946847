"""Client round trip: `docker version` as a whole process against the bare interpreter's start-up.

Usage: sudo python3 bench/bench_client.py [RUNS]
"""

from __future__ import annotations

import os
import statistics
import sys

from common import docker_entry, start_daemon, stop_daemon, summary, time_command


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    d = start_daemon()
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
        print(f"command: sudo python3 bench/bench_client.py {runs}  (entry: {' '.join(entry)})")
        print(summary("/usr/bin/python3 -c pass", bare))
        print(summary("docker version (whole process, one API call)", ours))
        print(f"ratio: {statistics.median(ours) / statistics.median(bare):.2f}x the bare interpreter")
    finally:
        stop_daemon(d)


if __name__ == "__main__":
    main()
