"""Start-up of what ships, beside Docker 20.10, measured side by side in one run of this script.

Usage: sudo python3 bench/bench_startup.py [--runs N] [--run-runs M] [--build]

Times, as whole processes started alternately (a slow spell of the shared machine hits all alike):
- `docker version` (and `docker -v`, which needs no daemon) of every way lxc-docker reaches a user:
  the zipapp get.sh installs as /usr/local/bin/docker (packaging/dist/docker-VERSION.pyz, the same
  file), the one-file binary it installs where python3 is too old, and the launcher `pip install`
  writes (a scratch venv holding the wheels build.sh made); each against a daemon started from the
  zipapp;
- the Go docker CLIs, Docker's 28 (/usr/local/bin/docker) and Debian's 20.10 (/usr/bin/docker, from
  `apt-get install docker.io`), against a Debian dockerd 20.10 started here;
- `/usr/bin/python3 -c pass`, and `/usr/bin/python3 -I -S -c pass` (the flags the zipapp runs with);
- `docker run --rm busybox true` with networking on both engines: each has a bridge of its own
  (never docker0) and imports the same busybox rootfs tar (tests/lib/busybox.py).

dockerd 20.10 runs with its own --data-root, --exec-root, socket and pidfile under /var/tmp, on its
bridge, with --iptables=false --ip-forward=false --ip-masq=false: the host's firewall is shared with
other work. Without dockerd installed its figures are left out, and said so.
--build runs `packaging/build.sh artifacts` first; otherwise packaging/dist must hold a build.
"""

from __future__ import annotations

import argparse
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

from lib.busybox import write_rootfs_tar  # noqa: E402

PYTHON = "/usr/bin/python3"
GO_CLI_28 = "/usr/local/bin/docker"
DEBIAN_CLI = "/usr/bin/docker"
DOCKERD = "/usr/sbin/dockerd"


def version() -> str:
    with open(os.path.join(REPO, "app", "lxc_docker", "__init__.py")) as f:
        return f.read().split('__version__ = "', 1)[1].split('"', 1)[0]


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


def pip_launcher(work: str) -> str | None:
    wheels = os.path.join(REPO, "packaging", "build", "wheels")
    if not os.path.isdir(wheels):
        return None
    venv = os.path.join(work, "pip-venv")
    sh(PYTHON, "-m", "venv", venv)
    pip = os.path.join(venv, "bin", "pip")
    sh(
        pip,
        "install",
        "-q",
        "--disable-pip-version-check",
        "--no-index",
        "--find-links",
        wheels,
        "lxc-docker",
    )
    return os.path.join(venv, "bin", "docker")


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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=40, help="runs of each `docker version` (default 40)")
    ap.add_argument("--run-runs", type=int, default=10, help="runs of each `run --rm` (default 10)")
    ap.add_argument("--build", action="store_true", help="run packaging/build.sh artifacts first")
    opts = ap.parse_args()
    if os.geteuid() != 0:
        print("bench_startup.py starts daemons: run it as root", file=sys.stderr)
        return 1
    if opts.build:
        subprocess.run([os.path.join(REPO, "packaging", "build.sh"), "artifacts"], check=True)
    v = version()
    dist = os.path.join(REPO, "packaging", "dist")
    zipapp, binary = os.path.join(dist, f"docker-{v}.pyz"), os.path.join(dist, f"docker-{v}-x86_64")
    if not os.access(zipapp, os.X_OK):
        print(f"no {zipapp}: run packaging/build.sh artifacts (or pass --build)", file=sys.stderr)
        return 1
    print(f"command: sudo python3 bench/bench_startup.py --runs {opts.runs} --run-runs {opts.run_runs}")
    print(f"machine: {os.cpu_count()} cores, Linux {os.uname().release}, load {os.getloadavg()[0]:.2f}")
    work = tempfile.mkdtemp(prefix="bench-startup-", dir="/var/tmp")
    bridges: list[Bridge] = []
    engines: list[Engine] = []
    try:
        # Scratch caches: shiv's extraction (the daemon's) and the one-file program's unpacked folder,
        # which as root would otherwise go to /var/lib/lxc-docker.
        ours_env = clean_env(SHIV_ROOT=os.path.join(work, "shiv"), LXC_DOCKER_CACHE=os.path.join(work, "bin"))
        ours_bridge = Bridge(f"lbs{os.getpid() % 100000}a")
        bridges.append(ours_bridge)
        ours_base = os.path.join(work, "lxc-docker")
        os.makedirs(ours_base)
        sock = os.path.join(ours_base, "docker.sock")
        ours = Engine(
            f"lxc-docker {v} (zipapp -d)",
            ours_base,
            [
                zipapp,
                "-d",
                "-H",
                "unix://" + sock,
                "-g",
                os.path.join(ours_base, "root"),
                "-p",
                os.path.join(ours_base, "docker.pid"),
                "-b",
                ours_bridge.name,
            ],
            ours_env,
            [zipapp, "-H", "unix://" + sock],
        )
        engines.append(ours)
        print(f"lxc-docker daemon: {shlex.join(ours.cmd)}")
        docker20 = None
        if os.access(DOCKERD, os.X_OK):
            dk_bridge = Bridge(f"lbs{os.getpid() % 100000}b")
            bridges.append(dk_bridge)
            dk_base = os.path.join(work, "docker20")
            os.makedirs(dk_base)
            dk_sock = "unix://" + os.path.join(dk_base, "docker.sock")
            docker20 = Engine(
                "Docker 20.10 (Debian docker.io)",
                dk_base,
                [
                    DOCKERD,
                    "--data-root",
                    os.path.join(dk_base, "root"),
                    "--exec-root",
                    os.path.join(dk_base, "exec"),
                    "-H",
                    dk_sock,
                    "--pidfile",
                    os.path.join(dk_base, "docker.pid"),
                    f"--bridge={dk_bridge.name}",
                    "--iptables=false",
                    "--ip-forward=false",
                    "--ip-masq=false",
                ],
                clean_env(),
                [DEBIAN_CLI, "-H", dk_sock],
            )
            engines.append(docker20)
            print(f"Docker 20.10 daemon: {shlex.join(docker20.cmd)}")
        else:
            print(f"no {DOCKERD} (apt-get install docker.io): Docker 20.10's figures are left out")

        host = ["-H", "unix://" + sock]
        cmds: dict[str, tuple[list[str], dict[str, str]]] = {
            f"{PYTHON} -c pass": ([PYTHON, "-c", "pass"], clean_env()),
            f"{PYTHON} -I -S -c pass": ([PYTHON, "-I", "-S", "-c", "pass"], clean_env()),
            f"zipapp: {zipapp} {' '.join(host)} version": ([zipapp, *host, "version"], ours_env),
        }
        if os.access(binary, os.X_OK):
            first = timed([binary, "-v"], ours_env)
            print(f"one-file binary, first run (unpacks into its cache): {binary} -v: {first * 1000:.0f} ms")
            cmds[f"one-file binary: {binary} {' '.join(host)} version"] = (
                [binary, *host, "version"],
                ours_env,
            )
        launcher = pip_launcher(work)
        if launcher:
            cmds[f"pip launcher: {launcher} {' '.join(host)} version"] = (
                [launcher, *host, "version"],
                ours_env,
            )
        if docker20:
            dk_host = docker20.client[1:]
            for label, cli in (("Go CLI 28", GO_CLI_28), ("Debian CLI 20.10", DEBIAN_CLI)):
                if os.access(cli, os.X_OK):
                    cmds[f"{label}: {cli} {' '.join(dk_host)} version"] = (
                        [cli, *dk_host, "version"],
                        clean_env(),
                    )
        # `docker -v` needs no daemon: start-up alone, the Go CLI's included.
        for label, cli in (("zipapp", zipapp), ("one-file binary", binary), ("Go CLI 28", GO_CLI_28)):
            if os.access(cli, os.X_OK):
                cmds[f"{label}: {cli} -v"] = ([cli, "-v"], ours_env)
        samples = interleaved(cmds, opts.runs)
        report(
            f"`docker version`, {opts.runs} runs each, median (min-max), ratio to python3 -c pass:",
            samples,
            f"{PYTHON} -c pass",
        )

        tar = write_rootfs_tar(os.path.join(work, "busybox.tar"))
        runs: dict[str, tuple[list[str], dict[str, str]]] = {}
        for engine in engines:
            with open(tar, "rb") as f:
                sh(*engine.client, "import", "-", "busybox", stdin=f, env=engine.env)
            argv = [*engine.client, "run", "--rm", "busybox", "true"]
            # The container's network is there: its eth0 has an address on the engine's bridge.
            out = sh(
                *engine.client,
                "run",
                "--rm",
                "busybox",
                "ip",
                "-4",
                "addr",
                "show",
                "eth0",
                env=engine.env,
                text=True,
            ).stdout
            if "inet " not in out:
                raise RuntimeError(f"{engine.name}: the container has no network:\n{out}")
            runs[f"{engine.name}: {shlex.join(argv)}"] = (argv, engine.env)
        report(
            f"`run --rm busybox true` with networking, {opts.run_runs} runs each, median (min-max):",
            interleaved(runs, opts.run_runs),
        )
        return 0
    finally:
        for engine in reversed(engines):
            engine.stop()
        for bridge in bridges:
            bridge.remove()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
