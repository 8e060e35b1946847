"""`stats --no-stream` of 20 running containers: the whole client process.

Usage: sudo python3 bench/bench_stats.py [RUNS] [CONTAINERS] [--build] [--dev]
Our daemon and CLI are the zipapp get.sh installs (bench/ours.py; --dev: this checkout); the daemon
has a bridge of its own (never docker0), so the containers have networking (and network counters).
Starts the containers (`sleep`), then times our CLI (and the docker CLI 28 when /usr/local/bin/docker
exists) printing one stats table of all of them. Each container's one-shot sample waits for a second
sample one second after the first (a CPU % needs two, as Docker 1.12 to 20.10 did), and both CLIs ask
for the containers in parallel, so about one second is the floor.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile

import ours as entries
from common import REPO, docker_entry, start_daemon, stop_daemon, summary, time_command

sys.path.insert(0, os.path.join(REPO, "tests"))
from lib.busybox import write_rootfs_tar  # noqa: E402

DOCKER_CLI = "/usr/local/bin/docker"


def main() -> None:
    args = entries.take_options(sys.argv[1:])
    runs = int(args[0]) if args else 5
    count = int(args[1]) if len(args) > 1 else 20
    entries.header("bench_stats.py", runs, count, networking="a bridge of its own")
    work = tempfile.mkdtemp(prefix="ldbs-", dir="/var/tmp")
    d = start_daemon(base=os.path.join(work, "d"))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "DOCKER_HOST")}
    env["DOCKER_HOST"] = d.host
    env["DOCKER_CONFIG"] = os.path.join(work, "cli-config")
    ours = docker_entry()
    ids: list[str] = []
    try:
        tar = write_rootfs_tar(os.path.join(work, "busybox.tar"))
        with open(tar, "rb") as f:
            argv = ours + ["import", "-", "busybox"]
            subprocess.run(argv, env=env, stdin=f, capture_output=True, check=True)
        for _ in range(count):
            run = subprocess.run(
                ours + ["run", "-d", "-m", "32m", "busybox", "sleep", "100000"],
                env=env,
                capture_output=True,
                check=True,
            )
            ids.append(run.stdout.decode().strip())
        table = subprocess.run(ours + ["stats", "--no-stream"], env=env, capture_output=True, check=True)
        rows = table.stdout.decode().splitlines()[1:]
        assert len(rows) == count and all("/ 32 MiB" in r for r in rows), table.stdout
        print(f"# {count} running containers; {runs} runs each; daemon {d.host}")
        argv = ours + ["stats", "--no-stream"]
        print(summary("our CLI: stats --no-stream", time_command(argv, runs, env)))
        if shutil.which(DOCKER_CLI):
            argv = [DOCKER_CLI, "stats", "--no-stream"]
            print(summary("docker CLI 28: stats --no-stream", time_command(argv, runs, env)))
    finally:
        for cid in ids:
            subprocess.run(ours + ["rm", "-f", cid], env=env, capture_output=True)
        stop_daemon(d)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
