"""The client's registry credentials: `~/.dockercfg` as Docker 0.9 documents it (JSON
{server: {"auth": base64 "user:password", "email": ...}}) and later Docker's `~/.docker/config.json`
(`auths`, same entries), read both, written as `~/.dockercfg`; and the X-Registry-Auth header built
from them (base64url JSON {username, password, serveraddress}).
"""

from __future__ import annotations

import base64
import binascii
import json
import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# The key Docker uses for the default index in its config files (a name, never contacted by us).
INDEX_SERVER = "https://index.docker.io/v1/"


def dockercfg_path() -> str:
    return os.path.join(os.path.expanduser("~"), ".dockercfg")


def config_json_path() -> str:
    base = os.environ.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")
    return os.path.join(base, "config.json")


def _read(path: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as f:
            doc = json.loads(f.read() or b"{}")
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        raise OSError(f"cannot read {path}: {e}") from None
    return doc if isinstance(doc, dict) else {}


def load() -> dict[str, dict[str, Any]]:
    """Every stored entry by server key; `~/.dockercfg` wins over `~/.docker/config.json`."""
    entries: dict[str, dict[str, Any]] = {}
    auths = _read(config_json_path()).get("auths")
    if isinstance(auths, dict):
        entries.update({k: v for k, v in auths.items() if isinstance(v, dict)})
    entries.update({k: v for k, v in _read(dockercfg_path()).items() if isinstance(v, dict)})
    return entries


def server_host(server: str) -> str:
    """`host[:port]` of a server key (`https://host/v1/`, `host:port`, ...)."""
    return server.split("://", 1)[-1].split("/", 1)[0]


def key_for(server: str, entries: dict[str, Any]) -> str | None:
    if server in entries:
        return server
    host = server_host(server)
    for key in entries:
        if server_host(key) == host:
            return key
    return None


def decode_entry(entry: dict[str, Any]) -> tuple[str, str]:
    """(user, password) of an entry: its `auth` (base64 `user:password`), or the `username` and
    `password` fields that later Docker's AuthConfig also reads."""
    try:
        user, _, password = base64.b64decode(str(entry.get("auth") or "")).decode().partition(":")
    except (ValueError, binascii.Error, UnicodeDecodeError):
        user, password = "", ""
    if not user and isinstance(entry.get("username"), str):
        user, password = entry["username"], str(entry.get("password") or "")
    return user, password


def save_entry(server: str, username: str, password: str, email: str) -> None:
    path = dockercfg_path()
    doc = _read(path)
    doc[server] = {"auth": base64.b64encode(f"{username}:{password}".encode()).decode(), "email": email}
    _write(path, doc)


def remove_entry(server: str) -> bool:
    """Forget `server` in `~/.dockercfg` and in `~/.docker/config.json`'s `auths` (other keys of that
    file, such as `credsStore` or `HttpHeaders`, stay). True if either held it."""
    removed = False
    path = dockercfg_path()
    doc = _read(path)
    key = key_for(server, doc)
    if key is not None:
        del doc[key]
        _write(path, doc)
        removed = True
    path = config_json_path()
    doc = _read(path)
    auths = doc.get("auths")
    key = key_for(server, auths) if isinstance(auths, dict) else None
    if isinstance(auths, dict) and key is not None:
        del auths[key]
        _write(path, doc)
        removed = True
    return removed


def _write(path: str, doc: dict[str, Any]) -> None:
    tmp = f"{path}.tmp-{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(doc, f, indent=1)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def registry_of(image: str) -> str:
    """The config key for an image's registry: its `host[:port]`, or the default index."""
    first, sep, _ = image.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return first
    return INDEX_SERVER


def encode(doc: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(doc).encode()).decode()


def _auth_doc(key: str, entry: dict[str, Any]) -> dict[str, Any]:
    user, password = decode_entry(entry)
    if user:
        doc = {"username": user, "password": password, "serveraddress": key}
        if entry.get("email"):
            doc["email"] = entry["email"]
        return doc
    if entry.get("identitytoken"):
        return {"identitytoken": entry["identitytoken"], "serveraddress": key}
    return {}


def build_header() -> dict[str, str]:
    """X-Registry-Config for `docker build`: every stored credential by server, for the pulls FROM
    may need (the daemon picks the entry of the image's registry); nothing when there are none."""
    try:
        entries = load()
    except OSError:
        return {}
    docs = {key: doc for key, entry in entries.items() if (doc := _auth_doc(key, entry))}
    return {"X-Registry-Config": encode(docs)} if docs else {}


def header_for(image: str) -> dict[str, str]:
    """The X-Registry-Auth header for pulling or pushing `image` (an empty `{}` when not logged in)."""
    server = registry_of(image)
    try:
        entries = load()
    except OSError:
        entries = {}
    key = key_for(server, entries)
    doc = _auth_doc(key, entries[key]) if key is not None else {}
    return {"X-Registry-Auth": encode(doc)}
