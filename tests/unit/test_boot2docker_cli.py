"""boot2docker's verbs against a fake hypervisor: the exact QEMU and VBoxManage command lines, the
state verbs and their exit codes, and the messages for a taken port, a stale pid file, a crashed VM."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile

import pytest

from boot2docker import qemu
from lib.boot2docker_fakes import fake_image, install_fakes, recorded
from lib.poll import poll


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class B2D:
    def __init__(self, tmp_path, **extra_env: str) -> None:
        self.home = str(tmp_path / "home")
        os.makedirs(self.home)
        self.log = str(tmp_path / "hv.log")
        self.image = fake_image(str(tmp_path / "image"), iso=True)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("BOOT2DOCKER", "DOCKER_"))}
        # TMPDIR: where the QMP socket goes when the VM's directory is too deep for a socket path.
        self.tmp = str(tmp_path / "tmp")
        os.makedirs(self.tmp)
        self.env.update(
            install_fakes(str(tmp_path / "bin"), self.log), HOME=self.home, TMPDIR=self.tmp, **extra_env
        )
        self.dockerport, self.sshport = free_port(), free_port()
        self.ports = ["--dockerport", str(self.dockerport), "--sshport", str(self.sshport)]

    def run(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "boot2docker", *args],
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=60,
        )

    def vm_dir(self, name: str = "boot2docker-vm") -> str:
        return os.path.join(self.home, ".boot2docker", "vms", name)

    def calls(self) -> list[list[str]]:
        return recorded(self.log)


@pytest.fixture
def b2d(tmp_path):
    b = B2D(tmp_path)
    yield b
    pidfile = os.path.join(b.vm_dir(), "qemu.pid")
    if os.path.exists(pidfile):
        b.run("delete", "--force")


def qmp_address(b: B2D, vm_dir: str) -> str:
    saved = tempfile.tempdir
    tempfile.tempdir = b.tmp  # as TMPDIR does for the boot2docker the test runs
    try:
        return qemu.qmp_address(vm_dir, sys.platform)
    finally:
        tempfile.tempdir = saved


def expected_qemu(b: B2D, accel: str, cpu: str) -> list[str]:
    d = b.vm_dir()
    return [
        "qemu-system-x86_64",
        "-name",
        "boot2docker-vm",
        "-nodefaults",
        "-no-user-config",
        "-machine",
        "pc",
        "-accel",
        accel,
        "-cpu",
        cpu,
        "-m",
        "2048",
        "-smp",
        "2",
        "-display",
        "none",
        "-serial",
        f"file:{d}/console.log",
        "-kernel",
        f"{b.image}/vmlinuz",
        "-initrd",
        f"{b.image}/initrd.img",
        "-append",
        "console=ttyS0 quiet",
        "-drive",
        f"file={d}/data.img,if=virtio,format=raw,cache=writeback",
        "-netdev",
        f"user,id=net0,restrict=on,hostfwd=tcp:127.0.0.1:{b.sshport}-:22,"
        f"hostfwd=tcp:127.0.0.1:{b.dockerport}-:4243",
        "-device",
        "virtio-net-pci,netdev=net0",
        "-qmp",
        qmp_address(b, d) + ",server=on,wait=off",
        "-virtfs",
        f"local,path={d}/share,mount_tag=b2d,security_model=none,readonly=on,id=b2d",
        "-virtfs",
        f"local,path={b.home},mount_tag=home,security_model=none,id=home",
        "-device",
        "virtio-serial-pci",
        "-chardev",
        f"pipe,id=ctl,path={d}/ctl",
        "-device",
        "virtserialport,chardev=ctl,name=boot2docker.ctl",
        "-pidfile",
        f"{d}/qemu.pid",
        "-daemonize",
    ]


def test_init_up_runs_the_exact_qemu_command_line(b2d):
    done = b2d.run("--no-tls", "init", "--image", b2d.image)
    assert done.returncode == 0, done.stderr
    assert os.path.getsize(os.path.join(b2d.vm_dir(), "data.img")) == 20000 * 1024 * 1024
    done = b2d.run("--no-tls", "--accel", "tcg", "-m", "2048", "-c", "2", *b2d.ports, "up", "--no-wait")
    assert done.returncode == 0, done.stderr
    assert b2d.calls() == [expected_qemu(b2d, "tcg", "max")]
    with open(os.path.join(b2d.vm_dir(), "share", "home")) as f:
        assert f.read() == b2d.home + "\n"


def test_the_profile_sets_what_flags_do_not(b2d):
    os.makedirs(os.path.join(b2d.home, ".boot2docker"))
    with open(os.path.join(b2d.home, ".boot2docker", "profile"), "w") as f:
        f.write(
            f'# mine\nMemory = 2048\nCPUs = "2"\nAccel = kvm\nTLS = false\nDockerPort = {b2d.dockerport}\n'
        )
    assert b2d.run("init", "--image", b2d.image).returncode == 0
    done = b2d.run("--sshport", str(b2d.sshport), "up", "--no-wait")
    assert done.returncode == 0, done.stderr
    assert b2d.calls() == [expected_qemu(b2d, "kvm", "host")]


def test_status_stop_and_delete(b2d):
    assert b2d.run("--no-tls", "init", "--image", b2d.image).returncode == 0
    status = b2d.run("status")
    assert (status.returncode, status.stdout) == (1, "stopped\n")
    assert b2d.run("--no-tls", "--accel", "tcg", *b2d.ports, "up", "--no-wait").returncode == 0
    with open(os.path.join(b2d.vm_dir(), "qemu.pid")) as f:
        pid = int(f.read())
    status = b2d.run("status")
    assert (status.returncode, status.stdout) == (0, "running\n")
    refused = b2d.run("delete")
    assert refused.returncode == 1 and "is running" in refused.stderr and "--force" in refused.stderr
    assert os.path.exists(b2d.vm_dir())
    # No QMP in the fake: stop falls back to killing the process once the power-off times out.
    assert b2d.run("stop").returncode == 0
    poll(
        lambda: not os.path.exists(f"/proc/{pid}") or _zombie(pid),
        timeout=10,
        what="the fake VM process to end",
    )
    assert b2d.run("status").stdout == "stopped\n"
    assert b2d.run("delete").returncode == 0
    assert not os.path.exists(b2d.vm_dir())


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def test_delete_force_kills_a_running_vm(b2d):
    assert b2d.run("--no-tls", "init", "--image", b2d.image).returncode == 0
    assert b2d.run("--no-tls", "--accel", "tcg", *b2d.ports, "up", "--no-wait").returncode == 0
    with open(os.path.join(b2d.vm_dir(), "qemu.pid")) as f:
        pid = int(f.read())
    assert b2d.run("delete", "--force").returncode == 0
    assert not os.path.exists(b2d.vm_dir())
    poll(lambda: _zombie(pid), timeout=10, what="the fake VM process to end")


def test_a_stale_pid_file_is_reported_and_removed(b2d):
    assert b2d.run("--no-tls", "init", "--image", b2d.image).returncode == 0
    dead = subprocess.Popen(["true"])
    dead.wait()
    with open(os.path.join(b2d.vm_dir(), "qemu.pid"), "w") as f:
        f.write(f"{dead.pid}\n")
    status = b2d.run("status")
    assert status.returncode == 1 and status.stdout == "stopped\n"
    assert f"stale pid file: the VM's process {dead.pid} is gone" in status.stderr
    assert not os.path.exists(os.path.join(b2d.vm_dir(), "qemu.pid"))


def test_a_port_in_use_is_refused_before_the_vm_starts(b2d):
    assert b2d.run("--no-tls", "init", "--image", b2d.image).returncode == 0
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", b2d.dockerport))
        taken.listen()
        done = b2d.run("--no-tls", *b2d.ports, "up")
    assert done.returncode == 1
    assert f"port {b2d.dockerport} on 127.0.0.1 is already in use by another program" in done.stderr
    assert b2d.calls() == []


def test_a_vm_that_dies_while_booting_shows_its_console(b2d):
    assert b2d.run("--no-tls", "init", "--image", b2d.image).returncode == 0
    done = b2d.run("--no-tls", "--accel", "tcg", *b2d.ports, "up", env={"FAKE_QEMU_DIES": "1"})
    assert done.returncode == 1
    assert "the VM exited while booting" in done.stderr
    assert "fake console: the kernel panicked" in done.stderr


def test_up_before_init_and_init_twice(b2d):
    done = b2d.run("up")
    assert done.returncode == 1 and "run `boot2docker init` first" in done.stderr
    assert b2d.run("--no-tls", "init", "--image", b2d.image).returncode == 0
    again = b2d.run("--no-tls", "init", "--image", b2d.image)
    assert again.returncode == 1 and "already exists" in again.stderr


def test_init_refuses_a_damaged_image(b2d):
    with open(os.path.join(b2d.image, "initrd.img"), "ab") as f:
        f.write(b"x")
    done = b2d.run("--no-tls", "init", "--image", b2d.image)
    assert done.returncode == 1 and "does not match its SHA-256" in done.stderr
    assert not os.path.exists(b2d.vm_dir())


def test_info_is_json(b2d):
    assert b2d.run("--no-tls", "init", "--image", b2d.image).returncode == 0
    done = b2d.run("--no-tls", "--memory", "512", "info")
    info = json.loads(done.stdout)
    assert info["Name"] == "boot2docker-vm" and info["State"] == "stopped" and info["Memory"] == 512
    assert info["Image"] == b2d.image and info["Hypervisor"] == "qemu"


def test_virtualbox_command_lines(b2d):
    done = b2d.run("--no-tls", "--hypervisor", "virtualbox", *b2d.ports, "init", "--image", b2d.image)
    assert done.returncode == 0, done.stderr
    d, name = b2d.vm_dir(), "boot2docker-vm"
    assert b2d.calls() == [
        ["VBoxManage", "createvm", "--name", name, "--ostype", "Linux26_64", "--register", "--basefolder", d],
        [
            "VBoxManage",
            "modifyvm",
            name,
            "--memory",
            "1024",
            "--cpus",
            "1",
            "--acpi",
            "on",
            "--ioapic",
            "on",
            "--boot1",
            "dvd",
            "--boot2",
            "none",
            "--nic1",
            "nat",
            "--nictype1",
            "virtio",
            "--natpf1",
            f"ssh,tcp,127.0.0.1,{b2d.sshport},,22",
            "--natpf1",
            f"docker,tcp,127.0.0.1,{b2d.dockerport},,4243",
            "--uart1",
            "0x3F8",
            "4",
            "--uartmode1",
            "file",
            f"{d}/console.log",
        ],
        ["VBoxManage", "storagectl", name, "--name", "SATA", "--add", "sata", "--portcount", "2"],
        [
            "VBoxManage",
            "createmedium",
            "disk",
            "--filename",
            f"{d}/data.vmdk",
            "--size",
            "20000",
            "--format",
            "VMDK",
        ],
        [
            "VBoxManage",
            "storageattach",
            name,
            "--storagectl",
            "SATA",
            "--port",
            "0",
            "--device",
            "0",
            "--type",
            "dvddrive",
            "--medium",
            f"{b2d.image}/boot2docker.iso",
        ],
        [
            "VBoxManage",
            "storageattach",
            name,
            "--storagectl",
            "SATA",
            "--port",
            "1",
            "--device",
            "0",
            "--type",
            "hdd",
            "--medium",
            f"{d}/data.vmdk",
        ],
        ["VBoxManage", "sharedfolder", "add", name, "--name", "home", "--hostpath", b2d.home],
        [
            "VBoxManage",
            "sharedfolder",
            "add",
            name,
            "--name",
            "b2d",
            "--hostpath",
            f"{d}/share",
            "--readonly",
        ],
    ]
    os.unlink(b2d.log)
    assert b2d.run("--no-tls", *b2d.ports, "up", "--no-wait").returncode == 0
    assert b2d.run("pause").returncode == 0
    assert b2d.run("status").stdout == "paused\n"
    assert b2d.run("resume").returncode == 0
    assert b2d.run("save").returncode == 0
    status = b2d.run("status")
    assert (status.returncode, status.stdout) == (1, "saved\n")
    assert b2d.run("resume").returncode == 0
    assert b2d.run("halt").returncode == 0
    calls = [c for c in b2d.calls() if c[1] != "showvminfo"]
    assert calls == [
        ["VBoxManage", "startvm", name, "--type", "headless"],
        ["VBoxManage", "controlvm", name, "pause"],
        ["VBoxManage", "controlvm", name, "resume"],
        ["VBoxManage", "controlvm", name, "savestate"],
        # VirtualBox continues a saved VM by starting it.
        ["VBoxManage", "startvm", name, "--type", "headless"],
        ["VBoxManage", "controlvm", name, "acpipowerbutton"],
    ]


def test_virtualbox_needs_an_iso(b2d):
    os.unlink(os.path.join(b2d.image, "boot2docker.iso"))
    done = b2d.run("--no-tls", "--hypervisor", "virtualbox", "init", "--image", b2d.image)
    assert done.returncode == 1 and "has no boot2docker.iso" in done.stderr
    assert b2d.calls() == []


def test_init_makes_certificates_and_shellinit_exports_them(b2d):
    assert b2d.run("init", "--image", b2d.image).returncode == 0
    certs = os.path.join(b2d.home, ".boot2docker", "certs")
    assert sorted(os.listdir(certs)) == ["ca-key.pem", "ca.pem", "cert.pem", "key.pem", "server"]
    # Only the daemon's pair goes into the VM: never the CA's key or the client's.
    share = os.path.join(b2d.vm_dir(), "share", "certs")
    assert sorted(os.listdir(share)) == ["ca.pem", "server-cert.pem", "server-key.pem"]
    done = b2d.run("shellinit", "--shell", "sh")
    assert done.stdout == (
        "export DOCKER_HOST=tcp://127.0.0.1:4243\n"
        f"export DOCKER_CERT_PATH={certs}\nexport DOCKER_TLS_VERIFY=1\n"
    )


def test_bad_flags_and_profile_lines_are_refused(b2d):
    assert b2d.run("--accel", "warp", "config").returncode == 2
    assert b2d.run("--dockerport", "70000", "config").returncode == 2
    os.makedirs(os.path.join(b2d.home, ".boot2docker"))
    with open(os.path.join(b2d.home, ".boot2docker", "profile"), "w") as f:
        f.write("Memory = lots\n")
    done = b2d.run("config")
    assert done.returncode == 1 and "profile:1: Memory must be a whole number" in done.stderr


def test_the_docker_client_does_not_import_click():
    code = "import sys, lxc_docker.main as m, lxc_docker.cli.main; print('click' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert done.stdout == "False\n"


def test_debug_in_the_profile_reaches_the_vm(b2d):
    os.makedirs(os.path.join(b2d.home, ".boot2docker"))
    profile = os.path.join(b2d.home, ".boot2docker", "profile")
    with open(profile, "w") as f:
        f.write("Debug = true\nTLS = false\n")
    assert b2d.run("init", "--image", b2d.image).returncode == 0
    assert b2d.run("--accel", "tcg", *b2d.ports, "up", "--no-wait").returncode == 0
    assert os.path.exists(os.path.join(b2d.vm_dir(), "share", "debug"))
    assert b2d.run("stop").returncode == 0
    with open(profile, "w") as f:
        f.write("TLS = false\n")
    assert b2d.run("--accel", "tcg", *b2d.ports, "up", "--no-wait").returncode == 0
    assert not os.path.exists(os.path.join(b2d.vm_dir(), "share", "debug"))


def test_tls_turned_on_after_init_makes_the_certificates(b2d):
    assert b2d.run("--no-tls", "init", "--image", b2d.image).returncode == 0
    assert not os.path.exists(os.path.join(b2d.home, ".boot2docker", "certs"))
    done = b2d.run("--accel", "tcg", *b2d.ports, "up", "--no-wait")
    assert done.returncode == 0, done.stderr
    share = os.path.join(b2d.vm_dir(), "share", "certs")
    assert sorted(os.listdir(share)) == ["ca.pem", "server-cert.pem", "server-key.pem"]


def _fake_saved_state(b: B2D, **changes: object) -> None:
    """A saved state as `save` leaves it (the fake QEMU has no QMP to make one): the state file and
    its record, made by this image and the fake QEMU unless CHANGES say otherwise."""
    import hashlib

    d = b.vm_dir()
    with open(os.path.join(b.image, "SHA256SUMS"), "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    meta = {"image": digest, "qemu": "QEMU emulator version 7.2.0 (fake)", "argv": ["qemu-system-x86_64"]}
    meta.update(changes)
    with open(os.path.join(d, "saved.state"), "wb") as f:
        f.write(b"QEVM")
    with open(os.path.join(d, "saved.json"), "w") as f:
        json.dump(meta, f)


def test_a_state_saved_by_another_qemu_or_image_is_refused(b2d):
    assert b2d.run("--no-tls", "init", "--image", b2d.image).returncode == 0
    _fake_saved_state(b2d, qemu="QEMU emulator version 6.2.0")
    status = b2d.run("status")
    assert (status.returncode, status.stdout) == (1, "saved\n")
    for verb in ("up", "resume"):
        done = b2d.run("--no-tls", *b2d.ports, verb)
        assert done.returncode == 1
        assert "saved by 'QEMU emulator version 6.2.0'" in done.stderr, done.stderr
        assert "`boot2docker stop` discards the saved state" in done.stderr
    _fake_saved_state(b2d, image="0" * 64)
    done = b2d.run("--no-tls", *b2d.ports, "up")
    assert done.returncode == 1 and "saved with another image" in done.stderr, done.stderr
    _fake_saved_state(b2d, ports={"SSHPort": b2d.sshport, "DockerPort": 1})
    done = b2d.run("--no-tls", *b2d.ports, "up")
    assert done.returncode == 1 and "saved with DockerPort 1" in done.stderr, done.stderr
    assert all(call == ["qemu-system-x86_64", "--version"] for call in b2d.calls())  # nothing started
    done = b2d.run("stop")
    assert done.returncode == 0 and "discarded the VM's saved state" in done.stderr
    assert not os.path.exists(os.path.join(b2d.vm_dir(), "saved.state"))
    assert b2d.run("status").stdout == "stopped\n"


def test_save_of_a_stopped_vm_is_refused(b2d):
    assert b2d.run("--no-tls", "init", "--image", b2d.image).returncode == 0
    done = b2d.run("save")
    assert done.returncode == 1 and "is not running" in done.stderr
