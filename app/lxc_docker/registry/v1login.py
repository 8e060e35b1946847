"""`docker login` against a v1 index (Docker 0.9's Index API, "Create a user" and "Login").

`POST /v1/users/` with {username, password, email}: 201 means the account was created (the index
may want it activated first); 400 "Username or email already exists" means it exists, so the
credentials are checked with `GET /v1/users/` and Basic auth: 200 logged in, 401 wrong password,
403 an account not active yet. The wording is Docker 0.9's (registry/auth.go), so scripts that grep
for it keep working. Without an email there is no account to create: the credentials are only
checked.
"""

from __future__ import annotations

import json

from .auth import Credentials
from .session import RegistryError, Session, Unauthorized


class Forbidden(RegistryError):
    status = 403


def _text(resp) -> str:
    """The index answers JSON strings ("User Created"); anything else is shown as it came."""
    try:
        doc = resp.json()
    except ValueError:
        return resp.text.strip()
    return doc if isinstance(doc, str) else json.dumps(doc)


def login(session: Session, creds: Credentials, email: str) -> str:
    """The status line to print; Unauthorized, Forbidden or RegistryError when refused."""
    server = session.base + "/v1/"
    if email:
        body = {"username": creds.username, "password": creds.password, "email": email}
        resp = session.raw("POST", "/v1/users/", json=body)
        with resp:
            text = _text(resp)
        if resp.status_code == 201:
            return (
                f"Account created. Please see the documentation of the registry {server} for "
                "instructions how to activate it."
            )
        if resp.status_code != 400:
            raise RegistryError(f"Unexpected status code [{resp.status_code}] : {text}")
        if "already exists" not in text:
            raise RegistryError(f"Registration: {text}")
    resp = session.raw("GET", "/v1/users/", headers={"Authorization": creds.basic_header()})
    with resp:
        text = _text(resp)
    if resp.status_code == 200:
        return "Login Succeeded"
    if resp.status_code == 401:
        raise Unauthorized("Wrong login/password, please try again")
    if resp.status_code == 403:
        raise Forbidden(
            "Login: Account is not Active. Please see the documentation of the registry "
            f"{server} for instructions how to activate it."
        )
    raise RegistryError(f"Login: {text} (Code: {resp.status_code})")
