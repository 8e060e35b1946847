"""Log throughput: a container printing LINES lines (`seq`), timed from `run -d` to `wait`, with
json-file (plain and rotated), none, and fluentd to a loopback listener that reads and discards.

Usage: sudo python3 bench/bench_logdrivers.py [RUNS] [LINES] [--plain] [--build] [--dev]
Our daemon and CLI are the zipapp get.sh installs (bench/ours.py; --dev: this checkout); the daemon
has a bridge of its own (never docker0), so the containers run with networking, as users' do.
For a before/after figure, copy this file into another checkout's bench/ (e.g. main's, exported with
`git archive main app bench tests | tar -x -C /tmp/main`) and run it there with `--plain` (json-file
only, the one driver that tree knows).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

import ours as entries
from common import REPO, docker_entry, start_daemon, stop_daemon, summary

sys.path.insert(0, os.path.join(REPO, "tests"))
from lib.busybox import write_rootfs_tar  # noqa: E402


def drain(conn: socket.socket) -> None:
    while conn.recv(1 << 16):
        pass


def sink() -> int:
    """A fluentd endpoint that reads and discards: what a fast collector costs us."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)

    def serve() -> None:
        while True:
            conn, _ = server.accept()
            threading.Thread(target=drain, args=(conn,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    return server.getsockname()[1]


def main() -> None:
    args = [a for a in entries.take_options(sys.argv[1:]) if a != "--plain"]
    plain = "--plain" in sys.argv[1:]
    runs = int(args[0]) if args else 5
    lines = int(args[1]) if len(args) > 1 else 200000
    work = tempfile.mkdtemp(prefix="ldbl-", dir="/var/tmp")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "DOCKER_HOST")}
    d = start_daemon(base=os.path.join(work, "d"))
    env["DOCKER_HOST"] = d.host
    ours = docker_entry()
    try:
        tar = write_rootfs_tar(os.path.join(work, "busybox.tar"))
        with open(tar, "rb") as f:
            subprocess.run(
                ours + ["import", "-", "busybox"], env=env, stdin=f, capture_output=True, check=True
            )
        configs = {"json-file": []}
        if not plain:
            configs["json-file max-size=1m max-file=3"] = [
                "--log-opt",
                "max-size=1m",
                "--log-opt",
                "max-file=3",
            ]
            configs["none"] = ["--log-driver", "none"]
            configs["fluentd (loopback sink)"] = [
                "--log-driver",
                "fluentd",
                "--log-opt",
                f"fluentd-address=127.0.0.1:{sink()}",
            ]
        plain_flag = ["--plain"] if plain else []
        entries.header("bench_logdrivers.py", runs, lines, *plain_flag, networking="a bridge of its own")
        print(f"# {lines} lines from `seq`, run -d to wait; {runs} runs each")
        for label, flags in configs.items():
            times = []
            for _ in range(runs):
                start = time.perf_counter()
                cid = subprocess.run(
                    ours + ["run", "-d", *flags, "busybox", "seq", "1", str(lines)],
                    env=env, capture_output=True, check=True,
                ).stdout.decode().strip()  # fmt: skip
                subprocess.run(ours + ["wait", cid], env=env, capture_output=True, check=True)
                times.append(time.perf_counter() - start)
                subprocess.run(ours + ["rm", cid], env=env, capture_output=True)
            print(summary(label, times))
    finally:
        stop_daemon(d)
        # The overlay driver's home stays bind-mounted after the daemon: unmount before removing.
        with open("/proc/self/mounts") as f:
            mounts = [line.split()[1] for line in f if line.split()[1].startswith(work + "/")]
        for mnt in sorted(mounts, reverse=True):
            subprocess.run(["umount", "-l", mnt], check=False)
        subprocess.run(["rm", "-rf", work], check=False)


if __name__ == "__main__":
    main()
