"""What every hypervisor shares: the VM's directory (data disk, console log, the settings share),
`init`, readiness (the daemon's /_ping through the forwarded port) and the messages when a boot fails.

Layout of DIR/vms/NAME: vm.json (what init chose), data.img (the data disk: /var/lib/docker),
console.log (the VM's serial console), share/ (passed read-only into the VM: `home`, the path of the
shared home; authorized_keys; certs/ with the daemon's certificate), run.json and qemu.pid while up."""

from __future__ import annotations

import json
import os
import shutil
import socket
import ssl
import sys
import time

from boot2docker import certs, image, ssh
from boot2docker.profile import Profile


class VMError(Exception):
    """A failure the user can act on; the CLI prints it and exits 1."""


def write_json(path: str, value: object) -> None:
    # Atomic: a crash never leaves half a state file behind.
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(value, f, indent=1, sort_keys=True)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_json(path: str) -> dict | None:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        raise VMError(f"{path} is unreadable ({e}); `boot2docker delete --force` starts over") from None


def create_disk(path: str, mib: int) -> None:
    """A sparse raw file; the VM formats it at its first boot (it is blank until then)."""
    with open(path, "xb") as f:
        f.truncate(mib * 1024 * 1024)


def prepare_share(profile: Profile, vm_dir: str) -> None:
    """Fills share/ before each boot: the home path, the ssh key and the daemon's certificates."""
    share = os.path.join(vm_dir, "share")
    os.makedirs(share, exist_ok=True)
    with open(os.path.join(share, "home"), "w", encoding="utf-8") as f:
        f.write(profile.sharedir + "\n")
    pub = profile.ssh_key() + ".pub"
    keys = os.path.join(share, "authorized_keys")
    if os.path.exists(pub):
        shutil.copyfile(pub, keys)
    elif os.path.exists(keys):
        os.unlink(keys)
    debug = os.path.join(share, "debug")
    if profile.debug:
        open(debug, "w").close()
    elif os.path.exists(debug):
        os.unlink(debug)
    dest = os.path.join(share, "certs")
    if os.path.exists(dest):
        shutil.rmtree(dest)
    if profile.tls:
        # TLS may have been turned on after an `init --no-tls`: the certificates are made then.
        try:
            certs.make_certs(profile.certs_dir())
        except certs.CertError as e:
            raise VMError(str(e)) from None
        shutil.copytree(os.path.join(profile.certs_dir(), "server"), dest)


def init_common(profile: Profile) -> str:
    """Checks the image and makes the VM's directory, data disk, ssh key and certificates."""
    vm_dir = profile.vm_dir()
    if os.path.exists(os.path.join(vm_dir, "vm.json")):
        raise VMError(f"VM {profile.vm!r} already exists ({vm_dir}); `boot2docker delete` first")
    try:
        image.verify(profile.image_dir())
    except image.ImageError as e:
        raise VMError(str(e)) from None
    if profile.tls:
        try:
            certs.make_certs(profile.certs_dir())
        except certs.CertError as e:
            raise VMError(str(e)) from None
    ssh.make_key(profile.ssh_key())
    os.makedirs(vm_dir, exist_ok=True)
    disk = os.path.join(vm_dir, "data.img")
    if os.path.exists(disk):
        os.unlink(disk)
    create_disk(disk, profile.disksize)
    prepare_share(profile, vm_dir)
    return vm_dir


def port_free(port: int) -> bool:
    """Whether QEMU could listen on 127.0.0.1:PORT. With SO_REUSEADDR, as QEMU binds its forwards:
    connections of the last boot in TIME_WAIT do not count, a program listening there does."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        if sys.platform == "win32":
            probe.setsockopt(socket.SOL_SOCKET, getattr(socket, "SO_EXCLUSIVEADDRUSE", 0), 1)
        else:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def check_ports(profile: Profile) -> None:
    for key, port in (("DockerPort", profile.dockerport), ("SSHPort", profile.sshport)):
        if not port_free(port):
            raise VMError(
                f"port {port} on 127.0.0.1 is already in use by another program: stop it, or pick another "
                f"port ({key} in the profile, --{key.lower()} on the command line)"
            )


def tls_context(profile: Profile) -> ssl.SSLContext:
    d = profile.certs_dir()
    context = ssl.create_default_context(cafile=os.path.join(d, "ca.pem"))
    context.load_cert_chain(os.path.join(d, "cert.pem"), os.path.join(d, "key.pem"))
    return context


def ping(profile: Profile, timeout: float = 3.0) -> bool:
    """True when the daemon answers GET /_ping with 200 OK through the forwarded port."""
    try:
        sock = socket.create_connection(("127.0.0.1", profile.dockerport), timeout=timeout)
    except OSError:
        return False
    try:
        sock.settimeout(timeout)
        if profile.tls:
            sock = tls_context(profile).wrap_socket(sock, server_hostname="127.0.0.1")
        host = f"127.0.0.1:{profile.dockerport}"
        sock.sendall(f"GET /_ping HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
        answer = b""
        while len(answer) < 4096:
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
        return answer.startswith((b"HTTP/1.0 200", b"HTTP/1.1 200")) and answer.endswith(b"OK")
    except (OSError, ssl.SSLError):
        return False
    finally:
        sock.close()


def console_tail(vm_dir: str, lines: int = 20) -> str:
    try:
        with open(os.path.join(vm_dir, "console.log"), "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 16384))
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return "(no console log)"
    return "\n".join(text.splitlines()[-lines:]) or "(the console log is empty)"


def wait_ready(profile: Profile, vm_dir: str, alive, timeout: float, progress=None) -> float:
    """Polls /_ping until it answers; VMError with the console's last lines if the VM dies or the
    deadline passes. ALIVE() says whether the hypervisor's process is still there."""
    start = time.monotonic()
    deadline = start + timeout
    while True:
        if ping(profile):
            return time.monotonic() - start
        if not alive():
            raise VMError(
                "the VM exited while booting. Last lines of its console "
                f"({os.path.join(vm_dir, 'console.log')}):\n{console_tail(vm_dir)}"
            )
        now = time.monotonic()
        if now >= deadline:
            raise VMError(
                f"the daemon in the VM did not answer on 127.0.0.1:{profile.dockerport} "
                f"within {timeout:.0f} s "
                f"(the VM is still running; `boot2docker stop` stops it). Last lines of its console:\n"
                f"{console_tail(vm_dir)}"
            )
        if progress:
            progress(now - start)
        time.sleep(min(0.25, deadline - now))
