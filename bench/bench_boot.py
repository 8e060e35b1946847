"""boot2docker's `up` from a stopped VM to the first answered /_ping, with the boot's split.

    .venv/bin/python bench/bench_boot.py --image DIR [--accel tcg] [--runs 1]

The VM's init prints the kernel's uptime at each step on the serial console ("boot2docker: STEP at Ns");
this script reads the console as it grows and pings the daemon every 20 ms, so each share is: firmware
(QEMU start to the kernel's first instant: QEMU, SeaBIOS, loading the kernel and the initramfs; and the
bzImage's own decompression when the kernel is not booted through its PVH entry: see
boot2docker/bootfiles.py), kernel (to the init's first line: unpacking the initramfs, drivers), root
copy (the image into a tmpfs, which pivot_root needs), init (modules, network, data disk, shares, ssh),
and the daemon (its start to its first /_ping answer). The first boot (which formats the data disk) is
not timed. With --save, then also `save` (the VM's state to disk, QEMU gone) and `up` from the saved
state to the first /_ping, and the state file's size. Uses a throwaway HOME and free ports; deletes the
VM at the end. With --first-run, a busybox image is imported once and each boot is followed by two
`docker run --rm busybox true` with our client (the zipapp, or this checkout with --dev), timed: what
a user waits for after `up`, the daemon's work deferred to its first requests included.

With --floor, every run also boots the same image with our daemon replaced by FLOOR_SERVER below: a
Python program that does the least any daemon of ours must do before its first answer (the
interpreter's start, `import socket, ssl`, the TLS context from the daemon's certificates, listening on
4243, one TLS handshake and one HTTP answer). Its share is the floor of a CPython daemon under this
accelerator, whatever the daemon's own code does.
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
sys.path.insert(0, os.path.join(REPO, "tests"))

from ours import add_options, ours, use_options  # noqa: E402

from boot2docker import bootfiles, vm  # noqa: E402
from boot2docker.profile import load  # noqa: E402
from lib.busybox import write_rootfs_tar  # noqa: E402

STAMP = re.compile(r"boot2docker: (\w+) at ([0-9.]+)s")

# Installed as /usr/local/bin/docker in the floor image; the VM's init runs it with the daemon's flags.
FLOOR_SERVER = """#!/usr/bin/python3 -IS
with open("/proc/uptime") as f:
    uptime = f.read().split()[0]
with open("/dev/console", "w") as console:
    console.write(f"boot2docker: interpreter at {uptime}s\\n")
import socket
import ssl
import sys

flags = dict(a.split("=", 1) for a in sys.argv[1:] if a.startswith("--tls") and "=" in a)
context = None
if "--tlscert" in flags:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(flags["--tlscert"], flags["--tlskey"])
    context.load_verify_locations(flags["--tlscacert"])
    context.verify_mode = ssl.CERT_REQUIRED
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("0.0.0.0", 4243))
server.listen(16)
while True:
    conn, _ = server.accept()
    try:
        if context is not None:
            conn = context.wrap_socket(conn, server_side=True)
        conn.recv(4096)
        conn.sendall(b"HTTP/1.0 200 OK\\r\\nContent-Length: 2\\r\\n\\r\\nOK")
    except OSError as e:
        print(e, file=sys.stderr)
    finally:
        conn.close()
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Machine:
    """One VM of the benchmark's own: a throwaway HOME, free ports, IMAGE."""

    def __init__(self, image: str, accel: str, cpus: int, label: str) -> None:
        self.label = label
        self.home = tempfile.mkdtemp(prefix="b2d-bench-")
        ports = {"dockerport": free_port(), "sshport": free_port()}
        self.flags = [
            "--cpus",
            str(cpus),
            "--accel",
            accel,
            "--dockerport",
            str(ports["dockerport"]),
            "--sshport",
            str(ports["sshport"]),
        ]
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("BOOT2DOCKER", "DOCKER_"))}
        self.env["HOME"] = self.home
        saved = os.environ.get("HOME")
        os.environ["HOME"] = self.home
        try:
            self.profile = load(ports)
        finally:
            if saved is not None:
                os.environ["HOME"] = saved
        self.console = os.path.join(self.profile.vm_dir(), "console.log")
        self.image = os.path.abspath(image)

    def prepare(self, with_busybox: bool) -> None:
        self.b2d("init", "--image", self.image)
        self.b2d("up")  # the first boot formats the data disk
        if with_busybox:  # on the data disk: there for every later boot
            with open(write_rootfs_tar(os.path.join(self.home, "busybox.tar")), "rb") as f:
                self.docker("import", "-", "busybox", stdin=f)
        self.b2d("stop")

    def docker(self, *args: str, stdin=None) -> None:
        """Our client (bench/ours.py: the zipapp by default) through the forwarded port, with TLS."""
        env = {
            **self.env,
            **ours().env,
            "DOCKER_HOST": f"tcp://127.0.0.1:{self.profile.dockerport}",
            "DOCKER_TLS_VERIFY": "1",
            "DOCKER_CERT_PATH": self.profile.certs_dir(),
        }
        done = subprocess.run([*ours().cli, *args], env=env, stdin=stdin, capture_output=True)
        if done.returncode != 0:
            raise SystemExit(f"docker {' '.join(args)}: {done.stderr.decode(errors='replace')}")

    def b2d(self, *args: str, check: bool = True) -> None:
        subprocess.run([sys.executable, "-m", "boot2docker", *self.flags, *args], env=self.env, check=check)

    def boot(self, first_run: bool) -> None:
        """One `up` from the stopped VM, timed to the first /_ping answer; the split printed. With
        FIRST_RUN, then the first and the second `docker run --rm busybox true` after it."""
        seen: dict[str, tuple[float, float]] = {}
        start = time.monotonic()
        self.b2d("up", "--no-wait")
        while True:
            now = time.monotonic()
            with open(self.console, errors="replace") as f:
                for step, uptime in STAMP.findall(f.read()):
                    seen.setdefault(step, (now, float(uptime)))
            if vm.ping(self.profile, timeout=1.0):
                answered = time.monotonic()
                break
            if now - start > 300:
                raise SystemExit(f"{self.label}: no /_ping answer within 300 s")
            time.sleep(0.02)
        runs = []
        if first_run:
            for _ in range(2):
                begun = time.monotonic()
                self.docker("run", "--rm", "busybox", "true")
                runs.append(time.monotonic() - begun)
        print(f"-- {self.label}")
        report(seen, start, answered)
        if runs:
            print(
                f"{'first run':>10}: {runs[0]:6.2f} s (`docker run --rm busybox true` right after the answer)"
            )
            print(f"{'second run':>10}: {runs[1]:6.2f} s")
        self.b2d("stop")

    def delete(self) -> None:
        self.b2d("delete", "--force", check=False)
        shutil.rmtree(self.home, ignore_errors=True)


def floor_image(image: str, out: str) -> None:
    """IMAGE with /usr/local/bin/docker replaced by FLOOR_SERVER, into OUT (kernel and initrd, sums)."""
    root = os.path.join(out, "root")
    os.makedirs(root)
    with open(os.path.join(image, "initrd.img"), "rb") as packed:
        unzip = subprocess.Popen(["gzip", "-dc"], stdin=packed, stdout=subprocess.PIPE)
        subprocess.run(["cpio", "-id", "--quiet"], stdin=unzip.stdout, cwd=root, check=True)
        if unzip.wait() != 0:
            raise SystemExit(f"{image}/initrd.img is not a gzip'd cpio archive")
    with open(os.path.join(root, "usr/local/bin/docker"), "w") as f:
        f.write(FLOOR_SERVER)
    names = subprocess.run(["find", ".", "-mindepth", "1"], cwd=root, capture_output=True, check=True).stdout
    names = b"\n".join(sorted(names.splitlines())) + b"\n"
    with open(os.path.join(out, "initrd.img"), "wb") as f:
        cpio = subprocess.Popen(
            ["cpio", "-o", "-H", "newc", "--quiet"], cwd=root, stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        zipped = subprocess.Popen(["gzip", "-1", "-n"], stdin=cpio.stdout, stdout=f)
        cpio.stdout.close()
        cpio.communicate(names)
        if cpio.returncode != 0 or zipped.wait() != 0:
            raise SystemExit("could not pack the floor image")
    shutil.rmtree(root)
    shutil.copy(os.path.join(image, "vmlinuz"), out)
    shutil.copy(os.path.join(image, "image.json"), out)
    sums = subprocess.run(["sha256sum", "vmlinuz", "initrd.img"], cwd=out, capture_output=True, check=True)
    with open(os.path.join(out, "SHA256SUMS"), "wb") as f:
        f.write(sums.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", required=True, help="image directory (boot/build-image.sh OUT_DIR)")
    parser.add_argument("--accel", default="tcg")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--cpus", type=int, default=1, help="the VMs' virtual CPUs")
    parser.add_argument("--save", action="store_true", help="also time save and up from the saved state")
    parser.add_argument("--floor", action="store_true", help="also boot the floor image in each run")
    parser.add_argument(
        "--first-run", action="store_true", help="also time the first two `docker run`s after each boot"
    )
    add_options(parser)
    opts = parser.parse_args()
    use_options(opts)
    machines: list[Machine] = []
    work = tempfile.mkdtemp(prefix="b2d-floor-")
    try:
        machines.append(Machine(opts.image, opts.accel, opts.cpus, "lxc-docker"))
        if opts.floor:
            floor_image(opts.image, work)
            machines.append(
                Machine(work, opts.accel, opts.cpus, "floor (a Python TLS /_ping server, nothing else)")
            )
        for i, machine in enumerate(machines):
            machine.prepare(with_busybox=opts.first_run and i == 0)
        for _ in range(opts.runs):
            for i, machine in enumerate(machines):
                machine.boot(first_run=opts.first_run and i == 0)
        if opts.save:
            bench_save(machines[0])
    finally:
        for machine in machines:
            machine.delete()
        shutil.rmtree(work, ignore_errors=True)
    unpack = tempfile.mkdtemp(prefix="b2d-unpack-")
    try:
        start = time.monotonic()
        kernel, initrd = bootfiles.prepare(opts.image, unpack)
        took = time.monotonic() - start
        sizes = f"{os.path.getsize(kernel) / 2**20:.0f} + {os.path.getsize(initrd) / 2**20:.0f} MiB"
    finally:
        shutil.rmtree(unpack, ignore_errors=True)
    print(f"unpacking the kernel and initramfs for QEMU (once per image, on the host): {took:.2f} s, {sizes}")
    with open(os.path.join(opts.image, "image.json")) as f:
        size = json.load(f)
    print(
        f"image: vmlinuz {size['vmlinuz_bytes'] / 2**20:.1f} MiB, "
        f"initrd {size['initrd_bytes'] / 2**20:.1f} MiB "
        f"(root {size['root_kib'] / 1024:.0f} MiB unpacked), kernel {size['kernel']}"
    )
    if opts.first_run:
        print(ours().describe())
    print("command: " + " ".join([".venv/bin/python", "bench/bench_boot.py", *sys.argv[1:]]))
    return 0


def bench_save(machine: Machine) -> None:
    b2d, profile = machine.b2d, machine.profile
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
    if "interpreter" in up:  # the floor's program stamps its first line: the interpreter's start
        shares.append(("interpreter", up["interpreter"] - up["daemon"]))
    for name, seconds in shares:
        print(f"{name:>10}: {seconds:6.2f} s")
    print(f"{'total':>10}: {answered - start:6.2f} s (up --no-wait to the first /_ping answer)")


if __name__ == "__main__":
    sys.exit(main())
