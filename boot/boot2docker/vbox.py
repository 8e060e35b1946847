"""The VM under VirtualBox, through VBoxManage (boot2docker's documented 2014 path): a headless VM
booting the image's boot2docker.iso, NAT port forwards on 127.0.0.1, the home as a shared folder."""

from __future__ import annotations

import os
import shutil
import subprocess
import time

from boot2docker import vm
from boot2docker.profile import Profile


class VBoxMachine:
    hypervisor = "virtualbox"

    def __init__(self, profile: Profile) -> None:
        self.profile = profile
        self.dir = profile.vm_dir()
        self.notices: list[str] = []

    def _run(self, *args: str, check: bool = True) -> str:
        argv = [self.profile.vboxmanage, *args]
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=300)
        except FileNotFoundError:
            raise vm.VMError(f"{self.profile.vboxmanage} not found: install VirtualBox or use QEMU") from None
        if check and done.returncode != 0:
            raise vm.VMError(f"VBoxManage {args[0]} failed: {done.stderr.strip()}")
        return done.stdout

    def exists(self) -> bool:
        return os.path.exists(os.path.join(self.dir, "vm.json"))

    def init_commands(self) -> list[list[str]]:
        p, name = self.profile, self.profile.vm
        disk = os.path.join(self.dir, "data.vmdk")
        return [
            ["createvm", "--name", name, "--ostype", "Linux26_64", "--register", "--basefolder", self.dir],
            [
                "modifyvm",
                name,
                "--memory",
                str(p.memory),
                "--cpus",
                str(p.cpus),
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
                f"ssh,tcp,127.0.0.1,{p.sshport},,22",
                "--natpf1",
                f"docker,tcp,127.0.0.1,{p.dockerport},,4243",
                "--uart1",
                "0x3F8",
                "4",
                "--uartmode1",
                "file",
                os.path.join(self.dir, "console.log"),
            ],
            ["storagectl", name, "--name", "SATA", "--add", "sata", "--portcount", "2"],
            ["createmedium", "disk", "--filename", disk, "--size", str(p.disksize), "--format", "VMDK"],
            [
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
                os.path.join(p.image_dir(), "boot2docker.iso"),
            ],
            [
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
                disk,
            ],
            ["sharedfolder", "add", name, "--name", "home", "--hostpath", p.sharedir],
            [
                "sharedfolder",
                "add",
                name,
                "--name",
                "b2d",
                "--hostpath",
                os.path.join(self.dir, "share"),
                "--readonly",
            ],
        ]

    def init(self) -> None:
        iso = os.path.join(self.profile.image_dir(), "boot2docker.iso")
        if not os.path.exists(iso):
            raise vm.VMError(
                f"VirtualBox boots an ISO and the image at {self.profile.image_dir()} "
                "has no boot2docker.iso; "
                "use the QEMU hypervisor (Hypervisor = qemu) with this image"
            )
        vm.init_common(self.profile)
        # init_common made a raw disk for QEMU; VirtualBox makes its own.
        os.unlink(os.path.join(self.dir, "data.img"))
        for args in self.init_commands():
            self._run(*args)
        vm.write_json(
            os.path.join(self.dir, "vm.json"),
            {
                "hypervisor": "virtualbox",
                "image": self.profile.image_dir(),
                "disksize": self.profile.disksize,
            },
        )

    def state(self) -> str:
        out = self._run("showvminfo", self.profile.vm, "--machinereadable", check=False)
        for line in out.splitlines():
            if line.startswith("VMState="):
                value = line.split("=", 1)[1].strip('"')
                if value == "aborted":
                    self.notices.append("the VM was aborted (it crashed or was killed)")
                return {"running": "running", "paused": "paused", "saved": "saved"}.get(value, "stopped")
        return "stopped"

    def _alive(self) -> bool:
        return self.state() in ("running", "paused")

    def up(self, wait: bool = True, progress=None) -> float | None:
        if not self.exists():
            raise vm.VMError(f"VM {self.profile.vm!r} does not exist: run `boot2docker init` first")
        state = self.state()
        if state == "paused":
            self._run("controlvm", self.profile.vm, "resume")
        elif state != "running":
            if state == "stopped":
                vm.check_ports(self.profile)
            vm.prepare_share(self.profile, self.dir)
            self._run("startvm", self.profile.vm, "--type", "headless")
        if not wait:
            return None
        return vm.wait_ready(self.profile, self.dir, self._alive, self.profile.boottimeout, progress)

    def pause(self) -> None:
        self._run("controlvm", self.profile.vm, "pause")

    def save(self) -> None:
        self._run("controlvm", self.profile.vm, "savestate")

    def resume(self) -> None:
        if self.state() == "saved":  # VirtualBox continues a saved VM by starting it
            self._run("startvm", self.profile.vm, "--type", "headless")
            return
        self._run("controlvm", self.profile.vm, "resume")

    def stop(self, timeout: float = 60.0) -> None:
        if self.state() == "stopped":
            return
        self._run("controlvm", self.profile.vm, "acpipowerbutton", check=False)
        deadline = time.monotonic() + timeout
        while self._alive() and time.monotonic() < deadline:
            time.sleep(0.5)
        if self._alive():
            self.notices.append(f"the VM did not power off within {timeout:.0f} s: powered it off")
            self.kill()

    def kill(self) -> None:
        self._run("controlvm", self.profile.vm, "poweroff", check=False)

    def delete(self) -> None:
        self._run("unregistervm", self.profile.vm, "--delete", check=False)
        shutil.rmtree(self.dir, ignore_errors=True)

    def info(self) -> dict:
        return {"Accel": "virtualbox", "Pid": None}
