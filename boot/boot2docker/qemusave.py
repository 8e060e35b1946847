"""`save` and the resume of a saved VM under QEMU: the machine's state written to a file, QEMU quit,
and later a new QEMU that loads the file and continues where the VM was.

QEMU refuses to save a machine while one of its 9p shares is mounted (the 9p device cannot carry
its open files across), so `save` first asks the VM's init, over the serial line boot2docker.ctl
(boot/image/b2dctl), to unmount the shares, and the resume asks it to mount the home again. The
state goes through QMP: `stop`, then `migrate` to a file descriptor passed along (getfd), then
`quit`; the resume starts the same command line with `-incoming defer` and `migrate-incoming` from
the file. QEMU flushes the data disk before `migrate` completes, and nothing boots from the disk
while the state is saved (`up` resumes it; `stop` discards it), so the disk and the saved memory
stay consistent. saved.json records what made the state: the image (its SHA256SUMS) and QEMU's
version; a resume with another of either is refused, as QEMU could not load it faithfully.
"""

from __future__ import annotations

import hashlib
import os
import select
import sys
import time

from boot2docker import qemu, vm

STATE = "saved.state"
META = "saved.json"
CTL_TIMEOUT = 120.0  # seconds for the VM to answer on its control line (slow under tcg)
MIGRATE_TIMEOUT = 600.0


def image_digest(image_dir: str) -> str:
    """What identifies an image: the SHA256 of its SHA256SUMS (which names every member's hash)."""
    with open(os.path.join(image_dir, "SHA256SUMS"), "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def saved(vm_dir: str) -> dict | None:
    """The saved state's record, when a saved state is there."""
    if not os.path.exists(os.path.join(vm_dir, STATE)):
        return None
    return vm.read_json(os.path.join(vm_dir, META))


def discard(vm_dir: str) -> None:
    for name in (STATE, META, STATE + ".tmp"):
        path = os.path.join(vm_dir, name)
        if os.path.exists(path):
            os.unlink(path)


def make_ctl(vm_dir: str) -> None:
    """The FIFOs of QEMU's pipe chardev `ctl` (qemu.command): QEMU writes what the VM says into
    ctl.out and passes what is written into ctl.in to the VM."""
    for name in ("ctl.in", "ctl.out"):
        path = os.path.join(vm_dir, name)
        if not os.path.exists(path):
            os.mkfifo(path, 0o600)


def ask(vm_dir: str, request: str, timeout: float = CTL_TIMEOUT) -> str:
    """Sends REQUEST to the VM's init and returns its answer line ("ok" or "error: ...")."""
    rfd = os.open(os.path.join(vm_dir, "ctl.out"), os.O_RDONLY | os.O_NONBLOCK)
    try:
        try:  # what an abandoned earlier request left behind
            while os.read(rfd, 4096):
                pass
        except BlockingIOError:
            pass
        try:
            wfd = os.open(os.path.join(vm_dir, "ctl.in"), os.O_WRONLY | os.O_NONBLOCK)
        except OSError as e:
            raise vm.VMError(f"the VM's control line is not open ({e}): is QEMU running?") from None
        try:
            os.write(wfd, request.encode() + b"\n")
        finally:
            os.close(wfd)
        answer = b""
        deadline = time.monotonic() + timeout
        while b"\n" not in answer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([rfd], [], [], left)[0]:
                raise vm.VMError(
                    f"the VM did not answer {request!r} within {timeout:.0f} s "
                    "(an image older than this boot2docker has no control line: `boot2docker stop`)"
                )
            try:
                answer += os.read(rfd, 4096)
            except BlockingIOError:
                continue
        return answer.split(b"\n", 1)[0].decode("utf-8", "replace").strip()
    finally:
        os.close(rfd)


def _wait_migration(q: qemu.Qmp, what: str) -> None:
    deadline = time.monotonic() + MIGRATE_TIMEOUT
    while True:
        info = q.execute("query-migrate") or {}
        status = info.get("status") if isinstance(info, dict) else None
        if status == "completed":
            return
        if status in ("failed", "cancelled"):
            raise vm.VMError(f"{what} failed: {info.get('error-desc', status)}")
        if time.monotonic() > deadline:
            raise vm.VMError(f"{what} did not finish within {MIGRATE_TIMEOUT:.0f} s")
        time.sleep(0.1)


def save(machine) -> None:
    """Writes the running VM's state to DIR/saved.state and quits QEMU."""
    vm_dir, profile = machine.dir, machine.profile
    run = vm.read_json(machine.runfile) or {}
    if not run.get("argv"):
        raise vm.VMError("this VM was started by an older boot2docker: `boot2docker restart` first")
    with machine._qmp() as q:
        if (q.execute("query-status") or {}).get("status") == "paused":
            q.execute("cont")
    posix = machine.platform != "win32"
    if posix:
        answer = ask(vm_dir, "unmount")
        if answer != "ok":
            raise vm.VMError(
                f"the VM could not unmount its shares, which QEMU needs before it saves ({answer}); "
                "a container with a volume from the shared home keeps it busy: stop it and try again"
            )
    tmp = os.path.join(vm_dir, STATE + ".tmp")
    try:
        with machine._qmp() as q, open(tmp, "wb") as out:
            q.execute("stop")
            try:
                if posix:
                    q.execute_with_fd("getfd", out.fileno(), fdname="b2dsave")
                    q.execute("migrate", uri="fd:b2dsave")
                else:  # no descriptor passing over QMP's TCP port (QEMU 8.2 or later)
                    q.execute("migrate", uri="file:" + tmp)
                _wait_migration(q, "saving the VM's state")
            except (vm.VMError, qemu.QemuError):
                q.execute("cont")
                raise
            out.flush()
            os.fsync(out.fileno())
    except (vm.VMError, qemu.QemuError) as e:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if posix:
            ask(vm_dir, "mount")
        raise vm.VMError(str(e)) from None
    vm.write_json(
        os.path.join(vm_dir, META),
        {
            "image": image_digest(profile.image_dir()),
            "qemu": qemu.version(profile.qemu),
            "argv": run["argv"],
            # The forwards are in argv: a profile that moved the ports since would wait on others.
            "ports": {"SSHPort": profile.sshport, "DockerPort": profile.dockerport},
            "accel": run.get("accel"),
            "qmp": run.get("qmp"),
            "saved": time.time(),
        },
    )
    os.replace(tmp, os.path.join(vm_dir, STATE))
    pid = machine.pid()
    try:
        with machine._qmp() as q:
            q.execute("quit")
    except qemu.QemuError:
        pass  # QEMU closes QMP as it quits
    deadline = time.monotonic() + 30
    while pid is not None and machine._alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    machine._forget()


def check(machine, meta: dict) -> None:
    """VMError unless the saved state was made by this image and this QEMU."""
    profile = machine.profile
    discard_hint = (
        "`boot2docker stop` discards the saved state (the VM then boots afresh; what its daemon had not "
        "written to the data disk when it was saved is lost)"
    )
    try:
        digest = image_digest(profile.image_dir())
    except OSError as e:
        raise vm.VMError(f"cannot read the image {profile.image_dir()}: {e}") from None
    if digest != meta.get("image"):
        raise vm.VMError(
            f"the VM was saved with another image than {profile.image_dir()} holds now, and cannot "
            f"continue with this one: {discard_hint}"
        )
    ports = meta.get("ports") or {}
    for key, now in (("SSHPort", profile.sshport), ("DockerPort", profile.dockerport)):
        if key in ports and ports[key] != now:
            raise vm.VMError(
                f"the VM was saved with {key} {ports[key]} (its forward is part of the saved machine), "
                f"not {now}: set {key} back, or {discard_hint}"
            )
    current = qemu.version(profile.qemu)
    if current != meta.get("qemu"):
        raise vm.VMError(
            f"the VM was saved by {meta.get('qemu')!r}; {profile.qemu} is {current!r}, which cannot "
            f"load that state faithfully: {discard_hint}"
        )


def restore(machine, meta: dict) -> None:
    """Starts QEMU on the saved state and lets the VM continue; the saved state is then gone."""
    vm_dir = machine.dir
    check(machine, meta)
    vm.check_ports(machine.profile)
    posix = machine.platform != "win32"
    if posix:
        make_ctl(vm_dir)
    argv = list(meta["argv"]) + ["-incoming", "defer"]
    qmp_address = meta.get("qmp") or qemu.qmp_address(vm_dir, machine.platform)
    run = {"accel": meta.get("accel"), "qmp": qmp_address, "argv": meta["argv"], "started": time.time()}
    vm.write_json(machine.runfile, run)
    try:
        qemu.start(argv, vm_dir, machine.platform)
        state = os.path.join(vm_dir, STATE)
        with machine._qmp() as q, open(state, "rb") as src:
            if posix:
                q.execute_with_fd("getfd", src.fileno(), fdname="b2dload")
                q.execute("migrate-incoming", uri="fd:b2dload")
            else:
                q.execute("migrate-incoming", uri="file:" + state)
            deadline = time.monotonic() + MIGRATE_TIMEOUT
            while (status := (q.execute("query-status") or {}).get("status")) == "inmigrate":
                if time.monotonic() > deadline:
                    raise vm.VMError(f"QEMU did not load the saved state within {MIGRATE_TIMEOUT:.0f} s")
                time.sleep(0.1)
            # The VM was stopped for the save, and QEMU carries that run state over: continue it.
            if status != "running":
                q.execute("cont")
    except (qemu.QemuError, OSError) as e:
        machine.kill()
        raise vm.VMError(f"QEMU could not continue the saved VM: {e}") from None
    except vm.VMError:
        machine.kill()
        raise
    discard(vm_dir)
    if posix:
        answer = ask(vm_dir, "mount")
        if answer != "ok":
            machine.notices.append(f"the VM could not mount the shared home again ({answer})")
    print(f"boot2docker: VM {machine.profile.vm!r} continues from its saved state", file=sys.stderr)
