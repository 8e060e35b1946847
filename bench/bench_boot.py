"""boot2docker's `up` from a stopped VM to the first answered /_ping, with the boot's split.

    .venv/bin/python bench/bench_boot.py --image DIR [--accel tcg] [--runs 1]

The VM's init prints the kernel's uptime at each step on the serial console ("boot2docker: STEP at
Ns"); this script reads the console as it grows and pings the daemon every 20 ms, so each share is:
firmware (QEMU start to the kernel's first instant: QEMU, SeaBIOS, loading vmlinuz and the initramfs),
kernel (to the init's first line: decompression, unpacking the initramfs, drivers), root copy (the
image into a tmpfs, which pivot_root needs), init (modules, network, data disk, shares, ssh), and the
daemon (its start to its first /_ping answer). The first boot (which formats the data disk) is not
timed. With --save, then also `save` (the VM's state to disk, QEMU gone) and `up` from the saved state
to the first /_ping, and the state file's size. Uses a throwaway HOME and free ports; deletes the VM at
the end.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "boot"))

from boot2docker import vm  # noqa: E402
from boot2docker.profile import load  # noqa: E402

STAMP = re.compile(r"boot2docker: (\w+) at ([0-9.]+)s")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", required=True, help="image directory (boot/build-image.sh OUT_DIR)")
    parser.add_argument("--accel", default="tcg")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--save", action="store_true", help="also time save and up from the saved state")
    opts = parser.parse_args()
    home = tempfile.mkdtemp(prefix="b2d-bench-")
    flags = ["--accel", opts.accel, "--dockerport", str(free_port()), "--sshport", str(free_port())]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOOT2DOCKER", "DOCKER_"))}
    env["HOME"] = home

    def b2d(*args: str) -> None:
        subprocess.run([sys.executable, "-m", "boot2docker", *flags, *args], env=env, check=True)

    os.environ["HOME"] = home
    profile = load({"dockerport": int(flags[3]), "sshport": int(flags[5])})
    console = os.path.join(profile.vm_dir(), "console.log")
    try:
        b2d("init", "--image", os.path.abspath(opts.image))
        b2d("up")  # the first boot formats the data disk
        b2d("stop")
        for _ in range(opts.runs):
            seen: dict[str, tuple[float, float]] = {}
            start = time.monotonic()
            b2d("up", "--no-wait")
            while True:
                now = time.monotonic()
                with open(console, errors="replace") as f:
                    for step, uptime in STAMP.findall(f.read()):
                        seen.setdefault(step, (now, float(uptime)))
                if vm.ping(profile, timeout=1.0):
                    answered = time.monotonic()
                    break
                if now - start > 300:
                    raise SystemExit("no /_ping answer within 300 s")
                time.sleep(0.02)
            report(seen, start, answered)
            b2d("stop")
        if opts.save:
            bench_save(b2d, profile)
    finally:
        subprocess.run([sys.executable, "-m", "boot2docker", *flags, "delete", "--force"], env=env)
        shutil.rmtree(home, ignore_errors=True)
    with open(os.path.join(opts.image, "image.json")) as f:
        size = json.load(f)
    print(
        f"image: vmlinuz {size['vmlinuz_bytes'] / 2**20:.1f} MiB, "
        f"initrd {size['initrd_bytes'] / 2**20:.1f} MiB "
        f"(root {size['root_kib'] / 1024:.0f} MiB unpacked), kernel {size['kernel']}"
    )
    print("command: " + " ".join([".venv/bin/python", "bench/bench_boot.py", *sys.argv[1:]]))
    return 0


def bench_save(b2d, profile) -> None:
    b2d("up")
    start = time.monotonic()
    b2d("save")
    saved = time.monotonic() - start
    size = os.path.getsize(os.path.join(profile.vm_dir(), "saved.state"))
    start = time.monotonic()
    b2d("up", "--no-wait")
    while not vm.ping(profile, timeout=1.0):
        if time.monotonic() - start > 300:
            raise SystemExit("no /_ping answer within 300 s of up from the saved state")
        time.sleep(0.02)
    print(f"{'save':>10}: {saved:6.2f} s (state file {size / 2**20:.0f} MiB)")
    print(f"{'resume':>10}: {time.monotonic() - start:6.2f} s (up from the saved state to the first /_ping)")
    b2d("stop")


def report(seen: dict[str, tuple[float, float]], start: float, answered: float) -> None:
    # The kernel's clock starts at its first instant; the host saw each line a little after the VM
    # wrote it (at most one 20 ms poll), so the earliest line dates the kernel's start best.
    kernel_start = min(host - uptime for host, uptime in seen.values())
    up = {step: uptime for step, (_host, uptime) in seen.items()}
    daemon_start = kernel_start + up["daemon"]
    shares = [
        ("firmware", kernel_start - start),
        ("kernel", up["kernel"]),
        ("root copy", up["init"] - up["kernel"]),
        ("init", up["daemon"] - up["init"]),
        ("daemon", answered - daemon_start),
    ]
    for name, seconds in shares:
        print(f"{name:>10}: {seconds:6.2f} s")
    print(f"{'total':>10}: {answered - start:6.2f} s (up --no-wait to the first /_ping answer)")


if __name__ == "__main__":
    sys.exit(main())
