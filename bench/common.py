"""Shared helpers for the benchmarks: a throwaway daemon and timing of whole commands; for the ones
that compare engines side by side (bench_startup, bench_exec, bench_drivers), a `Rig` of daemons each
on a bridge of its own, Debian's dockerd 20.10 among them, and interleaved timing."""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests"))

from ours import ours  # noqa: E402

from lib.bridge import remove_rules_of  # noqa: E402
from lib.busybox import write_rootfs_tar  # noqa: E402
from lib.daemon import Daemon  # noqa: E402

GO_CLI_28 = "/usr/local/bin/docker"
DEBIAN_CLI = "/usr/bin/docker"
DOCKERD = "/usr/sbin/dockerd"


def docker_entry() -> list[str]:
    """Our CLI as the benchmarks measure it, bench/ours.py's choice: the zipapp get.sh installs, or with
    --dev (BENCH_DEV=1) this checkout's launcher."""
    return ours().cli


def start_daemon(*extra: str, base: str | None = None, network: bool = True) -> Daemon:
    """Our daemon (bench/ours.py's choice, without -D as users run it) with its own root, socket and
    pidfile under `base` (a new directory by default), and with `network` on a bridge of its own
    (never docker0), which stop_daemon() removes; without, `-b none` (or the `-b` in `extra`)."""
    entry = ours().daemon
    base = base or tempfile.mkdtemp(prefix="ldb-", dir="/tmp")
    bridge = Bridge(f"lbn{os.getpid() % 100000}{len(_BRIDGES)}") if network else None
    if bridge:
        _BRIDGES[base] = bridge
    d = Daemon(base, (["-b", bridge.name] if bridge else []) + list(extra), entry=entry, debug=False)
    try:
        return d.start()
    except BaseException:
        stop_daemon(d)
        raise


_BRIDGES: dict[str, Bridge] = {}


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
    """Stops a daemon start_daemon() started; removes its mounts left behind, bridge and directory."""
    try:
        d.stop()
    finally:
        with open("/proc/self/mounts") as f:
            mounts = [line.split()[1] for line in f if line.split()[1].startswith(d.base + "/")]
        for mnt in sorted(mounts, reverse=True):
            subprocess.run(["umount", "-l", mnt], capture_output=True)
        bridge = _BRIDGES.pop(d.base, None)
        if bridge:
            bridge.remove()
            remove_rules_of(bridge.name)
        shutil.rmtree(d.base, ignore_errors=True)


# -- engines side by side ---------------------------------------------------------------------------


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "DOCKER_"))}
    env.update(extra)
    return env


def sh(*argv: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(argv, check=True, capture_output=True, **kw)


def timed(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def wait_for(argv: list[str], env: dict[str, str], proc: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + 60
    while subprocess.run(argv, env=env, capture_output=True).returncode != 0:
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start")
        time.sleep(0.05)


class Bridge:
    """A bridge of the benchmark's own on a free private /24."""

    def __init__(self, name: str) -> None:
        routes = sh("ip", "-4", "route", text=True).stdout
        net = next(
            f"10.{a}.{b}" for a in range(230, 250) for b in range(1, 250) if f"10.{a}.{b}." not in routes
        )
        self.name = name
        sh("ip", "link", "add", name, "type", "bridge")
        sh("ip", "addr", "add", f"{net}.1/24", "dev", name)
        sh("ip", "link", "set", name, "up")

    def remove(self) -> None:
        subprocess.run(["ip", "link", "del", self.name], capture_output=True)
        chain = f"DOCKER-{self.name}"[:28]
        for table in ("nat", "filter"):
            subprocess.run(["iptables", "-w", "-t", table, "-F", chain], capture_output=True)
            subprocess.run(["iptables", "-w", "-t", table, "-X", chain], capture_output=True)


class Engine:
    """A daemon started here with its own root, socket and pidfile; stopped and removed by stop()."""

    def __init__(self, name: str, base: str, argv: list[str], env: dict[str, str], client: list[str]) -> None:
        self.name, self.base, self.env = name, base, env
        self.client = client
        self.log = open(os.path.join(base, "daemon.log"), "wb")
        self.cmd = argv
        self.proc = subprocess.Popen(
            argv, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )
        wait_for([*client, "version"], env, self.proc, name)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()
        with open("/proc/self/mounts") as f:
            mounts = [line.split()[1] for line in f]
        for mnt in sorted((m for m in mounts if m.startswith(self.base + "/")), reverse=True):
            subprocess.run(["umount", "-l", mnt], capture_output=True)


def report(title: str, samples: dict[str, list[float]], base: str | None = None) -> None:
    print(title)
    floor = statistics.median(samples[base]) if base else None
    for label, values in samples.items():
        ms = sorted(v * 1000 for v in values)
        med = statistics.median(ms)
        ratio = f"  {med / (floor * 1000):.2f}x" if floor else ""
        print(f"  {med:7.1f} ms  ({ms[0]:.1f}-{ms[-1]:.1f}){ratio}  {label}")


def interleaved(cmds: dict[str, tuple[list[str], dict[str, str]]], runs: int) -> dict[str, list[float]]:
    for argv, env in cmds.values():  # page cache, and shiv's extraction for the daemon, once
        timed(argv, env)
    samples: dict[str, list[float]] = {label: [] for label in cmds}
    for _ in range(runs):
        for label, (argv, env) in cmds.items():
            samples[label].append(timed(argv, env))
    return samples


def is_root(script: str) -> bool:
    """Whether this runs as root, which a benchmark that starts daemons needs; says so if not."""
    if os.geteuid() == 0:
        return True
    print(f"{script} starts daemons: run it as root", file=sys.stderr)
    return False


def print_header(command: str) -> None:
    """The command that makes these figures, and the machine it ran on."""
    print(f"command: {command}")
    print(f"machine: {os.cpu_count()} cores, Linux {os.uname().release}, load {os.getloadavg()[0]:.2f}")


def dockerd_argv(base: str, sock: str, bridge: str) -> list[str]:
    """Debian's dockerd 20.10 with its own data root, exec root, socket and pidfile under `base`, on
    `bridge`, and no iptables, forwarding or masquerading: the host's firewall is shared with other
    work."""
    return [
        DOCKERD,
        "--data-root",
        os.path.join(base, "root"),
        "--exec-root",
        os.path.join(base, "exec"),
        "-H",
        sock,
        "--pidfile",
        os.path.join(base, "docker.pid"),
        f"--bridge={bridge}",
        "--iptables=false",
        "--ip-forward=false",
        "--ip-masq=false",
    ]


class Rig:
    """The engines of one benchmark run, each with a directory under one scratch directory and a
    bridge of its own (never docker0); close() stops them and removes it all."""

    def __init__(self, prefix: str) -> None:
        self.work = tempfile.mkdtemp(prefix=prefix, dir="/var/tmp")
        self.bridges: list[Bridge] = []
        self.engines: list[Engine] = []

    def bridge(self, name: str) -> Bridge:
        bridge = Bridge(name)
        self.bridges.append(bridge)
        return bridge

    def base(self, name: str) -> tuple[str, str]:
        """A new directory for engine `name`, and the `unix://` address of its socket there."""
        base = os.path.join(self.work, name)
        os.makedirs(base)
        return base, "unix://" + os.path.join(base, "docker.sock")

    def ours(
        self, name: str, label: str, entry: list[str], bridge: str, env: dict[str, str], *extra: str
    ) -> Engine:
        """lxc-docker's daemon (`entry -d ...`) with its own root, socket and pidfile, on a new bridge."""
        base, sock = self.base(name)
        argv = [*entry, "-d", "-H", sock, "-g", os.path.join(base, "root")]
        argv += ["-p", os.path.join(base, "docker.pid"), "-b", self.bridge(bridge).name, *extra]
        return self._add(Engine(label, base, argv, env, [*entry, "-H", sock]))

    def docker20(self, label: str, bridge: str) -> Engine | None:
        """Debian's dockerd 20.10 (dockerd_argv) on a new bridge; None, said so, when not installed."""
        if not os.access(DOCKERD, os.X_OK):
            print(f"no {DOCKERD} (apt-get install docker.io): Docker 20.10's figures are left out")
            return None
        base, sock = self.base("docker20")
        argv = dockerd_argv(base, sock, self.bridge(bridge).name)
        engine = self._add(Engine(label, base, argv, clean_env(), [DEBIAN_CLI, "-H", sock]))
        print(f"{label} daemon: {shlex.join(engine.cmd)}")
        return engine

    def import_busybox(self, check_network: bool = False) -> None:
        """The same busybox rootfs tar (tests/lib/busybox.py) imported as `busybox` into every
        engine; with `check_network`, a container of each must have an address on its eth0."""
        tar = write_rootfs_tar(os.path.join(self.work, "busybox.tar"))
        for engine in self.engines:
            with open(tar, "rb") as f:
                sh(*engine.client, "import", "-", "busybox", stdin=f, env=engine.env)
            if check_network:
                argv = [*engine.client, "run", "--rm", "busybox", "ip", "-4", "addr", "show", "eth0"]
                out = sh(*argv, env=engine.env, text=True).stdout
                if "inet " not in out:
                    raise RuntimeError(f"{engine.name}: the container has no network:\n{out}")

    def close(self) -> None:
        for engine in reversed(self.engines):
            engine.stop()
        for bridge in self.bridges:
            bridge.remove()
        shutil.rmtree(self.work, ignore_errors=True)

    def _add(self, engine: Engine) -> Engine:
        self.engines.append(engine)
        return engine
