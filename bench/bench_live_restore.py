"""Live restore figures: `run --rm busybox true` through the keeper, the keeper's memory, and how long a
daemon killed with SIGKILL takes to come back with N counting containers up again.

Usage: sudo python3 bench/bench_live_restore.py [RUNS] [CONTAINERS] [--build] [--dev]
Our daemon and CLI are the zipapp get.sh installs (bench/ours.py; --dev: this checkout); the daemon
has a bridge of its own (never docker0), so the containers run with networking.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import ours as entries
from bench_containers import rss_kib
from common import REPO, docker_entry, start_daemon, stop_daemon, summary, time_command

sys.path.insert(0, os.path.join(REPO, "tests"))
from lib.busybox import write_rootfs_tar  # noqa: E402
from lib.daemon import our_env  # noqa: E402

COUNTER = "i=0; while true; do echo $i; i=$((i+1)); sleep 0.2; done"


def keeper_pids(root: str) -> list[int]:
    found = []
    for name in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{name}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if b"keeper" in argv and root.encode() in argv:
            found.append(int(name))
    return found


def main() -> None:
    args = entries.take_options(sys.argv[1:])
    runs = int(args[0]) if args else 20
    count = int(args[1]) if len(args) > 1 else 20
    entries.header("bench_live_restore.py", runs, count, networking="a bridge of its own")
    work = tempfile.mkdtemp(prefix="ldbl-", dir="/var/tmp")
    d = start_daemon(base=os.path.join(work, "d"))
    try:
        tar = write_rootfs_tar(os.path.join(work, "busybox.tar"))
        d.out("import", "-", "busybox", input=open(tar, "rb").read())
        cmd = docker_entry() + ["-H", d.host]
        print(
            summary(
                "run --rm busybox true",
                time_command(cmd + ["run", "--rm", "busybox", "true"], runs, our_env()),
            )
        )
        ids = [d.out("run", "-d", "busybox", "sh", "-c", COUNTER).strip() for _ in range(count)]
        [keeper] = keeper_pids(d.root)
        print(f"keeper RSS with {count} containers: {rss_kib(keeper)} KiB; keepers for this daemon: 1")
        d.proc.kill()
        d.proc.wait(10)
        time.sleep(2)  # output piles up in the pipes meanwhile: what the restart drains
        start = time.perf_counter()
        d.start()
        while True:
            states = [s["State"] for s in json.loads(d.out("inspect", *ids))]
            if all(s["Running"] and not s.get("Ghost") for s in states):
                break
        print(
            f"kill -9, restart with {count} counting containers: all Up after "
            f"{time.perf_counter() - start:.2f} s"
        )
        subprocess.run(cmd + ["rm", "-f", *ids], env=our_env(), capture_output=True, check=True)
    finally:
        stop_daemon(d)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
