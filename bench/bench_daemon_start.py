"""The daemon's start path: from the spawn of `docker -d` to its first 200 on /_ping.

Usage: sudo python3 bench/bench_daemon_start.py [--runs N] [--top K] [--dev] [--build]

Each run starts our daemon (bench/ours.py's choice: the zipapp get.sh installs by default) with a root,
socket and pidfile of its own and networking on, on a bridge of the benchmark's own (never docker0,
so the bridge exists: the daemon checks it, reads the default route's MTU and puts in its iptables
chains and rules), polls /_ping on its socket every 2 ms from the instant it was spawned, and stops it
with SIGTERM once it answered. One warm-up run first (page cache; shiv's extraction for the zipapp).
Printed: the median, min and max of N runs; then, from one more run each:
- the processes the daemon executed before it answered (strace -f -e trace=execve, timestamps compared
  with the instant of the answer), when strace is installed;
- `python -X importtime`: the packages whose modules took longest to import (self times summed per
  package, lxc_docker per subpackage: the zipapp runs the daemon from inside an import, so there are
  no top-level cumulative times to rank), and the total.
"""

from __future__ import annotations

import argparse
import collections
import itertools
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

from common import Bridge, is_root
from ours import add_options, header, ours, use_options

from lib.bridge import remove_rules_of
from lib.daemon import Daemon, our_env, ping

_RUNS = itertools.count()


class Run:
    """One daemon start: spawned with `prefix` before its argv, on a bridge of its own."""

    def __init__(self, prefix: list[str] | None = None) -> None:
        self.base = tempfile.mkdtemp(prefix="ldds-", dir="/tmp")
        # A name per run: a daemon that outlived its run must not hold the next one's bridge.
        self.bridge = Bridge(f"lds{os.getpid() % 10000}-{next(_RUNS)}")
        self.daemon = Daemon(self.base, ["-b", self.bridge.name], entry=ours().daemon, debug=False)
        self.argv = (prefix or []) + self.daemon.args()
        self.log_path = os.path.join(self.base, "daemon.log")

    def start(self, timeout: float = 60.0) -> float:
        """Seconds from the spawn to the first 200 on /_ping."""
        with open(self.log_path, "wb") as log:
            start = time.perf_counter()
            self.daemon.proc = subprocess.Popen(
                self.argv, stdout=log, stderr=subprocess.STDOUT, env=our_env(), start_new_session=True
            )
        while not ping(self.daemon.sock, timeout=5):
            if self.daemon.proc.poll() is not None:
                raise RuntimeError(f"the daemon exited with {self.daemon.proc.returncode}:\n{self.log()}")
            if time.perf_counter() - start > timeout:
                raise RuntimeError(f"no answer on /_ping within {timeout} s:\n{self.log()}")
            time.sleep(0.002)
        return time.perf_counter() - start

    def log(self) -> str:
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def stop(self) -> None:
        try:
            proc = self.daemon.proc
            if proc is not None and self.argv[0] == "strace" and proc.poll() is None:
                # The daemon is strace's child: SIGTERM to it (strace itself would detach and leave
                # it running), then strace ends with its last tracee; SIGKILL after 30 s.
                with open(f"/proc/{proc.pid}/task/{proc.pid}/children") as f:
                    pids = [int(p) for p in f.read().split()]
                for pid in pids:
                    os.kill(pid, signal.SIGTERM)
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    for pid in pids:
                        try:
                            os.kill(pid, signal.SIGKILL)
                        except ProcessLookupError:
                            pass
                    proc.kill()
                    proc.wait()
                self.daemon.kill_keeper()
            self.daemon.stop()
        finally:
            with open("/proc/self/mounts") as f:
                mounts = [line.split()[1] for line in f if line.split()[1].startswith(self.base + "/")]
            for mnt in sorted(mounts, reverse=True):
                subprocess.run(["umount", "-l", mnt], capture_output=True)
            self.bridge.remove()
            remove_rules_of(self.bridge.name)
            shutil.rmtree(self.base, ignore_errors=True)


def importtime_prefix(entry: list[str]) -> list[str]:
    """The interpreter of the entry's first file (its #! line, which Linux splits into the program and
    one argument) with -X importtime: the zipapp runs `python3 -IS...`, and -I ignores
    PYTHONPROFILEIMPORTTIME."""
    with open(entry[0], "rb") as f:
        line = f.readline().decode(errors="replace").rstrip("\n")
    if not line.startswith("#!"):
        return [sys.executable, "-X", "importtime"]
    words = line[2:].strip().split(None, 1)
    if os.path.basename(words[0]) == "env" and len(words) > 1:
        words = words[1].split(None, 1)
    return [words[0], "-X", "importtime", *words[1:]]


def execs_before_answer() -> list[str] | None:
    """The programs the daemon (and its children) executed before its first answer."""
    if not os.path.exists("/usr/bin/strace"):
        return None
    trace = tempfile.mktemp(prefix="ldds-strace-", dir="/tmp")
    run = Run(["strace", "-f", "-qq", "-ttt", "-e", "trace=execve", "-o", trace])
    try:
        run.start()
        answered = time.time()
    finally:
        run.stop()
    names = []
    first_pid = None
    with open(trace) as f:
        for line in f:
            words = line.split()
            # PID TIMESTAMP execve("/path", [...]) = 0
            if len(words) < 3 or not words[2].startswith("execve(") or not line.rstrip().endswith("= 0"):
                continue
            if first_pid is None:
                first_pid = words[0]
            # The daemon's own pid execs the entry itself (env, then python3): not a child.
            if words[0] != first_pid and float(words[1]) <= answered:
                names.append(os.path.basename(words[2][len('execve("') :].split('"', 1)[0]))
    os.unlink(trace)
    return names


def import_times(top: int) -> tuple[list[tuple[int, str]], int]:
    """(µs, package) of the slowest packages to import (self times summed; lxc_docker per subpackage),
    and the total, from one start."""
    run = Run()
    entry = ours().daemon
    if entry is None:  # this checkout: [sys.executable, "-m", "lxc_docker", ...]
        run.argv = [run.argv[0], "-X", "importtime", *run.argv[1:]]
    else:
        run.argv = [*importtime_prefix(entry), *run.argv]
    try:
        run.start()
        log = run.log()
    finally:
        run.stop()
    tops: dict[str, int] = collections.Counter()
    total = 0
    for line in log.splitlines():
        # import time: SELF | CUMULATIVE | <two spaces per nesting level>NAME
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        parts = line[len("import time:") :].split("|")
        total += int(parts[0])
        # The zipapp runs the daemon from inside its own import, whose line never comes: so not
        # cumulative times of top-level imports but self times summed per package.
        name = parts[2].strip()
        words = name.split(".")
        tops[".".join(words[:2]) if words[0] == "lxc_docker" else words[0]] += int(parts[0])
    ranked = sorted(((us, name) for name, us in tops.items()), reverse=True)
    return ranked[:top], total


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--top", type=int, default=15)
    add_options(ap)
    opts = ap.parse_args()
    use_options(opts)
    if not is_root("bench_daemon_start.py"):
        return 1
    print(f"machine: {os.cpu_count()} cores, Linux {os.uname().release}, load {os.getloadavg()[0]:.2f}")
    header(
        "bench_daemon_start.py",
        f"--runs {opts.runs} --top {opts.top}",
        networking="a bridge of its own, iptables on",
    )
    times = []
    for i in range(opts.runs + 1):
        run = Run()
        try:
            took = run.start()
        finally:
            run.stop()
        if i:  # the first one warms the page cache (and shiv's extraction)
            times.append(took)
    ms = sorted(t * 1000 for t in times)
    print(
        f"spawn to first /_ping 200: median {statistics.median(ms):.1f} ms "
        f"(min {ms[0]:.1f}, max {ms[-1]:.1f}, n={len(ms)})"
    )
    execs = execs_before_answer()
    if execs is None:
        print("processes before serving: strace not installed")
    else:
        counted = collections.Counter(execs)
        listed = ", ".join(f"{name} x{n}" for name, n in counted.most_common())
        print(f"processes executed before serving: {len(execs)} ({listed or 'none'})")
    ranked, total = import_times(opts.top)
    print(f"python -X importtime: {total / 1000:.1f} ms of imports in all (self times); slowest packages:")
    for us, name in ranked:
        print(f"  {us / 1000:7.1f} ms  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
