"""`docker exec CONTAINER true` as whole processes: our CLI and the docker CLI 28 against our daemon,
beside Docker 20.10's own `docker exec` against its own dockerd, measured in one run of this script.

Usage: sudo python3 bench/bench_exec.py [--runs N]

Our daemon runs from this checkout (the launcher scripts/setup-dev.sh installs in .venv, what
`pip install` gives), our CLI likewise. Each engine gets a bridge of its own (never docker0) and
imports the same busybox rootfs tar (tests/lib/busybox.py); one container `sleep`s in each, and the
commands run alternately so a slow spell of the shared machine hits all alike. dockerd 20.10 runs as
bench_startup.py starts it: its own data root, exec root, socket, pidfile and bridge, and no iptables.
Without dockerd installed its figures are left out, and said so.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import sys
import tempfile

from bench_startup import DEBIAN_CLI, DOCKERD, GO_CLI_28, Bridge, Engine, clean_env, interleaved, report, sh
from common import docker_entry

from lib.busybox import write_rootfs_tar


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=30, help="runs of each command (default 30)")
    opts = ap.parse_args()
    if os.geteuid() != 0:
        print("bench_exec.py starts daemons: run it as root", file=sys.stderr)
        return 1
    print(f"command: sudo python3 bench/bench_exec.py --runs {opts.runs}")
    print(f"machine: {os.cpu_count()} cores, Linux {os.uname().release}, load {os.getloadavg()[0]:.2f}")
    work = tempfile.mkdtemp(prefix="bench-exec-", dir="/var/tmp")
    bridges: list[Bridge] = []
    engines: list[Engine] = []
    boxes: dict[str, str] = {}
    try:
        ours_bridge = Bridge(f"lbe{os.getpid() % 100000}a")
        bridges.append(ours_bridge)
        base = os.path.join(work, "lxc-docker")
        os.makedirs(base)
        host = "unix://" + os.path.join(base, "docker.sock")
        entry = docker_entry()
        root, pidfile = os.path.join(base, "root"), os.path.join(base, "pid")
        daemon = [*entry, "-d", "-H", host, "-g", root, "-p", pidfile, "-b", ours_bridge.name]
        ours = Engine("lxc-docker", base, daemon, clean_env(), [*entry, "-H", host])
        engines.append(ours)
        print(f"lxc-docker daemon: {shlex.join(ours.cmd)}")
        docker20 = None
        if os.access(DOCKERD, os.X_OK):
            dk_bridge = Bridge(f"lbe{os.getpid() % 100000}b")
            bridges.append(dk_bridge)
            dk_base = os.path.join(work, "docker20")
            os.makedirs(dk_base)
            dk_host = "unix://" + os.path.join(dk_base, "docker.sock")
            argv = [
                DOCKERD,
                "--data-root",
                os.path.join(dk_base, "root"),
                "--exec-root",
                os.path.join(dk_base, "exec"),
                "-H",
                dk_host,
                "--pidfile",
                os.path.join(dk_base, "docker.pid"),
                f"--bridge={dk_bridge.name}",
                "--iptables=false",
                "--ip-forward=false",
                "--ip-masq=false",
            ]
            docker20 = Engine("Docker 20.10", dk_base, argv, clean_env(), [DEBIAN_CLI, "-H", dk_host])
            engines.append(docker20)
            print(f"Docker 20.10 daemon: {shlex.join(docker20.cmd)}")
        else:
            print(f"no {DOCKERD} (apt-get install docker.io): Docker 20.10's figures are left out")

        tar = write_rootfs_tar(os.path.join(work, "busybox.tar"))
        for engine in engines:
            with open(tar, "rb") as f:
                sh(*engine.client, "import", "-", "busybox", stdin=f, env=engine.env)
            run = [*engine.client, "run", "-d", "busybox", "sleep", "100000"]
            boxes[engine.name] = sh(*run, env=engine.env, text=True).stdout.strip()
        box = boxes["lxc-docker"]
        cmds = {
            "our CLI -> lxc-docker": ([*ours.client, "exec", box, "true"], ours.env),
            "docker CLI 28 -> lxc-docker": ([GO_CLI_28, "-H", host, "exec", box, "true"], clean_env()),
        }
        if docker20 is not None:
            argv = [*docker20.client, "exec", boxes[docker20.name], "true"]
            cmds["Docker 20.10 CLI -> dockerd 20.10"] = (argv, docker20.env)
        for label, (argv, _) in cmds.items():
            print(f"{label}: {shlex.join(argv)}")
        title = f"`docker exec CONTAINER true`, {opts.runs} runs each, median (min-max):"
        report(title, interleaved(cmds, opts.runs))
        return 0
    finally:
        for engine in reversed(engines):
            if engine.name in boxes:
                try:
                    sh(*engine.client, "rm", "-f", boxes[engine.name], env=engine.env)
                except Exception as e:  # stopping the daemon ends the container anyway
                    print(f"removing the container of {engine.name}: {e}", file=sys.stderr)
            engine.stop()
        for bridge in bridges:
            bridge.remove()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
