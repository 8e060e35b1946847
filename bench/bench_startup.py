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
import subprocess
import sys

from common import (
    DEBIAN_CLI,
    GO_CLI_28,
    REPO,
    Rig,
    clean_env,
    interleaved,
    is_root,
    print_header,
    report,
    sh,
    timed,
)

PYTHON = "/usr/bin/python3"


def version() -> str:
    with open(os.path.join(REPO, "app", "lxc_docker", "__init__.py")) as f:
        return f.read().split('__version__ = "', 1)[1].split('"', 1)[0]


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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=40, help="runs of each `docker version` (default 40)")
    ap.add_argument("--run-runs", type=int, default=10, help="runs of each `run --rm` (default 10)")
    ap.add_argument("--build", action="store_true", help="run packaging/build.sh artifacts first")
    opts = ap.parse_args()
    if not is_root("bench_startup.py"):
        return 1
    if opts.build:
        subprocess.run([os.path.join(REPO, "packaging", "build.sh"), "artifacts"], check=True)
    v = version()
    dist = os.path.join(REPO, "packaging", "dist")
    zipapp, binary = os.path.join(dist, f"docker-{v}.pyz"), os.path.join(dist, f"docker-{v}-x86_64")
    if not os.access(zipapp, os.X_OK):
        print(f"no {zipapp}: run packaging/build.sh artifacts (or pass --build)", file=sys.stderr)
        return 1
    print_header(f"sudo python3 bench/bench_startup.py --runs {opts.runs} --run-runs {opts.run_runs}")
    rig = Rig("bench-startup-")
    try:
        # Scratch caches: shiv's extraction (the daemon's) and the one-file program's unpacked folder,
        # which as root would otherwise go to /var/lib/lxc-docker.
        ours_env = clean_env(
            SHIV_ROOT=os.path.join(rig.work, "shiv"), LXC_DOCKER_CACHE=os.path.join(rig.work, "bin")
        )
        pid = os.getpid() % 100000
        ours = rig.ours("lxc-docker", f"lxc-docker {v} (zipapp -d)", [zipapp], f"lbs{pid}a", ours_env)
        print(f"lxc-docker daemon: {shlex.join(ours.cmd)}")
        docker20 = rig.docker20("Docker 20.10 (Debian docker.io)", f"lbs{pid}b")

        host = ours.client[1:]
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
        launcher = pip_launcher(rig.work)
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

        rig.import_busybox(check_network=True)
        runs: dict[str, tuple[list[str], dict[str, str]]] = {}
        for engine in rig.engines:
            argv = [*engine.client, "run", "--rm", "busybox", "true"]
            runs[f"{engine.name}: {shlex.join(argv)}"] = (argv, engine.env)
        report(
            f"`run --rm busybox true` with networking, {opts.run_runs} runs each, median (min-max):",
            interleaved(runs, opts.run_runs),
        )
        return 0
    finally:
        rig.close()


if __name__ == "__main__":
    sys.exit(main())
