"""Who may do what on the v2 API when the registry runs with --index: Docker's token flow.

`/v2/` answers 401 with `WWW-Authenticate: Bearer realm="<this registry>/v2/token",service=...`.
The client gets a token from the realm: with Basic credentials of an index user a token for that
user (wrong credentials are a 401, which is how `docker login` fails), without any an anonymous
token. Requests then carry `Authorization: Bearer <token>` (or Basic credentials directly). Reads
are public; a write needs a user who owns the repository's namespace (its first component, or any
user for a one-component name or `library/`), as for the v1 Index API. Scopes are not needed: the
check is made per request. Without --index nothing is asked.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

from .accounts import Accounts
from .httpd import Request, Response, json_response
from .v2 import error

SERVICE = "lxc-docker-registry"
TOKEN_TTL = 3600


class V2Auth:
    def __init__(self, accounts: Accounts, secret: bytes) -> None:
        self.accounts = accounts
        self._key = hashlib.sha256(b"v2-bearer\0" + secret).digest()

    def _sign(self, payload: bytes) -> str:
        return hmac.new(self._key, payload, hashlib.sha256).hexdigest()

    def issue(self, user: str) -> str:
        payload = base64.urlsafe_b64encode(
            json.dumps({"sub": user, "exp": int(time.time()) + TOKEN_TTL}).encode()
        )
        return payload.decode() + "." + self._sign(payload)

    def bearer_user(self, header: str) -> str | None:
        """The user ("" anonymous) of a valid, unexpired Bearer token, else None."""
        scheme, _, value = header.strip().partition(" ")
        payload, _, signature = value.strip().rpartition(".")
        if (
            scheme.lower() != "bearer"
            or not payload
            or not hmac.compare_digest(signature, self._sign(payload.encode()))
        ):
            return None
        try:
            claims = json.loads(base64.urlsafe_b64decode(payload))
        except ValueError:
            return None
        return claims["sub"] if claims.get("exp", 0) > time.time() else None

    def user(self, req: Request) -> str | None:
        header = req.header("Authorization")
        if header[:7].lower() == "bearer ":
            return self.bearer_user(header)
        return self.accounts.check(header) if header else None

    def token_endpoint(self, req: Request) -> Response:
        header = req.header("Authorization")
        user = ""
        if header:
            user = self.accounts.check(header)
            if user is None:
                return self._challenge(req, "UNAUTHORIZED", "wrong user name or password")
        token = self.issue(user)
        issued = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        body = {"token": token, "access_token": token, "expires_in": TOKEN_TTL, "issued_at": issued}
        return json_response(200, body)

    def authorize(self, req: Request, write: bool, name: str | None) -> Response | None:
        """None when allowed, else the 401 (challenge) or 403 to answer."""
        base = name is None
        if not write and not base:
            return None
        user = self.user(req)
        if user is None:
            return self._challenge(req, "UNAUTHORIZED", "authentication required")
        if base:
            return None
        if not user:
            return self._challenge(req, "UNAUTHORIZED", "authentication required to push")
        namespace = name.split("/", 1)[0] if "/" in name else "library"
        if namespace not in (user, "library"):
            return error(403, "DENIED", f"{user} may not write to {name}")
        return None

    def _challenge(self, req: Request, code: str, message: str) -> Response:
        response = error(401, code, message)
        realm = f"http://{req.header('Host') or 'localhost'}/v2/token"
        response.headers.append(("WWW-Authenticate", f'Bearer realm="{realm}",service="{SERVICE}"'))
        return response
