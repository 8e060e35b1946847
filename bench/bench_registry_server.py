"""`docker registry` against the floor and against Debian's distribution 2.8 (`docker-registry`),
side by side: a monolithic v2 blob upload and a download of the same blob, with curl.

Usage: python3 bench/bench_registry_server.py [--mb 200] [--runs 3]

The floor is `cat` of the file to /dev/null (page cache warm). Each run uploads the blob to a fresh
repository name (so nothing is deduplicated: the registry hashes and writes every byte) and
downloads it to /dev/null. Prints the median wall time of each step per registry.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_up(url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url + "/v2/", timeout=1)
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"{url} did not answer")


def timed(cmd: list[str]) -> float:
    start = time.monotonic()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return time.monotonic() - start


def upload(url: str, repo: str, blob: str, digest: str) -> float:
    """POST, then PUT of the whole body: the flow both registries take (distribution ignores a
    ?digest= on the POST)."""
    start = time.monotonic()
    post = ["curl", "-sf", "-D", "-", "-o", "/dev/null", "-X", "POST", f"{url}/v2/{repo}/blobs/uploads/"]
    head = subprocess.run(post, check=True, capture_output=True, text=True).stdout
    location = next(
        h.split(":", 1)[1].strip() for h in head.splitlines() if h.lower().startswith("location:")
    )
    location = url + location if location.startswith("/") else location
    target = f"{location}{'&' if '?' in location else '?'}digest={digest}"
    put = ["curl", "-sf", "-o", "/dev/null", "-X", "PUT", "-H", "Content-Type: application/octet-stream"]
    subprocess.run(put + ["-T", blob, target], check=True)
    return time.monotonic() - start


def start_ours(work: str, port: int) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=os.path.join(REPO, "app"))
    cmd = [sys.executable, "-m", "lxc_docker", "registry", "-H", f"tcp://127.0.0.1:{port}", "-g", work]
    return subprocess.Popen(cmd, env=env, stderr=subprocess.DEVNULL)


def start_distribution(work: str, port: int) -> subprocess.Popen | None:
    if not shutil.which("docker-registry"):
        return None
    config = os.path.join(work, "config.yml")
    os.makedirs(work, exist_ok=True)
    with open(config, "w") as f:
        f.write(
            f"version: 0.1\nlog: {{level: error}}\nstorage: {{filesystem: {{rootdirectory: {work}/data}}}}\n"
        )
        f.write(f"http: {{addr: 127.0.0.1:{port}}}\n")
    return subprocess.Popen(
        ["docker-registry", "serve", config], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def run(name: str, proc: subprocess.Popen, port: int, blob: str, digest: str, runs: int) -> None:
    url = f"http://127.0.0.1:{port}"
    wait_up(url)
    up, down = [], []
    for i in range(runs):
        repo = f"bench/r{i}"
        up.append(upload(url, repo, blob, digest))
        down.append(timed(["curl", "-sf", "-o", "/dev/null", f"{url}/v2/{repo}/blobs/{digest}"]))
    print(f"{name:<24} upload {statistics.median(up):6.2f} s   download {statistics.median(down):6.2f} s")
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="bench-registry-")
    try:
        blob = os.path.join(work, "blob")
        with open(blob, "wb") as f:
            for _ in range(args.mb):
                f.write(os.urandom(1 << 20))
        with open(blob, "rb") as f:
            digest = "sha256:" + hashlib.file_digest(f, "sha256").hexdigest()
        floor = statistics.median(timed(["cat", blob]) for _ in range(args.runs))
        print(f"{args.mb} MB blob, median of {args.runs} runs")
        print(f"{'cat (floor)':<24} {floor:6.2f} s")
        port = free_port()
        run(
            "docker registry (ours)",
            start_ours(os.path.join(work, "ours"), port),
            port,
            blob,
            digest,
            args.runs,
        )
        port = free_port()
        proc = start_distribution(os.path.join(work, "distribution"), port)
        if proc is None:
            print("distribution 2.8: docker-registry not installed (apt-get install docker-registry)")
        else:
            run("distribution 2.8", proc, port, blob, digest, args.runs)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
