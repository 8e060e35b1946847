"""The VM under QEMU: state from the pid file and QMP, start, pause/resume, ACPI power-off."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable

from boot2docker import bootfiles, image, procs, qemu, qemusave, vm
from boot2docker.profile import Profile


def start_with_fallback(start: Callable[[str], None], accel: str, chosen_for_us: bool) -> str:
    """start(accel); when the accelerator was picked for the user (not forced) and QEMU refuses it,
    start(tcg) instead, saying so. Returns the accelerator the VM runs with."""
    try:
        start(accel)
        return accel
    except qemu.QemuError as e:
        if not chosen_for_us or accel == "tcg":
            raise
        # A host accelerator that exists but refuses this machine (nested KVM that rejects QEMU's
        # CPU model, a disabled Hypervisor Platform) should not stop `up`: emulation still works.
        print(f"boot2docker: the {accel} accelerator failed ({e}); falling back to tcg", file=sys.stderr)
    start("tcg")
    return "tcg"


class QemuMachine:
    hypervisor = "qemu"

    def __init__(self, profile: Profile, platform: str | None = None) -> None:
        self.profile = profile
        self.platform = platform or sys.platform
        self.dir = profile.vm_dir()
        self.pidfile = os.path.join(self.dir, "qemu.pid")
        self.runfile = os.path.join(self.dir, "run.json")
        self.notices: list[str] = []
        self.boot: tuple[str, str] | None = None  # kernel and initramfs, once up() prepared them

    # --- state ---------------------------------------------------------------------------------

    def exists(self) -> bool:
        return os.path.exists(os.path.join(self.dir, "vm.json"))

    def pid(self) -> int | None:
        return procs.read_pid(self.pidfile)

    def _forget(self) -> None:
        qmp = (vm.read_json(self.runfile) or {}).get("qmp") or ""
        # The socket may be outside the VM's directory (qemu.qmp_address, for a deep one).
        socket_path = qmp[len("unix:") :] if qmp.startswith("unix:") else os.path.join(self.dir, "qmp.sock")
        for path in (self.pidfile, self.runfile, socket_path):
            if os.path.lexists(path):
                os.unlink(path)

    def _qmp(self) -> qemu.Qmp:
        run = vm.read_json(self.runfile) or {}
        return qemu.Qmp(run.get("qmp") or qemu.qmp_address(self.dir, self.platform))

    def state(self) -> str:
        """running, paused, saved or stopped. A pid file whose process is gone is removed, with a
        notice."""
        pid = self.pid()
        if pid is None and qemusave.saved(self.dir) is not None:
            return "saved"
        if pid is None:
            if os.path.exists(self.runfile):
                self.notices.append("the VM is gone without a clean shutdown (it crashed or was killed)")
                self._forget()
            return "stopped"
        if not procs.alive(pid):
            self.notices.append(
                f"removed a stale pid file: the VM's process {pid} is gone (crashed or killed)"
            )
            self._forget()
            return "stopped"
        try:
            with self._qmp() as q:
                status = q.execute("query-status")
        except qemu.QemuError:
            return "running"
        return "paused" if isinstance(status, dict) and status.get("status") == "paused" else "running"

    # --- verbs ---------------------------------------------------------------------------------

    def init(self) -> None:
        vm_dir = vm.init_common(self.profile)
        vm.write_json(
            os.path.join(vm_dir, "vm.json"),
            {"hypervisor": "qemu", "image": self.profile.image_dir(), "disksize": self.profile.disksize},
        )

    def command(self, accel: str, qmp: str) -> list[str]:
        return qemu.command(self.profile, self.dir, accel, qmp, self.platform, self.boot)

    def up(self, wait: bool = True, progress=None) -> float | None:
        if not self.exists():
            raise vm.VMError(f"VM {self.profile.vm!r} does not exist: run `boot2docker init` first")
        state = self.state()
        if state == "saved":
            qemusave.restore(self, qemusave.saved(self.dir) or {})
            return (
                vm.wait_ready(self.profile, self.dir, self._alive, self.profile.boottimeout, progress)
                if wait
                else None
            )
        if state == "paused":
            self.resume()
            return (
                vm.wait_ready(self.profile, self.dir, self._alive, self.profile.boottimeout) if wait else None
            )
        if state == "running":
            return (
                vm.wait_ready(self.profile, self.dir, self._alive, self.profile.boottimeout) if wait else None
            )
        vm.check_ports(self.profile)
        try:
            image.verify(self.profile.image_dir())
            self.boot = bootfiles.prepare(self.profile.image_dir(), self.dir)
        except image.ImageError as e:
            raise vm.VMError(str(e)) from None
        except (OSError, ValueError) as e:
            raise vm.VMError(
                f"unpacking the image's kernel and initramfs into {self.dir}/boot: {e}"
            ) from None
        vm.prepare_share(self.profile, self.dir)
        accel = qemu.choose_accel(self.profile.accel, self.platform)
        qmp = qemu.qmp_address(self.dir, self.platform)
        with open(os.path.join(self.dir, "console.log"), "w"):
            pass
        try:
            start_with_fallback(lambda a: self._start(a, qmp), accel, self.profile.accel == "auto")
        except qemu.QemuError as e:
            self._forget()
            raise vm.VMError(str(e)) from None
        if not wait:
            return None
        return vm.wait_ready(self.profile, self.dir, self._alive, self.profile.boottimeout, progress)

    def _start(self, accel: str, qmp: str) -> None:
        argv = self.command(accel, qmp)
        # The command line is kept: a saved state continues only on the same machine (qemusave).
        vm.write_json(self.runfile, {"accel": accel, "qmp": qmp, "argv": argv, "started": time.time()})
        if self.platform != "win32":
            qemusave.make_ctl(self.dir)
        qemu.start(argv, self.dir, self.platform)

    def _alive(self) -> bool:
        pid = self.pid()
        return pid is not None and procs.alive(pid)

    def pause(self) -> None:
        self._running_or_fail()
        with self._qmp() as q:
            q.execute("stop")

    def resume(self) -> None:
        meta = qemusave.saved(self.dir)
        if meta is not None and self.pid() is None:
            qemusave.restore(self, meta)
            return
        self._running_or_fail()
        with self._qmp() as q:
            q.execute("cont")

    def _running_or_fail(self) -> None:
        if self.state() in ("stopped", "saved"):
            raise vm.VMError(f"VM {self.profile.vm!r} is not running")

    def stop(self, timeout: float = 60.0) -> None:
        """ACPI power button (the VM's init stops the daemon and unmounts the data disk), then a kill
        once TIMEOUT passes."""
        pid = self.pid()
        if self.state() == "saved":
            qemusave.discard(self.dir)
            self.notices.append("discarded the VM's saved state: the next `up` boots it afresh")
            return
        if self.state() == "stopped" or pid is None:
            return
        try:
            with self._qmp() as q:
                if q.execute("query-status").get("status") == "paused":
                    q.execute("cont")
                q.execute("system_powerdown")
        except (qemu.QemuError, AttributeError, OSError) as e:
            # No way to press the power button: QEMU quits on SIGTERM (the guest gets no say).
            self.notices.append(f"could not reach the VM's QMP socket ({e}): stopped QEMU with SIGTERM")
            procs.terminate(pid)
            timeout = 10.0
        deadline = time.monotonic() + timeout
        while procs.alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if procs.alive(pid):
            self.notices.append(f"the VM did not power off within {timeout:.0f} s: killed it")
            procs.kill(pid)
            deadline = time.monotonic() + 10
            while procs.alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
        self._forget()

    def kill(self) -> None:
        pid = self.pid()
        if pid is not None and procs.alive(pid):
            procs.kill(pid)
            deadline = time.monotonic() + 10
            while procs.alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
        self._forget()

    def delete(self) -> None:
        import shutil

        shutil.rmtree(self.dir)

    def info(self) -> dict:
        run = vm.read_json(self.runfile) or {}
        return {
            "Accel": run.get("accel") or qemu.choose_accel(self.profile.accel, self.platform),
            "Pid": self.pid(),
        }

    def save(self) -> None:
        """The VM's state to DIR/saved.state, then QEMU quits; `up` or `resume` continues it."""
        state = self.state()
        if state == "saved":
            return
        if state == "stopped":
            raise vm.VMError(f"VM {self.profile.vm!r} is not running")
        qemusave.save(self)
