"""QEMU: the accelerator for this host, the command line that boots the image, and QMP (the machine
protocol on a socket) for pause, resume and a clean ACPI power-off."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import stat
import subprocess
import sys
import tempfile

from boot2docker.profile import Profile


class QemuError(Exception):
    pass


def kvm_usable(path: str = "/dev/kvm") -> bool:
    try:
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return False
    os.close(fd)
    return True


def choose_accel(wanted: str, platform: str | None = None) -> str:
    """The accelerator: WANTED unless it is auto; else hvf on macOS, whpx on Windows, kvm on Linux when
    /dev/kvm opens, tcg (emulation, slow but everywhere) otherwise."""
    if wanted != "auto":
        return wanted
    platform = platform or sys.platform
    if platform == "darwin":
        return "hvf"
    if platform == "win32":
        return "whpx"
    if platform.startswith("linux") and kvm_usable():
        return "kvm"
    return "tcg"


def qmp_address(vm_dir: str, platform: str) -> str:
    # QEMU on Windows has no unix sockets; there QMP listens on a free loopback port, recorded in the
    # VM's run state.
    if platform == "win32":
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            return f"tcp:127.0.0.1:{probe.getsockname()[1]}"
    path = os.path.join(vm_dir, "qmp.sock")
    if len(os.fsencode(path)) >= (108 if platform.startswith("linux") else UNIX_PATH_MAX):
        path = _short_socket_path(vm_dir)
    return "unix:" + path


# sun_path holds 108 bytes on Linux, 104 on macOS and the BSDs (with the terminating NUL).
UNIX_PATH_MAX = 104


def _short_socket_path(vm_dir: str) -> str:
    """A QMP socket path short enough for sun_path when the VM's directory is too deep (a long home
    directory): in a directory of the user's own under the temporary directory, refused if someone
    else made it or can write into it."""
    base = os.path.join(tempfile.gettempdir(), f"boot2docker-{os.getuid()}")
    try:
        os.mkdir(base, 0o700)
    except FileExistsError:
        pass
    info = os.lstat(base)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise QemuError(f"{base} is not a private directory of this user: remove it, or use a shorter home")
    name = hashlib.sha256(os.fsencode(os.path.abspath(vm_dir))).hexdigest()[:16]
    return os.path.join(base, f"{name}.qmp")


KERNEL_ARGS = "console=ttyS0 quiet"


def command(
    profile: Profile,
    vm_dir: str,
    accel: str,
    qmp: str,
    platform: str | None = None,
    boot: tuple[str, str] | None = None,
) -> list[str]:
    """The whole qemu-system-x86_64 command line for PROFILE's VM, QMP listening at QMP; BOOT the
    kernel and initramfs to boot (bootfiles.prepare), the image's own by default."""
    platform = platform or sys.platform
    image = profile.image_dir()
    kernel, initrd = boot or (os.path.join(image, "vmlinuz"), os.path.join(image, "initrd.img"))
    # Only the forwarded ports reach the guest, and only from this machine (127.0.0.1); restrict=on
    # keeps the guest from opening connections to the host or the outside.
    forwards = f"hostfwd=tcp:127.0.0.1:{profile.sshport}-:22,hostfwd=tcp:127.0.0.1:{profile.dockerport}-:4243"
    args = [
        profile.qemu,
        "-name",
        profile.vm,
        "-nodefaults",
        "-no-user-config",
        "-machine",
        "pc",
        "-accel",
        accel,
        "-cpu",
        "host" if accel in ("kvm", "hvf") else "max",
        "-m",
        str(profile.memory),
        "-smp",
        str(profile.cpus),
        "-display",
        "none",
        "-serial",
        "file:" + os.path.join(vm_dir, "console.log"),
        "-kernel",
        kernel,
        "-initrd",
        initrd,
        "-append",
        KERNEL_ARGS,
        "-drive",
        "file=" + os.path.join(vm_dir, "data.img") + ",if=virtio,format=raw,cache=writeback",
        "-netdev",
        "user,id=net0,restrict=on," + forwards,
        "-device",
        "virtio-net-pci,netdev=net0",
        "-qmp",
        qmp + ",server=on,wait=off",
    ]
    if platform != "win32":
        # QEMU for Windows has no 9p: the home share and the settings share need it.
        share = os.path.join(vm_dir, "share")
        args += ["-virtfs", f"local,path={share},mount_tag=b2d,security_model=none,readonly=on,id=b2d"]
        args += ["-virtfs", f"local,path={profile.sharedir},mount_tag=home,security_model=none,id=home"]
        # The line `save` and `resume` ask the VM's init to unmount and mount the 9p shares over (QEMU
        # cannot save a machine with a 9p share mounted): a pipe chardev, whose FIFOs ctl.in and
        # ctl.out the VM's directory holds.
        ctl = os.path.join(vm_dir, "ctl")
        args += ["-device", "virtio-serial-pci", "-chardev", f"pipe,id=ctl,path={ctl}"]
        args += ["-device", "virtserialport,chardev=ctl,name=boot2docker.ctl"]
        args += ["-pidfile", os.path.join(vm_dir, "qemu.pid"), "-daemonize"]
    return args


def version(binary: str) -> str:
    """QEMU's version line (`QEMU emulator version 7.2.19 (Debian ...)`): a saved state is refused by
    another version."""
    try:
        done = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=60)
    except FileNotFoundError:
        raise QemuError(f"{binary} not found: install QEMU or set QEMU in the profile") from None
    except subprocess.TimeoutExpired:
        raise QemuError(f"{binary} --version did not answer within 60 s") from None
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise QemuError(f"{binary} --version failed: {done.stderr.strip()}")
    return lines[0]


def start(args: list[str], vm_dir: str, platform: str | None = None) -> None:
    """Runs QEMU detached. With -daemonize, QEMU's parent returns once the machine is set up, so a
    port it could not forward or a file it could not open is reported here, not after a wait."""
    platform = platform or sys.platform
    try:
        if platform == "win32":
            flags = getattr(subprocess, "DETACHED_PROCESS", 0) | getattr(
                subprocess, "CREATE_NEW_PROCESS_GROUP", 0
            )
            proc = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=open(os.path.join(vm_dir, "qemu.log"), "ab"),
                creationflags=flags,
            )
            with open(os.path.join(vm_dir, "qemu.pid"), "w") as f:
                f.write(f"{proc.pid}\n")
            return
        done = subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
    except FileNotFoundError:
        raise QemuError(f"{args[0]} not found: install QEMU or set QEMU in the profile") from None
    except subprocess.TimeoutExpired:
        raise QemuError(f"{args[0]} did not finish setting up the VM within 120 s") from None
    if done.returncode != 0:
        raise QemuError(f"QEMU could not start the VM: {done.stderr.strip() or done.stdout.strip()}")


class Qmp:
    """One QMP session: the greeting, qmp_capabilities, then commands answered one at a time."""

    def __init__(self, address: str, timeout: float = 5.0) -> None:
        if address.startswith("unix:"):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            target: object = address[5:]
        else:
            host, _, port = address[4:].rpartition(":")
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            target = (host, int(port))
        sock.settimeout(timeout)
        try:
            sock.connect(target)
        except OSError as e:
            sock.close()
            raise QemuError(f"cannot reach the VM's QMP socket {address}: {e}") from None
        self.sock = sock
        self.stream = sock.makefile("rwb")
        self._read()
        self.execute("qmp_capabilities")

    def _read(self) -> dict:
        while True:
            line = self.stream.readline()
            if not line:
                raise QemuError("QMP closed the connection")
            message = json.loads(line)
            if "event" not in message:
                return message

    def execute(self, name: str, **arguments: object) -> object:
        request: dict[str, object] = {"execute": name}
        if arguments:
            request["arguments"] = arguments
        self.stream.write(json.dumps(request).encode() + b"\n")
        self.stream.flush()
        answer = self._read()
        if "error" in answer:
            raise QemuError(f"QMP {name}: {answer['error'].get('desc', answer['error'])}")
        return answer.get("return")

    def execute_with_fd(self, name: str, fd: int, **arguments: object) -> object:
        """A command that takes a file descriptor along (getfd): passed with SCM_RIGHTS."""
        request: dict[str, object] = {"execute": name}
        if arguments:
            request["arguments"] = arguments
        self.stream.flush()
        socket.send_fds(self.sock, [json.dumps(request).encode() + b"\n"], [fd])
        answer = self._read()
        if "error" in answer:
            raise QemuError(f"QMP {name}: {answer['error'].get('desc', answer['error'])}")
        return answer.get("return")

    def close(self) -> None:
        self.stream.close()
        self.sock.close()

    def __enter__(self) -> Qmp:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
