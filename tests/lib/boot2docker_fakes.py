"""A fake hypervisor for the boot2docker tests: `qemu-system-x86_64` and `VBoxManage` scripts on PATH
that record their argv (one JSON list a line in $FAKE_HV_LOG) and play the part just enough: the fake
QEMU writes its -pidfile with the pid of a stand-in process (a sleep that `stop` must end) and a line
on its serial console; FAKE_QEMU_DIES=1 makes the stand-in exit at once, as a crashing VM would."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import sys

FAKE = r"""#!@PYTHON@
import json, os, subprocess, sys
with open(os.environ["FAKE_HV_LOG"], "a") as log:
    log.write(json.dumps([os.path.basename(sys.argv[0])] + sys.argv[1:]) + "\n")
args = sys.argv[1:]
if os.path.basename(sys.argv[0]) == "VBoxManage":
    state_file = os.environ["FAKE_HV_LOG"] + ".vbox-state"
    state = open(state_file).read() if os.path.exists(state_file) else "poweroff"
    if args[:1] == ["showvminfo"]:
        print('name="%s"\nVMState="%s"' % (args[1], state))
    elif args[:1] == ["startvm"]:
        open(state_file, "w").write("running")
    elif args[:1] == ["controlvm"]:
        new = {"pause": "paused", "resume": "running", "savestate": "saved", "poweroff": "poweroff",
               "acpipowerbutton": "poweroff"}.get(args[2], state)
        open(state_file, "w").write(new)
    sys.exit(0)
if args == ["--version"]:
    print("QEMU emulator version 7.2.0 (fake)")
    sys.exit(0)
if "-serial" in args:
    console = args[args.index("-serial") + 1].removeprefix("file:")
    with open(console, "a") as f:
        f.write("fake console: booting\nfake console: the kernel panicked\n")
if "-pidfile" in args:
    command = ["true"] if os.environ.get("FAKE_QEMU_DIES") else ["sleep", "600"]
    child = subprocess.Popen(command, start_new_session=True, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if os.environ.get("FAKE_QEMU_DIES"):
        child.wait()
    with open(args[args.index("-pidfile") + 1], "w") as f:
        f.write("%d\n" % child.pid)
"""


def install_fakes(bin_dir: str, log: str) -> dict[str, str]:
    """Writes the fakes into BIN_DIR; returns the environment entries that put them first on PATH."""
    os.makedirs(bin_dir, exist_ok=True)
    for name in ("qemu-system-x86_64", "VBoxManage"):
        path = os.path.join(bin_dir, name)
        with open(path, "w") as f:
            f.write(FAKE.replace("@PYTHON@", sys.executable))
        os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return {"PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""), "FAKE_HV_LOG": log}


def recorded(log: str) -> list[list[str]]:
    if not os.path.exists(log):
        return []
    with open(log) as f:
        return [json.loads(line) for line in f]


def fake_image(path: str, iso: bool = False) -> str:
    """An image directory whose files are not bootable but carry a correct SHA256SUMS."""
    os.makedirs(path, exist_ok=True)
    names = ["vmlinuz", "initrd.img"] + (["boot2docker.iso"] if iso else [])
    lines = []
    for name in names:
        data = f"fake {name}\n".encode()
        with open(os.path.join(path, name), "wb") as f:
            f.write(data)
        lines.append(f"{hashlib.sha256(data).hexdigest()}  {name}\n")
    with open(os.path.join(path, "SHA256SUMS"), "w") as f:
        f.writelines(lines)
    return path
