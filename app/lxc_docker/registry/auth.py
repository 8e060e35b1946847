"""Registry authentication: the client's credentials, Basic auth, and Bearer tokens after a challenge.

A v2 registry answers 401 with `WWW-Authenticate: Basic realm=...` (e.g. distribution's htpasswd) or
`Bearer realm=...,service=...,scope=...` (a token server). For Bearer we fetch a token from the realm
with our credentials as Basic auth (or an identity token as an OAuth refresh token) and cache it per
scope, as Docker's client does.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import Any

_PARAM = re.compile(r'\s*([A-Za-z][A-Za-z0-9_-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*,?')


@dataclass
class Credentials:
    username: str = ""
    password: str = ""
    identitytoken: str = ""
    serveraddress: str = ""

    @property
    def anonymous(self) -> bool:
        return not (self.username or self.identitytoken)

    def basic_header(self) -> str:
        raw = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(raw).decode()


def credentials(auth_config: dict[str, Any] | None) -> Credentials:
    """Credentials from an X-Registry-Auth document ({username, password, serveraddress} or
    {identitytoken}); the legacy `auth` field (base64 user:password) is read too."""
    doc = auth_config or {}
    user, password = str(doc.get("username") or ""), str(doc.get("password") or "")
    if not user and doc.get("auth"):
        try:
            user, _, password = base64.b64decode(str(doc["auth"])).decode().partition(":")
        except (ValueError, binascii.Error):
            pass
    return Credentials(
        username=user,
        password=password,
        identitytoken=str(doc.get("identitytoken") or ""),
        serveraddress=str(doc.get("serveraddress") or ""),
    )


def decode_header(header: str) -> dict[str, Any]:
    """The X-Registry-Auth header: base64url JSON (padded or not). Unreadable means anonymous, as in
    Docker; CLI 28 sends `e30=` ({}) when it has nothing."""
    if not header:
        return {}
    try:
        padded = header.strip() + "=" * (-len(header.strip()) % 4)
        doc = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, binascii.Error):
        return {}
    return doc if isinstance(doc, dict) else {}


@dataclass
class Challenge:
    scheme: str  # "basic" or "bearer"
    params: dict[str, str]


def parse_challenges(header: str) -> list[Challenge]:
    """`WWW-Authenticate` values: `Scheme k=v, k="v"`; several challenges may share one header."""
    result: list[Challenge] = []
    rest = header.strip()
    while rest:
        m = re.match(r"([A-Za-z]+)\s*", rest)
        if not m:
            break
        scheme = m.group(1).lower()
        rest = rest[m.end() :]
        params: dict[str, str] = {}
        while True:
            pm = _PARAM.match(rest)
            if not pm:
                break
            value = pm.group(2) if pm.group(2) is not None else pm.group(3)
            params[pm.group(1).lower()] = re.sub(r"\\(.)", r"\1", value or "")
            rest = rest[pm.end() :]
        result.append(Challenge(scheme, params))
        rest = rest.lstrip(", ")
    return result
