"""The Index's users and tokens.

Users live in `index/users/<name>.json` with a salted scrypt hash of the password (never the
password). Tokens are `signature=<hmac>,repository="ns/repo",access=read|write`, Docker 0.9's
format, signed with a per-registry secret (`index/secret`, made at first start), so they need no
table and stay valid across a restart.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets

from ...sysutil import atomic

_USER = re.compile(r"[a-z0-9_]{4,30}\Z")  # Docker 0.9's rule for user names (and namespaces)
_SCRYPT = {"n": 1 << 14, "r": 8, "p": 1}
_TOKEN = re.compile(r'signature=([0-9a-f]{64}),repository="([^"]+)",access=(read|write|delete)\Z')


class AccountError(ValueError):
    pass


def hash_password(password: str, salt: bytes | None = None) -> dict:
    salt = salt or secrets.token_bytes(16)
    key = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
    return {"alg": "scrypt", **_SCRYPT, "salt": salt.hex(), "hash": key.hex()}


def check_password(password: str, record: dict) -> bool:
    params = {k: record[k] for k in ("n", "r", "p")}
    key = hashlib.scrypt(password.encode(), salt=bytes.fromhex(record["salt"]), dklen=32, **params)
    return hmac.compare_digest(key.hex(), record["hash"])


def parse_basic(header: str) -> tuple[str, str] | None:
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, sep, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return None
    return (user, password) if sep else None


class Accounts:
    def __init__(self, root: str) -> None:
        self.dir = os.path.join(root, "index", "users")
        os.makedirs(self.dir, mode=0o700, exist_ok=True)
        secret_path = os.path.join(root, "index", "secret")
        if not os.path.exists(secret_path):
            atomic.write_bytes(secret_path, secrets.token_bytes(32))
        with open(secret_path, "rb") as f:
            self.secret = f.read()

    def _path(self, name: str) -> str:
        if not _USER.match(name):
            raise AccountError("Username must be 4 to 30 characters of [a-z0-9_]")
        return os.path.join(self.dir, name + ".json")

    def create(self, name: str, password: str, email: str) -> None:
        path = self._path(name)
        if len(password) < 5:
            raise AccountError("Password must be at least 5 characters")
        if not email or "@" not in email:
            raise AccountError("Invalid email address")
        if os.path.exists(path) or any(self._record(n).get("email") == email for n in self.names()):
            raise AccountError("Username or email already exists")
        atomic.write_json(path, {"name": name, "email": email, "password": hash_password(password)})

    def names(self) -> list[str]:
        return [f[:-5] for f in os.listdir(self.dir) if f.endswith(".json") and not atomic.is_temp_name(f)]

    def _record(self, name: str) -> dict:
        return atomic.read_json(self._path(name))

    def check(self, header: str) -> str | None:
        """The user a Basic Authorization header proves, or None."""
        creds = parse_basic(header)
        if creds is None:
            return None
        try:
            record = self._record(creds[0])
        except (FileNotFoundError, AccountError):
            return None
        return creds[0] if check_password(creds[1], record["password"]) else None

    def update(self, name: str, password: str | None, email: str | None) -> None:
        record = self._record(name)
        if password is not None:
            if len(password) < 5:
                raise AccountError("Password must be at least 5 characters")
            record["password"] = hash_password(password)
        if email:
            record["email"] = email
        atomic.write_json(self._path(name), record)

    # -- tokens -----------------------------------------------------------------------------------

    def _sign(self, repository: str, access: str) -> str:
        return hmac.new(self.secret, f"{repository}\0{access}".encode(), hashlib.sha256).hexdigest()

    def token(self, repository: str, access: str) -> str:
        return f'signature={self._sign(repository, access)},repository="{repository}",access={access}'

    def check_token(self, header: str) -> tuple[str, str] | None:
        """(repository, access) of a valid `Authorization: Token ...`, or None."""
        scheme, _, value = header.strip().partition(" ")
        m = _TOKEN.match(value.strip()) if scheme.lower() == "token" else None
        if not m or not hmac.compare_digest(m.group(1), self._sign(m.group(2), m.group(3))):
            return None
        return m.group(2), m.group(3)
