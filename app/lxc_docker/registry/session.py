"""HTTP to one registry host: scheme choice, timeouts, the 401 challenge dance, error wording.

`requests` is imported here only, and this module only by the daemon's distribution service, so the
client's start path never pays for it. A registry is HTTPS with a verified certificate unless it is
insecure (`insecure.py`: `--insecure-registry`, and loopback always, as Docker treats 127.0.0.0/8):
then HTTPS without verification is tried first and plain HTTP when that fails, as Docker does. The
scheme found on the first request is kept for the session.
"""

from __future__ import annotations

import os
from typing import Any

import requests

from ..errors import DockerError, NotFound
from . import insecure
from .auth import Credentials, parse_challenges

# A registry that does not answer a connect within this is down: fail fast rather than hang a pull.
CONNECT_TIMEOUT = float(os.environ.get("LXC_DOCKER_REGISTRY_CONNECT_TIMEOUT", "5"))
READ_TIMEOUT = 60.0
# Where names without a registry host go. Overridable so that tests never reach the real index.
DEFAULT_REGISTRY = os.environ.get("LXC_DOCKER_DEFAULT_REGISTRY", "registry-1.docker.io")


class Unauthorized(DockerError):
    status = 401


class RegistryError(DockerError):
    status = 500


def is_loopback(host: str) -> bool:
    name = host.rsplit(":", 1)[0] if not host.startswith("[") else host[1:].split("]")[0]
    return name == "localhost" or name.startswith("127.") or name == "::1"


_TLS_FAILED = (requests.exceptions.SSLError, requests.ConnectionError)


def error_text(resp: requests.Response) -> str:
    """`code: message` of the first error in a registry's JSON error body, as Docker prints it."""
    try:
        errors = resp.json().get("errors") or []
        first = errors[0]
        return f"{str(first.get('code', 'unknown')).lower()}: {first.get('message', '')}".rstrip(": ")
    except (ValueError, AttributeError, IndexError, TypeError):
        return f"HTTP status {resp.status_code}"


class Session:
    """Requests to one registry with one set of credentials; tokens are cached per scope."""

    def __init__(self, host: str, creds: Credentials) -> None:
        self.host = host
        self.creds = creds
        self.insecure = insecure.is_insecure(host)
        self.base = "https://" + host
        # True until the first answer: an insecure registry may still turn out to be plain HTTP.
        self._may_fall_back = self.insecure
        self.http = requests.Session()
        if self.insecure:
            # Per request too: requests lets REQUESTS_CA_BUNDLE override a session's verify=False.
            self.http.verify = False
            import urllib3

            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
        self.http.headers["User-Agent"] = "lxc-docker (registry client)"
        self._auth: dict[str, str] = {}  # scope -> Authorization header value
        self._challenge: list[Any] | None = None

    def close(self) -> None:
        self.http.close()

    # -- discovery and login -------------------------------------------------------------------------

    def ping(self) -> str:
        """Which protocol the registry speaks: "v2" (tried first, as Docker does) or "v1"; anything
        else, and an unreachable host, is a clear error."""
        resp = self._send("GET", "/v2/", {})
        resp.close()
        if resp.status_code in (200, 401) and (
            resp.headers.get("Docker-Distribution-Api-Version", "").startswith("registry/2")
            or resp.status_code == 200
        ):
            if resp.status_code == 401:
                self._challenge = parse_challenges(resp.headers.get("WWW-Authenticate", ""))
            return "v2"
        v1 = self._send("GET", "/v1/_ping", {})
        v1.close()
        if v1.status_code == 200:
            return "v1"
        raise RegistryError(
            f"{self.host} does not look like a registry: GET /v2/ answered {resp.status_code}"
        )

    def login(self) -> None:
        """Check the credentials against `/v2/` (Basic or a Bearer token); Unauthorized if refused."""
        resp = self.request("GET", "/v2/", scopes=[])
        resp.close()
        if resp.status_code != 200:
            raise RegistryError(f"login to {self.host}: {error_text(resp)}")

    # -- requests ------------------------------------------------------------------------------------

    def request(
        self, method: str, path: str, *, scopes: list[str], ok_404: bool = False, **kwargs: Any
    ) -> requests.Response:
        """Send with the auth for `scopes`; on a 401 answer the challenge once and retry. A 401 after
        that is Unauthorized; a 404 is NotFound unless `ok_404`."""
        key = " ".join(scopes)
        headers = dict(kwargs.pop("headers", None) or {})
        if key in self._auth:
            headers["Authorization"] = self._auth[key]
        resp = self._send(method, path, headers, **kwargs)
        if resp.status_code == 401:
            challenges = parse_challenges(resp.headers.get("WWW-Authenticate", ""))
            resp.close()
            self._auth[key] = self._authorize(challenges, scopes)
            headers["Authorization"] = self._auth[key]
            _rewind(kwargs.get("data"))
            resp = self._send(method, path, headers, **kwargs)
            if resp.status_code == 401:
                text = error_text(resp)
                resp.close()
                raise Unauthorized(text if text.startswith("unauthorized") else f"unauthorized: {text}")
        if resp.status_code == 404 and not ok_404:
            text = error_text(resp)
            resp.close()
            raise NotFound(text)
        return resp

    def raw(
        self, method: str, path: str, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> requests.Response:
        """One request as it is, without the 401 dance: a v1 index's 401 is an answer to read."""
        return self._send(method, path, dict(headers or {}), **kwargs)

    def _send(self, method: str, path: str, headers: dict[str, str], **kwargs: Any) -> requests.Response:
        absolute = path.startswith(("http://", "https://"))
        url = path if absolute else self.base + path
        try:
            kwargs.setdefault("verify", not self.insecure)
            try:
                resp = self.http.request(
                    method, url, headers=headers, timeout=(CONNECT_TIMEOUT, READ_TIMEOUT), **kwargs
                )
            except _TLS_FAILED:
                if not self._may_fall_back or absolute:
                    raise
                # An insecure registry without TLS: plain HTTP from now on, as Docker falls back.
                self._may_fall_back = False
                self.base = "http://" + self.host
                url = self.base + path
                _rewind(kwargs.get("data"))
                resp = self.http.request(
                    method, url, headers=headers, timeout=(CONNECT_TIMEOUT, READ_TIMEOUT), **kwargs
                )
            self._may_fall_back = False
            return resp
        except requests.RequestException as e:
            raise transport_error(method, url, e) from None

    def _authorize(self, challenges: list[Any], scopes: list[str]) -> str:
        for ch in challenges:
            if ch.scheme == "bearer":
                return "Bearer " + self._token(ch.params, scopes)
        for ch in challenges:
            if ch.scheme == "basic":
                if self.creds.anonymous:
                    raise Unauthorized("unauthorized: authentication required")
                return self.creds.basic_header()
        raise Unauthorized("unauthorized: the registry asked for an authentication scheme we do not speak")

    def _token(self, params: dict[str, str], scopes: list[str]) -> str:
        realm = params.get("realm", "")
        if not realm.startswith(("http://", "https://")):
            raise RegistryError(f"{self.host}: bearer challenge without a usable realm: {realm!r}")
        query: list[tuple[str, str]] = []
        if params.get("service"):
            query.append(("service", params["service"]))
        for scope in scopes or ([params["scope"]] if params.get("scope") else []):
            query.append(("scope", scope))
        # The token server is verified unless its own host is insecure (often it is the registry).
        verify = not insecure.is_insecure(realm.split("://", 1)[1].split("/", 1)[0])
        try:
            if self.creds.identitytoken:
                form = dict(query, grant_type="refresh_token", refresh_token=self.creds.identitytoken)
                form.setdefault("client_id", "lxc-docker")
                resp = self.http.post(
                    realm, data=form, timeout=(CONNECT_TIMEOUT, READ_TIMEOUT), verify=verify
                )
            else:
                headers = {} if self.creds.anonymous else {"Authorization": self.creds.basic_header()}
                if not self.creds.anonymous:
                    query.append(("account", self.creds.username))
                resp = self.http.get(
                    realm,
                    params=query,
                    headers=headers,
                    timeout=(CONNECT_TIMEOUT, READ_TIMEOUT),
                    verify=verify,
                )
        except requests.RequestException as e:
            raise RegistryError(f"get token from {realm}: {_reason(e)}") from None
        if resp.status_code in (401, 403):
            raise Unauthorized(
                f"unauthorized: {error_text(resp)}"
                if "errors" in resp.text
                else "unauthorized: incorrect username or password"
            )
        if resp.status_code != 200:
            raise RegistryError(f"get token from {realm}: HTTP status {resp.status_code}")
        try:
            doc = resp.json()
            token = doc.get("token") or doc.get("access_token")
        except (ValueError, AttributeError):
            token = None
        if not isinstance(token, str) or not token:
            raise RegistryError(f"get token from {realm}: no token in the answer")
        return token


def _rewind(data: Any) -> None:
    if hasattr(data, "seek"):
        data.seek(0)


def transport_error(method: str, url: str, e: requests.RequestException) -> RegistryError:
    """What a request that got no answer means, for v1 and v2 sessions alike."""
    if isinstance(e, requests.ConnectionError):  # a connect timeout too: it is both
        return RegistryError(f"{method} {url}: cannot reach the registry: {_reason(e)}")
    if isinstance(e, requests.Timeout):
        return RegistryError(f"{method} {url}: the registry did not answer in time")
    return RegistryError(f"{method} {url}: {e}")


def _reason(e: Exception) -> str:
    text = str(e)
    for needle in ("Connection refused", "timed out", "Name or service not known", "No route to host"):
        if needle in text:
            return needle.lower()
    return text
