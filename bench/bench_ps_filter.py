"""`ps -a --filter label=x` with 500 containers, half of them labelled: the whole client process.

Usage: sudo python3 bench/bench_ps_filter.py [RUNS] [CONTAINERS] [--build] [--dev]
Creates the containers through the API (they never run), then times our CLI (and the docker CLI 28
when /usr/local/bin/docker exists) listing them, filtered and not. Our daemon and CLI are the zipapp
get.sh installs (bench/ours.py; --dev: this checkout). The daemon runs without networking (-b none):
no container ever starts, so a bridge would touch nothing measured.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile

import ours as entries
from common import REPO, docker_entry, start_daemon, stop_daemon, summary, time_command

sys.path.insert(0, os.path.join(REPO, "tests"))
from lib.busybox import write_rootfs_tar  # noqa: E402
from lib.unixhttp import request  # noqa: E402

DOCKER_CLI = "/usr/local/bin/docker"


def main() -> None:
    args = entries.take_options(sys.argv[1:])
    runs = int(args[0]) if args else 10
    count = int(args[1]) if len(args) > 1 else 500
    entries.header("bench_ps_filter.py", runs, count, networking="none, no container runs")
    work = tempfile.mkdtemp(prefix="ldbf-", dir="/var/tmp")
    d = start_daemon(base=os.path.join(work, "d"), network=False)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "DOCKER_HOST")}
    env["DOCKER_HOST"] = d.host
    env["DOCKER_CONFIG"] = os.path.join(work, "cli-config")
    ours = docker_entry()
    try:
        tar = write_rootfs_tar(os.path.join(work, "busybox.tar"))
        with open(tar, "rb") as f:
            subprocess.run(
                ours + ["import", "-", "busybox"], env=env, stdin=f, capture_output=True, check=True
            )
        for i in range(count):
            body = {"Image": "busybox", "Cmd": ["true"], "Labels": {"x": "1"} if i % 2 == 0 else {"y": "1"}}
            status, _, answer = request(
                d.sock,
                "POST",
                "/v1.24/containers/create",
                json.dumps(body).encode(),
                {"Content-Type": "application/json"},
            )
            assert status == 201, answer
        listed = subprocess.run(
            ours + ["ps", "-a", "-q", "--filter", "label=x"], env=env, capture_output=True, check=True
        ).stdout.split()
        assert len(listed) == (count + 1) // 2, len(listed)
        print(f"# {count} containers, {len(listed)} labelled x; {runs} runs each; daemon {d.host}")
        for label, argv in (
            ("our CLI: ps -a --filter label=x", ours + ["ps", "-a", "--filter", "label=x"]),
            ("our CLI: ps -a (no filter)", ours + ["ps", "-a"]),
        ):
            time_command(argv, 1, env)  # warm the page cache
            print(summary(label, time_command(argv, runs, env)))
        if shutil.which(DOCKER_CLI):
            argv = [DOCKER_CLI, "ps", "-a", "--filter", "label=x"]
            time_command(argv, 1, env)
            print(summary("docker CLI 28: ps -a --filter label=x", time_command(argv, runs, env)))
    finally:
        stop_daemon(d)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
