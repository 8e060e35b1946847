"""What the intent journal costs: API round trips of `create` (with a volume), `rm -v` and `commit`,
each of which now writes and removes one fsynced intent file, and the store check of a small root.

Usage: sudo python3 bench/bench_intents.py [RUNS] [--build] [--dev]
Our daemon is the zipapp get.sh installs (bench/ours.py; --dev: this checkout), without networking
(-b none): no container starts (an address is only given at start), so a bridge touches nothing here.
Run it from another checkout (e.g. one of main before the journal) to compare; it prints the median
and the minimum of each.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time

import ours as entries
from common import REPO, start_daemon, stop_daemon

sys.path.insert(0, os.path.join(REPO, "tests"))
from lib.busybox import write_rootfs_tar  # noqa: E402
from lib.daemon import docker_cmd, our_env  # noqa: E402
from lib.unixhttp import request  # noqa: E402


def timed(fn, *args, **kwargs) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - start, result


def line(label: str, times: list[float]) -> str:
    median, least = statistics.median(times) * 1000, min(times) * 1000
    return f"{label}: median {median:.1f} ms (min {least:.1f}, n={len(times)})"


def main() -> None:
    args = entries.take_options(sys.argv[1:])
    runs = int(args[0]) if args else 30
    entries.header("bench_intents.py", runs, networking="none, no container starts")
    d = start_daemon(network=False)
    try:
        tar = write_rootfs_tar(os.path.join(d.base, "busybox.tar"))
        d.out("import", "-", "busybox", input=open(tar, "rb").read())
        body = json.dumps({"Image": "busybox", "Cmd": ["true"], "Volumes": {"/data": {}}}).encode()
        headers = {"Content-Type": "application/json"}
        creates, removes, commits = [], [], []
        for n in range(runs):
            t, answer = timed(request, d.sock, "POST", "/v1.9/containers/create", body, headers)
            creates.append(t)
            cid = json.loads(answer[2])["Id"]
            t, _ = timed(request, d.sock, "POST", f"/v1.9/commit?container={cid}&repo=b/c&tag=t{n}")
            commits.append(t)
            t, _ = timed(request, d.sock, "DELETE", f"/v1.9/containers/{cid}?v=1")
            removes.append(t)
        print(line("create with a volume", creates))
        print(line("commit (tagged)", commits))
        print(line("rm -v", removes))
        d.stop()
        command = (entries.ours().daemon or docker_cmd()) + ["-d", "--check", "-g", d.root, "-p", d.pidfile]
        check = [timed(subprocess.run, command, capture_output=True, env=our_env()) for _ in range(5)]
        if check[0][1].returncode in (0, 1):  # a checkout without --check answers 2 (a usage error)
            print(line(f"docker -d --check, whole process ({runs + 1} images)", [t for t, _ in check]))
    finally:
        stop_daemon(d)


if __name__ == "__main__":
    main()
