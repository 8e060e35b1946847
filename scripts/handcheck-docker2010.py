"""The checks the issues ask for by hand against Docker 20.10 (Debian's docker.io, its own socket and
data root; never in CI): Docker 20.10 pulls and runs an image our daemon pushed to Debian's
docker-registry, pushes an image made from it, and our daemon pulls and runs that (issue 10); then
how often the docker CLI 28 at API 1.24 prints "context canceled" after `run -d`, against Docker
20.10 and against ours (issue 11).

Usage: sudo python3 scripts/handcheck-docker2010.py   (after `apt-get install docker.io`)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "bench"))
sys.path.insert(0, os.path.join(REPO, "tests"))

from bench_registry import Dockerd  # noqa: E402
from common import docker_entry, start_daemon  # noqa: E402

from lib.busybox import write_rootfs_tar  # noqa: E402
from lib.v2registry import Registry  # noqa: E402

GO_CLI_28 = "/usr/local/bin/docker"
RUNS = 20


def run(argv: list[str], env: dict[str, str] | None = None) -> str:
    r = subprocess.run(argv, env=env, capture_output=True, text=True)
    print("$", " ".join(argv[2:]), "->", r.returncode, r.stdout.strip()[-200:], r.stderr.strip()[-200:])
    if r.returncode:
        raise SystemExit(f"failed: {' '.join(argv)}")
    return r.stdout.strip()


def canceled(host: str, image: str, env: dict[str, str]) -> int:
    env = dict(env, DOCKER_API_VERSION="1.24")
    argv = [GO_CLI_28, "-H", host, "run", "-d", "--network", "none", image, "true"]
    runs = [subprocess.run(argv, env=env, capture_output=True, text=True) for _ in range(RUNS)]
    return sum("context canceled" in r.stderr for r in runs)


def main() -> None:
    reg = Registry().start()
    a, b = start_daemon(), start_daemon()
    work = tempfile.mkdtemp(prefix="ldb-hand-")
    ours_a, ours_b = docker_entry() + ["-H", a.host], docker_entry() + ["-H", b.host]
    dockerd = None
    try:
        run(ours_a + ["import", write_rootfs_tar(os.path.join(work, "bb.tar")), "busybox"])
        cid = run(ours_a + ["run", "-d", "busybox", "sh", "-c", "echo made-by-lxc-docker > /hello"])
        run(ours_a + ["wait", cid])
        pushed, back = f"{reg.host}/hand/img:v1", f"{reg.host}/hand/back:v2"
        run(ours_a + ["commit", cid, pushed])
        run(ours_a + ["push", pushed])
        dockerd = Dockerd([reg.host])
        env = dockerd.env()
        run(dockerd.cli("pull", pushed), env)
        no_net = ["--network", "none"]
        assert run(dockerd.cli("run", "--rm", *no_net, pushed, "cat", "/hello"), env) == "made-by-lxc-docker"
        cid = run(dockerd.cli("run", "-d", *no_net, pushed, "sh", "-c", "echo from-20.10 > /again"), env)
        run(dockerd.cli("wait", cid), env)
        run(dockerd.cli("commit", cid, back), env)
        run(dockerd.cli("push", back), env)
        run(ours_b + ["pull", back])
        both = run(ours_b + ["run", "--rm", back, "cat", "/hello", "/again"])
        assert both == "made-by-lxc-docker\nfrom-20.10", both
        print("registry round trip with Docker 20.10: ok")
        theirs = canceled(f"unix://{dockerd.sock}", pushed, env)
        ours = canceled(a.host, "busybox", {"PATH": "/usr/bin:/bin"})
        print(f'CLI 28 `run -d` at API 1.24 printed "context canceled": Docker 20.10 {theirs} of {RUNS},')
        print(f"lxc-docker {ours} of {RUNS}")
    finally:
        if dockerd:
            dockerd.stop()
        for d in (a, b):
            d.stop()
            shutil.rmtree(d.base, ignore_errors=True)
        reg.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
