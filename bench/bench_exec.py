"""`docker exec CONTAINER true` as whole processes: our CLI and the docker CLI 28 against our daemon,
beside Docker 20.10's own `docker exec` against its own dockerd, measured in one run of this script.

Usage: sudo python3 bench/bench_exec.py [--runs N] [--build] [--dev]

Our daemon and CLI are the zipapp get.sh installs (bench/ours.py: packaging/dist, built when stale or
with --build; --dev runs this checkout instead). Each engine gets a bridge of its own (never docker0) and
imports the same busybox rootfs tar (tests/lib/busybox.py); one container `sleep`s in each, and the
commands run alternately so a slow spell of the shared machine hits all alike. dockerd 20.10 runs as
common.dockerd_argv starts it: its own data root, exec root, socket, pidfile and bridge, and no iptables.
Without dockerd installed its figures are left out, and said so.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys

import ours as entries
from common import GO_CLI_28, Rig, clean_env, docker_entry, interleaved, is_root, print_header, report, sh


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=30, help="runs of each command (default 30)")
    entries.add_options(ap)
    opts = ap.parse_args()
    if not is_root("bench_exec.py"):
        return 1
    entries.use_options(opts)
    print_header(f"sudo python3 bench/bench_exec.py --runs {opts.runs}{entries.flags()}")
    print(entries.ours().describe())
    rig = Rig("bench-exec-")
    boxes: dict[str, str] = {}
    try:
        pid = os.getpid() % 100000
        ours = rig.ours("lxc-docker", "lxc-docker", docker_entry(), f"lbe{pid}a", clean_env())
        host = ours.client[-1]
        print(f"lxc-docker daemon: {shlex.join(ours.cmd)}")
        docker20 = rig.docker20("Docker 20.10", f"lbe{pid}b")

        rig.import_busybox()
        for engine in rig.engines:
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
        for engine in rig.engines:
            if engine.name in boxes:
                try:
                    sh(*engine.client, "rm", "-f", boxes[engine.name], env=engine.env)
                except Exception as e:  # stopping the daemon ends the container anyway
                    print(f"removing the container of {engine.name}: {e}", file=sys.stderr)
        rig.close()


if __name__ == "__main__":
    sys.exit(main())
