"""Shared helpers for the benchmarks: a throwaway daemon and timing of whole commands."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests"))

from lib.daemon import Daemon  # noqa: E402


def docker_entry() -> list[str]:
    """The entry point users get: the launcher scripts/setup-dev.sh installs, else python -m."""
    launcher = os.path.join(REPO, ".venv", "bin", "docker")
    if os.path.exists(launcher):
        return [launcher]
    return ["/usr/bin/python3", "-m", "lxc_docker"]


def start_daemon(*extra: str) -> Daemon:
    base = tempfile.mkdtemp(prefix="ldb-", dir="/tmp")
    return Daemon(base, list(extra)).start()


def time_command(
    argv: list[str], runs: int, env: dict[str, str] | None = None, stdin: bytes | None = None
) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, env=env, input=stdin, stdout=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - start)
    return times


def summary(label: str, times: list[float]) -> str:
    median = statistics.median(times) * 1000
    return f"{label}: median {median:.1f} ms (min {min(times) * 1000:.1f}, n={len(times)})"


def stop_daemon(d: Daemon) -> None:
    import shutil

    d.stop()
    shutil.rmtree(d.base, ignore_errors=True)
