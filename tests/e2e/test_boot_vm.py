"""boot2docker for real: the image from boot/build-image.sh booted under QEMU's tcg accelerator (forced,
though /dev/kvm exists here: what macOS and Windows hosts without an accelerator get), our Linux client
talking to the daemon in it over TLS through the 127.0.0.1 forward: version, import, run, a bind mount
from the shared home, save (suspend to disk) and up again, the data disk across stop/up, and delete.
User-mode networking with restrict=on: the VM reaches nothing but the forwarded ports."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import e2e_support as e2e
import pytest

from conftest import require_tools
from lib.busybox import write_rootfs_tar

REPO = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("BOOT_CACHE", "/var/cache/lxc-docker-boot"))
BOOT_SECONDS = "180"


def image_inputs(zipapp: Path) -> str:
    """The cache key of a built image: the build script, the VM's own files and our program."""
    digest = hashlib.sha256()
    files = [REPO / "boot" / name for name in ("build-image.sh", "modclosure.py", "unpack_zipapp.py")]
    files.append(zipapp)
    files += sorted((REPO / "boot" / "image").iterdir())
    for path in files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


@pytest.fixture(scope="module")
def vm_image() -> Path:
    zipapp = e2e.artifact("zipapp")
    if not zipapp.exists():  # scripts/e2e.sh has built the release; a run of this file alone may not
        e2e.ensure_dist()
    out = CACHE / "images" / image_inputs(zipapp)
    if not (out / "SHA256SUMS").exists():
        if out.parent.exists():
            shutil.rmtree(out.parent)  # images of older inputs
        env = {**os.environ, "ZIPAPP": str(zipapp), "BOOT_CACHE": str(CACHE)}
        subprocess.run(
            ["sh", str(REPO / "boot" / "build-image.sh"), str(out)], env=env, check=True, timeout=1200
        )
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Host:
    """A user of this machine with their own home: boot2docker and docker as that user runs them."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("BOOT2DOCKER", "DOCKER_"))}
        self.env["HOME"] = str(home)
        self.flags = ["--accel", "tcg", "--dockerport", str(free_port()), "--sshport", str(free_port())]
        self.flags += ["--boottimeout", BOOT_SECONDS]

    def b2d(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        argv = [sys.executable, "-m", "boot2docker", *self.flags, *args]
        return subprocess.run(argv, env=self.env, capture_output=True, text=True, timeout=timeout)

    def docker(self, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
        init = self.b2d("shellinit", "--shell", "sh").stdout
        env = dict(self.env)
        for line in init.splitlines():
            name, _, value = line.removeprefix("export ").partition("=")
            env[name] = value
        argv = [sys.executable, "-m", "lxc_docker", *args]
        return subprocess.run(argv, env=env, input=stdin, capture_output=True, timeout=120)


# Building the image (a minute or two, once per input set) and two tcg boots on a shared machine.
@pytest.mark.timeout(1200)
def test_boot_run_share_persist_delete(vm_image, tmp_path):
    require_tools("qemu-system-x86_64", "openssl", "ssh-keygen")
    host = Host(tmp_path / "home")
    (host.home / "src").mkdir(parents=True)
    (host.home / "src" / "hello.txt").write_text("hello from the host's home\n")
    try:
        done = host.b2d("init", "--image", str(vm_image))
        assert done.returncode == 0, done.stderr
        done = host.b2d("up")
        assert done.returncode == 0, done.stderr
        assert "The daemon answers on tcp://127.0.0.1:" in done.stderr
        assert host.b2d("status").stdout == "running\n"
        # Debian's kernel came out of its bzImage and booted through its PVH entry (bootfiles.py).
        boot = host.home / ".boot2docker" / "vms" / "boot2docker-vm" / "boot"
        assert (boot / "vmlinux").read_bytes()[:4] == b"\x7fELF"
        assert (boot / "initrd.cpio").read_bytes()[:6] == b"070701"

        version = host.docker("version")
        assert version.returncode == 0, version.stderr
        assert b"Server version: " in version.stdout
        rootfs = write_rootfs_tar(str(tmp_path / "busybox.tar"))
        imported = host.docker("import", "-", "busybox", stdin=Path(rootfs).read_bytes())
        assert imported.returncode == 0, imported.stderr
        hi = host.docker("run", "busybox", "echo", "hi")
        assert (hi.returncode, hi.stdout) == (0, b"hi\n"), hi.stderr
        src = str(host.home / "src")
        shared = host.docker("run", "-v", f"{src}:/src", "busybox", "cat", "/src/hello.txt")
        assert shared.stdout == b"hello from the host's home\n", shared.stderr

        # save: the machine's state to disk and QEMU gone; up continues it (the daemon, its image,
        # the home share mounted again).
        done = host.b2d("save")
        assert done.returncode == 0, done.stderr
        status = host.b2d("status")
        assert (status.returncode, status.stdout) == (1, "saved\n")
        assert (host.home / ".boot2docker" / "vms" / "boot2docker-vm" / "saved.state").stat().st_size > 0
        done = host.b2d("up")
        assert done.returncode == 0, done.stderr
        assert "continues from its saved state" in done.stderr
        shared = host.docker("run", "-v", f"{src}:/src", "busybox", "cat", "/src/hello.txt")
        assert shared.stdout == b"hello from the host's home\n", shared.stderr
        assert not (host.home / ".boot2docker" / "vms" / "boot2docker-vm" / "saved.state").exists()

        refused = host.b2d("delete")
        assert refused.returncode == 1 and "is running" in refused.stderr
        done = host.b2d("stop")
        assert done.returncode == 0, done.stderr
        status = host.b2d("status")
        assert (status.returncode, status.stdout) == (1, "stopped\n")
        console = (host.home / ".boot2docker" / "vms" / "boot2docker-vm" / "console.log").read_text()
        assert "boot2docker: stopped" in console  # the ACPI power-off ran the VM's shutdown

        done = host.b2d("up")
        assert done.returncode == 0, done.stderr
        images = host.docker("images")
        assert b"busybox" in images.stdout, images.stderr
        info = json.loads(host.b2d("info").stdout)
        assert (info["State"], info["Accel"]) == ("running", "tcg")
        ssh = host.b2d("ssh", "cat", "/proc/mounts")
        assert ssh.returncode == 0 and f" {host.home} 9p " in ssh.stdout
    finally:
        host.b2d("delete", "--force")
    assert not (host.home / ".boot2docker" / "vms" / "boot2docker-vm").exists()


def test_the_boot2docker_zipapp(tmp_path):
    """packaging/build.sh's boot2docker zipapp: its verbs, and the settings from a profile."""
    zipapp = e2e.DIST / f"boot2docker-{e2e.version()}.pyz"
    if not zipapp.exists():
        e2e.ensure_dist()
    (tmp_path / ".boot2docker").mkdir()
    (tmp_path / ".boot2docker" / "profile").write_text("Memory = 3000\n")
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "SHIV_ROOT": str(tmp_path / "shiv")}
    helped = subprocess.run([str(zipapp), "--help"], env=env, capture_output=True, text=True, timeout=60)
    verbs = (
        "init",
        "up",
        "start",
        "stop",
        "halt",
        "status",
        "info",
        "delete",
        "ssh",
        "download",
        "shellinit",
    )
    assert helped.returncode == 0 and all(f"  {verb} " in helped.stdout for verb in verbs), helped
    shown = subprocess.run(
        ["python3", str(zipapp), "config"], env=env, capture_output=True, text=True, timeout=60
    )
    assert "memory = 3000\n" in shown.stdout, shown.stderr


@pytest.mark.timeout(900)
def test_the_iso_boots_with_a_sata_disk(vm_image, tmp_path):
    """boot2docker.iso is what VirtualBox boots (no VirtualBox here): GRUB from the CD, the data disk
    on an AHCI controller (/dev/sda, as VirtualBox's SATA disk), formatted at first boot, and the
    daemon answering through the forward. No settings share: plain tcp, no TLS."""
    require_tools("qemu-system-x86_64")
    iso = vm_image / "boot2docker.iso"
    assert iso.exists(), "build-image.sh made no ISO (grub-pc-bin, xorriso, mtools: scripts/setup-dev.sh)"
    disk = tmp_path / "data.img"
    with open(disk, "wb") as f:
        f.truncate(1 << 30)
    port, console = free_port(), tmp_path / "console.log"
    qemu = subprocess.Popen(
        [
            "qemu-system-x86_64",
            "-nodefaults",
            "-no-user-config",
            "-machine",
            "pc",
            "-accel",
            "tcg",
            "-cpu",
            "max",
        ]
        + ["-m", "1024", "-display", "none", "-serial", f"file:{console}", "-cdrom", str(iso), "-boot", "d"]
        + ["-device", "ahci,id=sata", "-drive", f"id=data,file={disk},if=none,format=raw"]
        + ["-device", "ide-hd,drive=data,bus=sata.0"]
        + ["-netdev", f"user,id=net0,restrict=on,hostfwd=tcp:127.0.0.1:{port}-:4243"]
        + ["-device", "virtio-net-pci,netdev=net0"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        e2e.deadline_poll(lambda: _alive(qemu) and _pings(port), 180, 0.5, "the ISO's daemon")
        text = console.read_text(errors="replace")
        assert "boot2docker: formatting the blank data disk /dev/sda" in text
        assert "no data disk" not in text
    finally:
        qemu.kill()
        qemu.wait()


def _alive(qemu: subprocess.Popen) -> bool:
    if qemu.poll() is not None:
        raise AssertionError(f"QEMU exited: {qemu.stderr.read().decode(errors='replace')}")
    return True


def _pings(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.sendall(f"GET /_ping HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
            return s.recv(200).startswith((b"HTTP/1.0 200", b"HTTP/1.1 200"))
    except OSError:
        return False
