"""`docker build`: a 6-step Dockerfile cold and fully cached, and the cached rebuild of a 10-step
Dockerfile with a 50 MB context (how much of it is spent sending the context).

Usage: sudo python3 bench/bench_build.py [RUNS] [--build] [--dev]
Our daemon and CLI are the zipapp get.sh installs (bench/ours.py; --dev: this checkout); the daemon
has a bridge of its own (never docker0), so RUN steps get networking, as users' builds do.
With DOCKER_HOST set, the same builds also run against that engine through the docker CLI at
/usr/local/bin/docker (DOCKER_BUILDKIT=0, the classic builder) for comparison.

"Cold" builds use --no-cache (every step runs, intermediate containers removed, as Docker's
default --rm does); "cached" rebuilds change nothing. The upload share is the time from the
start of the command until the client has sent the whole context, over the whole command.
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
from common import REPO, docker_entry, start_daemon, stop_daemon

sys.path.insert(0, os.path.join(REPO, "tests"))
from lib.busybox import write_rootfs_tar  # noqa: E402

BASE = "bench-busybox"
SIX_STEPS = f"""FROM {BASE}
RUN echo hello > /hello
ENV GREETING hello world
ADD file.txt /app/
RUN cat /app/file.txt /hello > /app/both
CMD ["cat", "/app/both"]
"""
TEN_STEPS = f"""FROM {BASE}
MAINTAINER Bench <bench@example.com>
ENV APP /src
RUN mkdir -p /var/log/app
ADD . /src
RUN ls /src > /src.list
WORKDIR /src
EXPOSE 8080
USER daemon
CMD ["cat", "/src.list"]
"""
DOCKER_CLI = "/usr/local/bin/docker"


def make_contexts(work: str) -> tuple[str, str]:
    small = os.path.join(work, "six")
    os.makedirs(small)
    with open(os.path.join(small, "Dockerfile"), "w") as f:
        f.write(SIX_STEPS)
    with open(os.path.join(small, "file.txt"), "w") as f:
        f.write("a file for ADD\n")
    big = os.path.join(work, "ten")
    os.makedirs(os.path.join(big, "data"))
    with open(os.path.join(big, "Dockerfile"), "w") as f:
        f.write(TEN_STEPS)
    # 50 MB: 40 files of 1 MB and 10,000 small ones, like a source tree with some assets.
    for i in range(40):
        with open(os.path.join(big, "data", f"asset-{i}.bin"), "wb") as f:
            f.write(os.urandom(1 << 20))
    for i in range(10_000):
        sub = os.path.join(big, "src", f"pkg{i // 500}")
        os.makedirs(sub, exist_ok=True)
        with open(os.path.join(sub, f"mod{i}.py"), "wb") as f:
            f.write(os.urandom(500).hex().encode())
    return small, big


def context_size(path: str) -> int:
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(path) for f in files)


def timed_build(argv: list[str], env: dict[str, str]) -> tuple[float, float | None]:
    """(whole command, time until the context was sent) in seconds."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    sent = None
    assert proc.stderr is not None
    for line in proc.stderr:
        # Ours prints "Uploading context N bytes" once sent; Docker's CLI "Sending build context".
        if sent is None and (line.startswith(b"Uploading context") or b"Sending build context" in line):
            sent = time.perf_counter() - start
    if proc.wait() != 0:
        raise RuntimeError(f"{' '.join(argv)} failed")
    return time.perf_counter() - start, sent


def measure(label: str, docker: list[str], env: dict[str, str], small: str, big: str, runs: int) -> None:
    cold = [
        timed_build(docker + ["build", "--no-cache", "--rm", "-t", "bench/six", small], env)[0]
        for _ in range(runs)
    ]
    cached = [
        timed_build(docker + ["build", "--rm", "-t", "bench/six", small], env)[0] for _ in range(runs * 3)
    ]
    timed_build(docker + ["build", "--rm", "-t", "bench/ten", big], env)  # fill the cache
    big_runs = [timed_build(docker + ["build", "--rm", "-t", "bench/ten", big], env) for _ in range(runs * 2)]
    totals = [t for t, _ in big_runs]
    shares = [s / t for t, s in big_runs if s is not None]
    print(f"[{label}]")
    print(f"  6-step build, cold (--no-cache):  {_stats(cold)}")
    print(f"  6-step build, fully cached:       {_stats(cached)}")
    line = f"  10-step, 50 MB context, cached:   {_stats(totals)}"
    if shares:
        line += f"; context sent at {statistics.median(shares) * 100:.0f}% of it"
    print(line)


def _stats(times: list[float]) -> str:
    return f"median {statistics.median(times):.3f} s (min {min(times):.3f}, n={len(times)})"


def main() -> None:
    args = entries.take_options(sys.argv[1:])
    runs = int(args[0]) if args else 5
    entries.header("bench_build.py", runs, networking="a bridge of its own")
    work = tempfile.mkdtemp(prefix="ldbb-", dir="/var/tmp")
    other = os.environ.get("DOCKER_HOST")
    d = start_daemon(base=os.path.join(work, "daemon"))
    try:
        busybox = write_rootfs_tar(os.path.join(work, "busybox.tar"))
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "DOCKER_HOST")}
        env["DOCKER_HOST"] = d.host
        docker = docker_entry()
        with open(busybox, "rb") as f:
            subprocess.run(
                docker + ["import", "-", BASE], stdin=f, env=env, stdout=subprocess.DEVNULL, check=True
            )
        small, big = make_contexts(work)
        print(f"context of the 10-step build: {context_size(big) / 1e6:.1f} MB in 10,041 files")
        measure("lxc-docker", docker, env, small, big, runs)
        if other and os.path.exists(DOCKER_CLI):
            env2 = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
            env2.update({"DOCKER_HOST": other, "DOCKER_BUILDKIT": "0"})
            with open(busybox, "rb") as f:
                subprocess.run(
                    [DOCKER_CLI, "import", "-", BASE],
                    stdin=f,
                    env=env2,
                    stdout=subprocess.DEVNULL,
                    check=True,
                )
            measure(f"docker at {other}", [DOCKER_CLI], env2, small, big, runs)
    finally:
        stop_daemon(d)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
