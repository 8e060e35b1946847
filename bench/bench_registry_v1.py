"""v1 against v2 pull and push of a ~200 MB, 3-layer image through our own `docker registry` on
127.0.0.1: the same image pushed over v1 (the registry behind tests/lib/regproxy.py, which hides
`/v2`) and over v2 (the registry itself), then pulled into empty stores; `cat` of the layer files
the registry keeps as the floor.

Usage: sudo python3 bench/bench_registry_v1.py [MB] [--build] [--dev]
The v1 runs go through the proxy (a Python relay, 64 KiB reads): its cost is in the v1 figures.
Our daemons and CLI are the zipapp get.sh installs (bench/ours.py; --dev: this checkout); the registry
is this checkout's `docker registry` (tests/lib/registryserver.py), the same for every figure. The daemons run
without networking (-b none): no container runs, and pull and push go from the daemon itself to
127.0.0.1, which a bridge does not touch.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import tempfile

import ours as entries
from bench_registry import make_image, timed
from common import REPO, docker_entry, start_daemon, stop_daemon

sys.path.insert(0, os.path.join(REPO, "tests"))
from lib.registryserver import Registry  # noqa: E402
from lib.regproxy import RegistryProxy  # noqa: E402


def main() -> None:
    args = entries.take_options(sys.argv[1:])
    mb = int(args[0]) if args else 200
    entries.header("bench_registry_v1.py", mb, networking="none, no container runs")
    work = tempfile.mkdtemp(prefix="ldb-reg1-", dir="/var/tmp")
    reg = Registry()
    proxy = RegistryProxy(reg.port, hide_v2=True)
    daemons = [start_daemon(network=False) for _ in range(3)]
    a, b, c = daemons
    try:
        image = make_image(a, work, mb)
        v1name, v2name = f"{proxy.host}/bench/v1:v1", f"{reg.hostport}/bench/v2:v1"
        for name in (v1name, v2name):
            subprocess.run(docker_entry() + ["-H", a.host, "tag", image, name], check=True)
        push_v1 = timed(docker_entry() + ["-H", a.host, "push", v1name])
        push_v2 = timed(docker_entry() + ["-H", a.host, "push", v2name])
        layers = glob.glob(f"{reg.root}/v1/images/*/layer")
        size = sum(os.path.getsize(p) for p in layers)
        cat = timed(["cat", *layers])
        pull_v1 = timed(docker_entry() + ["-H", b.host, "pull", v1name])
        pull_v2 = timed(docker_entry() + ["-H", c.host, "pull", v2name])
        print(f"image: {mb} MB in 3 layers + busybox; v1 layers {size / 1e6:.1f} MB, plain tars")
        print(f"cat of the registry's v1 layer files (floor)   {cat:7.2f} s")
        print(f"pull over v1 (empty store, through the proxy)  {pull_v1:7.2f} s")
        print(f"pull over v2 (empty store)                     {pull_v2:7.2f} s")
        print(f"push over v1 (empty registry, the proxy)       {push_v1:7.2f} s")
        print(f"push over v2 (empty registry)                  {push_v2:7.2f} s")
    finally:
        for d in daemons:
            stop_daemon(d)
        proxy.close()
        reg.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
