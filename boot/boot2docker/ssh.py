"""The user's ssh key for the VM's `docker` account, and the ssh command line that uses it.

The VM's host key changes with every `delete`/`init`, and the port is a local forward: known_hosts
would only collect stale entries for 127.0.0.1:2022, so it is not used."""

from __future__ import annotations

import os
import shutil
import subprocess


def make_key(path: str) -> bool:
    """An ed25519 key pair at PATH (PATH.pub beside it) unless one is there; False without ssh-keygen
    (the VM then takes the documented password, tcuser)."""
    if os.path.exists(path) and os.path.exists(path + ".pub"):
        return True
    keygen = shutil.which("ssh-keygen")
    if not keygen:
        return False
    os.makedirs(os.path.dirname(path), exist_ok=True)
    for stale in (path, path + ".pub"):
        if os.path.exists(stale):
            os.unlink(stale)
    done = subprocess.run(
        [keygen, "-q", "-t", "ed25519", "-N", "", "-C", "boot2docker", "-f", path],
        capture_output=True,
        text=True,
    )
    return done.returncode == 0


def ssh_command(key: str, port: int, command: list[str], binary: str = "ssh") -> list[str]:
    args = [binary, "-p", str(port), "-o", "StrictHostKeyChecking=no"]
    args += ["-o", f"UserKnownHostsFile={os.devnull}", "-o", "LogLevel=quiet", "-o", "IdentitiesOnly=yes"]
    if os.path.exists(key):
        args += ["-i", key]
    if not command:
        args.append("-t")
    return args + ["docker@127.0.0.1", *command]
