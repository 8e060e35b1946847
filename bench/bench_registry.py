"""v2 pull and push of a ~200 MB, 3-layer image against Debian's docker-registry on 127.0.0.1: our
daemon, Docker 20.10 (Debian's dockerd, its own data root and socket) and `cat` of the same blobs.

Usage: sudo python3 bench/bench_registry.py [MB] [--build] [--dev]
One run of each, side by side: push to an empty registry (ours, then Docker's to a second empty
registry) and pull into an empty store (ours, then Docker's, from the registry ours pushed to).
Our daemons and CLI are the zipapp get.sh installs (bench/ours.py; --dev: this checkout). Both engines
run without networking (-b none, --bridge=none): no container runs, and pull and push go from the
daemon itself to 127.0.0.1, which a bridge does not touch.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import tempfile
import time

import ours as entries
from common import REPO, docker_entry, start_daemon, stop_daemon

sys.path.insert(0, os.path.join(REPO, "tests"))
from lib.busybox import write_rootfs_tar  # noqa: E402
from lib.v2registry import Registry  # noqa: E402


def timed(argv: list[str], env: dict[str, str] | None = None, stdin_path: str | None = None) -> float:
    stdin = open(stdin_path, "rb") if stdin_path else subprocess.DEVNULL
    start = time.perf_counter()
    subprocess.run(argv, env=env, stdin=stdin, stdout=subprocess.DEVNULL, check=True)
    elapsed = time.perf_counter() - start
    if stdin_path:
        stdin.close()
    return elapsed


def _payload(path: str, mb: int) -> None:
    # Half random (incompressible), half repetitive text: gzip does real work on both kinds.
    with open(path, "wb") as f:
        for i in range(mb):
            f.write(os.urandom(1 << 19))
            f.write((f"line {i} of a fairly ordinary text file\n" * 13000)[: 1 << 19].encode())


def make_image(d, work: str, mb: int) -> str:
    """busybox + three payload layers (mb/3 each), tagged bench/reg:v1 in daemon `d`."""
    cli = docker_entry() + ["-H", d.host]
    base = write_rootfs_tar(os.path.join(work, "bb.tar"))
    subprocess.run(cli + ["import", base, "bench/base"], check=True, stdout=subprocess.DEVNULL)
    ctx = os.path.join(work, "ctx")
    os.makedirs(ctx)
    lines = ["FROM bench/base"]
    for n in range(3):
        _payload(os.path.join(ctx, f"p{n}"), mb // 3)
        lines.append(f"ADD p{n} /p{n}")
    with open(os.path.join(ctx, "Dockerfile"), "w") as f:
        f.write("\n".join(lines) + "\n")
    subprocess.run(cli + ["build", "-t", "bench/reg:v1", ctx], check=True, stdout=subprocess.DEVNULL)
    return "bench/reg:v1"


class Dockerd:
    def __init__(self, insecure: list[str]) -> None:
        self.base = tempfile.mkdtemp(prefix="ldb-d2010-", dir="/tmp")
        self.sock = os.path.join(self.base, "docker.sock")
        argv = ["dockerd", "-H", f"unix://{self.sock}", "--data-root", f"{self.base}/root"]
        argv += ["--exec-root", f"{self.base}/exec", "--pidfile", f"{self.base}/pid", "--bridge=none"]
        argv += ["--iptables=false", "--ip-masq=false", "--containerd-namespace", "ldb-bench"]
        argv += ["--containerd-plugins-namespace", "ldb-bench-plugins"]
        for host in insecure:
            argv += ["--insecure-registry", host]
        self.log = open(os.path.join(self.base, "log"), "wb")
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while subprocess.run(self.cli("version"), capture_output=True).returncode != 0:
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError("dockerd 20.10 did not start")
            time.sleep(0.2)

    def cli(self, *args: str) -> list[str]:
        return ["/usr/bin/docker", "-H", f"unix://{self.sock}", *args]

    def env(self) -> dict[str, str]:
        return {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "DOCKER_CONFIG": self.base}

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(60)
        subprocess.run(["umount", "-R", f"{self.base}/root"], capture_output=True)
        shutil.rmtree(self.base, ignore_errors=True)


def main() -> None:
    args = entries.take_options(sys.argv[1:])
    mb = int(args[0]) if args else 200
    entries.header("bench_registry.py", mb, networking="none, no container runs")
    work = tempfile.mkdtemp(prefix="ldb-reg-", dir="/var/tmp")
    ours_reg, theirs_reg = Registry().start(), Registry().start()
    a = start_daemon(network=False)
    b = start_daemon(network=False)
    dockerd = None
    try:
        image = make_image(a, work, mb)
        ours_name = f"{ours_reg.host}/bench/reg:v1"
        subprocess.run(docker_entry() + ["-H", a.host, "tag", image, ours_name], check=True)
        push_ours = timed(docker_entry() + ["-H", a.host, "push", ours_name])
        blobs = [p for p in glob.glob(f"{ours_reg.dir}/data/docker/registry/v2/blobs/sha256/*/*/data")]
        size = sum(os.path.getsize(p) for p in blobs)
        cat = timed(["cat", *blobs])
        pull_ours = timed(docker_entry() + ["-H", b.host, "pull", ours_name])

        dockerd = Dockerd([ours_reg.host, theirs_reg.host])
        archive = os.path.join(work, "img.tar")
        subprocess.run(docker_entry() + ["-H", a.host, "save", "-o", archive, ours_name], check=True)
        subprocess.run(
            dockerd.cli("load", "-i", archive), check=True, env=dockerd.env(), stdout=subprocess.DEVNULL
        )
        theirs_name = f"{theirs_reg.host}/bench/reg:v1"
        subprocess.run(dockerd.cli("tag", ours_name, theirs_name), check=True, env=dockerd.env())
        push_theirs = timed(dockerd.cli("push", theirs_name), env=dockerd.env())
        subprocess.run(
            dockerd.cli("rmi", ours_name, theirs_name),
            check=True,
            env=dockerd.env(),
            stdout=subprocess.DEVNULL,
        )
        pull_theirs = timed(dockerd.cli("pull", ours_name), env=dockerd.env())

        print(
            f"image: {mb} MB payload in 3 layers over busybox; {len(blobs)} blobs, {size / 1e6:.1f} MB gzip"
        )
        print(f"cat of the registry's blob files (floor)     {cat:7.2f} s")
        ratio = pull_ours / pull_theirs
        print(f"pull, lxc-docker (docker pull, empty store)   {pull_ours:7.2f} s  {ratio:.2f} x Docker")
        print(f"pull, Docker 20.10 (empty store)              {pull_theirs:7.2f} s")
        ratio = push_ours / push_theirs
        print(f"push, lxc-docker (to an empty registry)       {push_ours:7.2f} s  {ratio:.2f} x Docker")
        print(f"push, Docker 20.10 (to an empty registry)     {push_theirs:7.2f} s")
    finally:
        if dockerd is not None:
            dockerd.stop()
        for d in (a, b):
            stop_daemon(d)
        ours_reg.stop()
        theirs_reg.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
