"""The profile: `key = value` lines in ~/.boot2docker/profile (or $BOOT2DOCKER_PROFILE), with the
defaults below; command-line flags override it. Keys are boot2docker's (VM, Memory, DiskSize, SSHPort,
DockerPort...), matched without regard to case; values may be quoted; `#` starts a comment."""

from __future__ import annotations

import dataclasses
import os
import sys
from dataclasses import dataclass, field


class ProfileError(Exception):
    """A profile line or flag value that cannot be used; the message names it."""


def default_dir() -> str:
    return os.environ.get("BOOT2DOCKER_DIR") or os.path.join(os.path.expanduser("~"), ".boot2docker")


def profile_path() -> str:
    return os.environ.get("BOOT2DOCKER_PROFILE") or os.path.join(default_dir(), "profile")


ACCELS = ("auto", "kvm", "hvf", "whpx", "tcg")
HYPERVISORS = ("qemu", "virtualbox")


@dataclass
class Profile:
    """Effective settings of one VM. Sizes in MiB."""

    vm: str = "boot2docker-vm"
    dir: str = field(default_factory=default_dir)
    memory: int = 1024
    cpus: int = 1
    disksize: int = 20000
    sshport: int = 2022
    dockerport: int = 4243
    hypervisor: str = "qemu"
    accel: str = "auto"
    image: str = ""  # a directory with vmlinuz, initrd.img, SHA256SUMS; default DIR/image
    imageurl: str = ""
    imagesha256: str = ""
    tls: bool = True
    qemu: str = "qemu-system-x86_64"
    vboxmanage: str = "VBoxManage"
    sharedir: str = field(default_factory=lambda: os.path.expanduser("~"))
    boottimeout: int = 180
    debug: bool = False  # the daemon in the VM logs at debug level (/var/log/docker.log)

    def image_dir(self) -> str:
        return self.image or os.path.join(self.dir, "image")

    def vm_dir(self) -> str:
        return os.path.join(self.dir, "vms", self.vm)

    def certs_dir(self) -> str:
        return os.path.join(self.dir, "certs")

    def ssh_key(self) -> str:
        return os.path.join(self.dir, "id_boot2docker")

    def items(self) -> list[tuple[str, object]]:
        return [(f.name, getattr(self, f.name)) for f in dataclasses.fields(self)]


KEYS = {f.name: f for f in dataclasses.fields(Profile)}
# boot2docker's spellings of the same keys.
ALIASES = {"vmname": "vm", "mem": "memory", "imagepath": "image", "iso": "image"}


def convert(key: str, value: str) -> object:
    """A profile or flag string as the key's type; ProfileError when it is not one."""
    name = ALIASES.get(key.lower(), key.lower())
    if name not in KEYS:
        raise ProfileError(f"unknown key {key!r} (known: {', '.join(sorted(KEYS))})")
    kind = KEYS[name].type
    if kind in (int, "int"):
        try:
            number = int(value)
        except ValueError:
            raise ProfileError(f"{key} must be a whole number, not {value!r}") from None
        if number <= 0 or (name.endswith("port") and number > 65535):
            raise ProfileError(f"{key} is out of range: {number}")
        return number
    if kind in (bool, "bool"):
        if value.lower() in ("1", "true", "yes", "on"):
            return True
        if value.lower() in ("0", "false", "no", "off"):
            return False
        raise ProfileError(f"{key} must be true or false, not {value!r}")
    if name == "accel" and value not in ACCELS:
        raise ProfileError(f"Accel must be one of {', '.join(ACCELS)}, not {value!r}")
    if name == "hypervisor" and value not in HYPERVISORS:
        raise ProfileError(f"Hypervisor must be one of {', '.join(HYPERVISORS)}, not {value!r}")
    if name == "vm" and (not value or "/" in value or "\\" in value or value in (".", "..")):
        raise ProfileError(f"VM must be a plain name, not {value!r}")
    return value


def parse(text: str, source: str = "profile") -> dict[str, object]:
    """The key = value lines of a profile file, converted; ProfileError names the bad line."""
    values: dict[str, object] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#") or (line.startswith("[") and line.endswith("]")):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise ProfileError(f"{source}:{number}: expected `key = value`, got {raw!r}")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        try:
            name = ALIASES.get(key.strip().lower(), key.strip().lower())
            values[name] = convert(key.strip(), value)
        except ProfileError as e:
            raise ProfileError(f"{source}:{number}: {e}") from None
    return values


def load(overrides: dict[str, object] | None = None, path: str | None = None) -> Profile:
    """Defaults, then the profile file (if it exists), then the flags given (None = not given)."""
    path = path or profile_path()
    values: dict[str, object] = {}
    try:
        with open(path, encoding="utf-8") as f:
            values = parse(f.read(), path)
    except FileNotFoundError:
        if os.environ.get("BOOT2DOCKER_PROFILE"):
            raise ProfileError(f"BOOT2DOCKER_PROFILE names {path}, which does not exist") from None
    for key, value in (overrides or {}).items():
        if value is not None:
            values[key] = value
    profile = Profile(**values)
    for name in ("dir", "image", "sharedir"):
        if getattr(profile, name):
            setattr(profile, name, os.path.abspath(os.path.expanduser(getattr(profile, name))))
    return profile


def host_os() -> str:
    """darwin, win32 or linux: the accelerator, binary names and shells depend on it."""
    return sys.platform
