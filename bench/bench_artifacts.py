"""Start-up time of each way lxc-docker ships: the zipapp, the one-file binary, and for comparison
the one-folder build and the source tree. The faster shipped one is what get.sh installs by default.

Usage: python3 bench/bench_artifacts.py [--runs N] [--daemon]

Needs packaging/build.sh to have run (packaging/dist/, and packaging/build/onedir/ for the one-folder
build, which `packaging/build.sh onedir` makes). For each program it times `docker -v` N times
(default 30, alternating programs so that a slow spell of the machine hits all alike) and prints the
median and the spread. The zipapp's first run, which unpacks its libraries into SHIV_ROOT, is timed
apart. With --daemon (root), it also times `docker -d` from start to answering /_ping, and
`docker run busybox true` once a daemon runs (when the daemon has `run`).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def version() -> str:
    with open(os.path.join(REPO, "app", "lxc_docker", "__init__.py")) as f:
        return f.read().split('__version__ = "', 1)[1].split('"', 1)[0]


def programs(shiv_root: str) -> dict[str, tuple[list[str], dict[str, str]]]:
    v = version()
    dist = os.path.join(REPO, "packaging", "dist")
    env = {k: val for k, val in os.environ.items() if k not in ("PYTHONPATH", "DOCKER_HOST")}
    out = {}
    candidates = {
        "zipapp (shiv)": [os.path.join(dist, f"docker-{v}.pyz")],
        "one-file binary (PyInstaller)": [os.path.join(dist, f"docker-{v}-x86_64")],
        "one-folder build (PyInstaller, not shipped)": [
            os.path.join(REPO, "packaging", "build", "onedir", "docker", "docker")
        ],
    }
    for name, cmd in candidates.items():
        if os.access(cmd[0], os.X_OK):
            # The one-file program's cache beside shiv's: as root it would go to /var/lib/lxc-docker.
            out[name] = (cmd, {**env, "SHIV_ROOT": shiv_root, "LXC_DOCKER_CACHE": shiv_root + "/bin"})
    out["source tree (python3 -m lxc_docker)"] = (
        ["/usr/bin/python3", "-m", "lxc_docker"],
        {**env, "PYTHONPATH": os.path.join(REPO, "app")},
    )
    return out


def timed(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def ping(path: str) -> bool:
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(0.5)
            s.connect(path)
            s.sendall(b"GET /_ping HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n")
            return s.recv(16).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def daemon_figures(name: str, cmd: list[str], env: dict[str, str]) -> None:
    base = tempfile.mkdtemp(prefix="bench-art-", dir="/tmp")
    sock = os.path.join(base, "docker.sock")
    args = [
        *cmd,
        "-d",
        "-H",
        "unix://" + sock,
        "-g",
        os.path.join(base, "graph"),
        "-p",
        os.path.join(base, "pid"),
    ]
    start = time.perf_counter()
    proc = subprocess.Popen(
        args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        deadline = start + 60
        while not ping(sock):
            if proc.poll() is not None or time.perf_counter() > deadline:
                print(f"  {name}: the daemon did not start")
                return
            time.sleep(0.005)
        print(f"  {name}: docker -d answers /_ping after {(time.perf_counter() - start) * 1000:.0f} ms")
        client = [*cmd, "-H", "unix://" + sock]
        if b"    run " not in subprocess.run([*client, "help"], env=env, capture_output=True).stdout:
            return
        sys.path.insert(0, os.path.join(REPO, "tests"))
        from lib.busybox import write_rootfs_tar

        tar = write_rootfs_tar(os.path.join(base, "busybox.tar"))
        with open(tar, "rb") as f:
            subprocess.run(
                [*client, "import", "-", "busybox"], env=env, stdin=f, capture_output=True, check=True
            )
        times = [timed([*client, "run", "--rm", "busybox", "true"], env) for _ in range(5)]
        print(
            f"  {name}: docker run --rm busybox true, median of 5: {statistics.median(times) * 1000:.0f} ms"
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        with open("/proc/self/mounts") as f:
            for mnt in sorted(
                (ln.split()[1] for ln in f if ln.split()[1].startswith(base + "/")), reverse=True
            ):
                subprocess.run(["umount", "-l", mnt], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument(
        "--daemon", action="store_true", help="also time the daemon's start and docker run (root)"
    )
    opts = ap.parse_args()
    shiv_root = tempfile.mkdtemp(prefix="bench-shiv-")
    try:
        progs = programs(shiv_root)
        if not any("zipapp" in n or "binary" in n for n in progs):
            print("no artifacts in packaging/dist: run packaging/build.sh first", file=sys.stderr)
            return 1
        flags = f"--runs {opts.runs}" + (" --daemon" if opts.daemon else "")
        print(f"command: python3 bench/bench_artifacts.py {flags}")
        print(f"machine: {os.cpu_count()} cores, {os.uname().release}; lxc-docker {version()}")
        for name, (cmd, env) in progs.items():
            if "zipapp" in name:
                print(f"zipapp first run (unpacks into SHIV_ROOT): {timed([*cmd, '-v'], env) * 1000:.0f} ms")
        samples: dict[str, list[float]] = {name: [] for name in progs}
        for cmd, env in progs.values():  # warm the page cache once
            timed([*cmd, "-v"], env)
        for _ in range(opts.runs):
            for name, (cmd, env) in progs.items():
                samples[name].append(timed([*cmd, "-v"], env))
        print(f"`docker -v`, {opts.runs} runs each: median (min-max)")
        for name, values in samples.items():
            ms = sorted(v * 1000 for v in values)
            print(f"  {name:<45} {statistics.median(ms):6.0f} ms  ({ms[0]:.0f}-{ms[-1]:.0f})")
        shipped = {n: statistics.median(v) for n, v in samples.items() if "zipapp" in n or "one-file" in n}
        if shipped:
            print(f"faster shipped artifact: {min(shipped, key=shipped.get)}")
        if opts.daemon:
            if os.geteuid() != 0:
                print("--daemon needs root", file=sys.stderr)
                return 1
            for name, (cmd, env) in progs.items():
                daemon_figures(name, cmd, env)
        return 0
    finally:
        shutil.rmtree(shiv_root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
