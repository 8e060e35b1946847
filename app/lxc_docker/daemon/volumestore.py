"""Named volumes of the `local` driver on disk: names, metadata, driver options and their mounts.

They live beside the anonymous volumes, in the same layout (`volumes/<name>/config.json` and
`volumes/<name>/_data/`), so that a container's `Volumes` map names either kind the same way and the
reference rules of `volumes.py` hold for both. The metadata of a named volume is

    {"Name", "Driver": "local", "Labels", "Options", "Created", "Named": true}

written atomically into a `.tmp-<name>` directory that is renamed into place: a volume exists
completely or not at all (the daemon's start-up sweep removes a `.tmp-*` a crash left). A name can
never start with `.`, so it never collides with those. An anonymous volume's metadata has no
`Named` and names the container it was made for; `docker rm -v` deletes only those.

Driver options are Docker's local driver's (`type`, `device`, `o`, as for mount(8)): a volume with
options is mounted on its `_data` while a running container uses it, and unmounted when the last
one stops. This daemon mounts `type=tmpfs` and `o=bind` of a host directory; anything else is
refused when the volume is created, not when a container first needs it.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
from typing import Any

from .. import timeutil
from ..errors import InvalidParameter, NotFound, SystemError_
from ..storage.base import remove_tree
from ..sysutil import atomic, syscalls

DRIVER = "local"
DATA = "_data"
META = "config.json"
NAMED = "Named"
# Docker's utils.RestrictedNameChars, and the pattern its local driver checks names with.
NAME_CHARS = "[a-zA-Z0-9][a-zA-Z0-9_.-]"
_VALID = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]+")
OPTION_KEYS = ("type", "device", "o")
# mount(8) words of `o` that are flags, not filesystem data.
_FLAGS = {
    "ro": syscalls.MS_RDONLY,
    "nosuid": syscalls.MS_NOSUID,
    "nodev": syscalls.MS_NODEV,
    "noexec": syscalls.MS_NOEXEC,
    "bind": syscalls.MS_BIND,
    "rbind": syscalls.MS_BIND | syscalls.MS_REC,
}
_IGNORED = {"rw", "defaults", "suid", "dev", "exec"}


def go_quote(text: str) -> str:
    """Go's %q for the printable strings names are: what Docker's messages show."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def validate_name(name: str) -> None:
    if not isinstance(name, str) or not _VALID.fullmatch(name):
        shown = name if isinstance(name, str) else repr(name)
        raise InvalidParameter(
            f"create {shown}: {go_quote(shown)} includes invalid characters for a local volume name, "
            f"only {go_quote(NAME_CHARS)} are allowed"
        )


def is_valid_name(name: str) -> bool:
    return isinstance(name, str) and bool(_VALID.fullmatch(name))


def check_driver(driver: Any) -> None:
    if driver in (None, "", DRIVER):
        return
    # What Docker 1.12 answers for a driver no plugin provides (a 404 through its plugin lookup).
    raise NotFound(f"create: plugin not found: volume driver {driver} is not installed")


def check_options(options: Any) -> dict[str, str]:
    """DriverOpts of the local driver, validated: unknown keys and mounts we do not do are a 400."""
    if not options:
        return {}
    if not isinstance(options, dict) or not all(isinstance(v, str) for v in options.values()):
        raise InvalidParameter("DriverOpts must be an object of strings")
    for key in options:
        if key not in OPTION_KEYS:
            raise InvalidParameter(f"invalid option key: {go_quote(str(key))}")
    kind, device, words = options.get("type", ""), options.get("device", ""), _words(options.get("o", ""))
    if "bind" in words or "rbind" in words:
        if not device.startswith("/") or not os.path.isdir(device):
            raise InvalidParameter(
                f"local volume driver: o=bind needs device=/an/existing/host/directory, not {device!r}"
            )
    elif kind == "tmpfs":
        pass
    else:
        raise InvalidParameter(
            f"local volume driver: type={kind!r} is not supported by this daemon "
            "(use type=tmpfs, or o=bind with device=/host/directory)"
        )
    for word in words:
        if word in ("ro",) or word in _IGNORED:
            continue
        if word in _FLAGS and kind == "tmpfs":
            continue
        if "=" not in word and word not in _FLAGS:
            raise InvalidParameter(f"local volume driver: unknown mount option {word!r} in o")
    return {k: options[k] for k in OPTION_KEYS if k in options}


def _words(o: str) -> list[str]:
    return [w for w in o.split(",") if w]


class VolumeStore:
    """The named volumes under `<root>/volumes`. Thread safety: the caller's lock (the volume
    service's) is held around every change; reads are of files written atomically."""

    def __init__(self, directory: str) -> None:
        self.dir = directory
        self._lock = threading.Lock()  # mounts and unmounts of volumes with options

    def data(self, name: str) -> str:
        return os.path.join(self.dir, name, DATA)

    def meta(self, name: str) -> dict[str, Any] | None:
        """The metadata of volume `name` (named or anonymous), None when there is no such volume."""
        if not name or name.startswith(".") or "/" in name:
            return None
        try:
            doc = atomic.read_json(os.path.join(self.dir, name, META))
        except (OSError, ValueError):
            return None
        return doc if isinstance(doc, dict) and os.path.isdir(self.data(name)) else None

    def is_named(self, name: str) -> bool:
        return bool((self.meta(name) or {}).get(NAMED))

    def names(self) -> list[str]:
        names = (n for n in os.listdir(self.dir) if not atomic.is_temp_name(n))
        return sorted(n for n in names if self.meta(n) is not None)

    def create(self, name: str, options: dict[str, str], labels: dict[str, str]) -> dict[str, Any]:
        """Make the volume (name, options and labels checked by the caller); atomic."""
        tmp = os.path.join(self.dir, f".tmp-{name}")
        try:
            os.makedirs(os.path.join(tmp, DATA), 0o755)
            os.chmod(tmp, 0o700)
            meta = {
                "Name": name,
                "Driver": DRIVER,
                "Labels": dict(labels),
                "Options": dict(options),
                "Created": timeutil.now_rfc3339(),
                NAMED: True,
            }
            atomic.write_json(os.path.join(tmp, META), meta)
            os.rename(tmp, os.path.join(self.dir, name))
            atomic.fsync_dir(self.dir)
        except FileExistsError:
            shutil.rmtree(tmp, ignore_errors=True)
            raise InvalidParameter(f"create {name}: a volume is being created with that name") from None
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return meta

    def retire(self, name: str) -> str:
        """Rename the volume out of sight (a crash mid-delete leaves only a `.tmp-del-*` for the
        sweep); returns the path to delete, "" when it was gone already."""
        self.unmount_all(name)
        trash = os.path.join(self.dir, f".tmp-del-{name}")
        try:
            os.rename(os.path.join(self.dir, name), trash)
        except FileNotFoundError:
            return ""
        atomic.fsync_dir(self.dir)
        return trash

    @staticmethod
    def delete(path: str) -> None:
        if path:
            remove_tree(path)

    # -- volumes with driver options: mounted while running containers use them -------------------
    # Stateless on purpose: whether the volume is mounted is read from the kernel, and who uses it
    # from the running containers, so a daemon restarted while containers ran (live restore) still
    # unmounts the volume when the last of them stops.

    def mount_for(self, name: str) -> None:
        options = (self.meta(name) or {}).get("Options") or {}
        if options:
            with self._lock:
                if not _is_mounted(self.data(name)):
                    self._mount(name, options)

    def unmount_unless(self, name: str, still_used: bool) -> None:
        with self._lock:
            if not still_used and _is_mounted(self.data(name)):
                _unmount(self.data(name))

    def unmount_all(self, name: str) -> None:
        with self._lock:
            if _is_mounted(self.data(name)):
                _unmount(self.data(name))

    def _mount(self, name: str, options: dict[str, str]) -> None:
        target = self.data(name)
        kind, device, words = options.get("type", ""), options.get("device", ""), _words(options.get("o", ""))
        flags = 0
        data = []
        for word in words:
            if word in _FLAGS:
                flags |= _FLAGS[word]
            elif word not in _IGNORED:
                data.append(word)
        try:
            if flags & syscalls.MS_BIND:
                syscalls.mount(device, target, None, flags & (syscalls.MS_BIND | syscalls.MS_REC))
                if flags & ~(syscalls.MS_BIND | syscalls.MS_REC):
                    # A bind takes its flags only on a remount.
                    syscalls.mount(None, target, None, flags | syscalls.MS_REMOUNT)
            else:
                syscalls.mount(device or kind, target, kind, flags, ",".join(data) or None)
        except OSError as e:
            raise SystemError_(f"error while mounting volume {name!r}: {e.strerror or e}") from None


def _is_mounted(path: str) -> bool:
    # Not os.path.ismount: a bind of a directory of the same filesystem looks like no mount to it.
    escaped = path.replace("\\", "\\134").replace(" ", "\\040").replace("\t", "\\011").replace("\n", "\\012")
    with open("/proc/self/mountinfo") as f:
        return any(line.split(" ", 5)[4] == escaped for line in f)


def _unmount(path: str) -> None:
    try:
        syscalls.umount(path, syscalls.MNT_DETACH)
    except OSError:
        pass  # not mounted any more
