"""The v1 protocol's HTTP side (Docker 0.9's "Registry & Index spec"): one repository on an index and
the registry endpoints the index names for it.

The index is asked for the repository's image list with `X-Docker-Token: true` and answers a token
and `X-Docker-Endpoints`; every request to those endpoints then carries `Authorization: Token ...`.
A private registry named by a `host:port/` prefix is its own index (it answers the same requests,
or has no image list at all, in which case its tags are read directly), as in Docker 0.9.
"""

from __future__ import annotations

import json
import re
from typing import Any

import requests

from ..errors import NotFound
from .session import CONNECT_TIMEOUT, READ_TIMEOUT, RegistryError, Session, Unauthorized, transport_error

_ID = re.compile(r"[0-9a-f]{64}\Z")
MAX_LIST = 16 << 20  # an image list or a tag map: far larger than any real repository's
MAX_ANCESTRY = 1024  # Docker refused deeper chains too (aufs's limit was 127)


def valid_id(value: Any, what: str) -> str:
    if not isinstance(value, str) or not _ID.match(value):
        raise RegistryError(f"the registry sent an invalid image id in {what}: {str(value)[:80]!r}")
    return value


def parse_endpoints(header: str, scheme: str) -> list[str]:
    """`X-Docker-Endpoints: host[:port][, host2]` -> base URLs, in the index's scheme (Docker's rule)."""
    out = []
    for part in header.split(","):
        host = part.strip().rstrip("/")
        if host.startswith(("http://", "https://")):
            host = host.split("://", 1)[1]
        host = host.removesuffix("/v1")
        if host and "/" not in host and f"{scheme}://{host}" not in out:
            out.append(f"{scheme}://{host}")
    return out


def parse_ancestry(doc: Any, image_id: str) -> list[str]:
    """An ancestry answer, checked: the image itself first, then its parent, ..., no repeats."""
    if not isinstance(doc, list) or not doc or len(doc) > MAX_ANCESTRY:
        raise RegistryError(f"invalid ancestry for image {image_id}")
    ids = [valid_id(i, f"the ancestry of {image_id}") for i in doc]
    if ids[0] != image_id or len(set(ids)) != len(ids):
        raise RegistryError(f"invalid ancestry for image {image_id}: it does not start with the image")
    return ids


class V1Session:
    """Requests for one repository (`ns/name`) through the index host of `session`."""

    def __init__(self, session: Session, repo: str) -> None:
        self.session = session
        self.http: requests.Session = session.http
        self.repo = repo
        self.scheme = session.base.split("://", 1)[0]
        self.token = ""
        self.endpoints: list[str] = [session.base]

    # -- plumbing ------------------------------------------------------------------------------------

    def send(self, method: str, url: str, *, auth: str = "token", **kwargs: Any) -> requests.Response:
        """One request; `auth` "token" (the index's token, else Basic), "basic" or "none"."""
        headers = dict(kwargs.pop("headers", None) or {})
        creds = self.session.creds
        if auth == "token" and self.token:
            headers["Authorization"] = f"Token {self.token}"
        elif auth in ("token", "basic") and creds.username and url.startswith(self.session.base + "/"):
            # The password goes to the host the user named only, never to an endpoint the index
            # pointed us to (that one gets the token, or nothing).
            headers["Authorization"] = creds.basic_header()
        try:
            return self.http.request(
                method, url, headers=headers, timeout=(CONNECT_TIMEOUT, READ_TIMEOUT), **kwargs
            )
        except requests.RequestException as e:
            raise transport_error(method, url, e) from None

    def json(self, method: str, url: str, what: str, **kwargs: Any) -> Any:
        """A JSON answer (200 only); 404 is NotFound, 401 Unauthorized, else a RegistryError."""
        resp = self.send(method, url, stream=True, **kwargs)
        try:
            check(resp, what)
            body = resp.raw.read(MAX_LIST + 1, decode_content=True)
        finally:
            resp.close()
        if len(body) > MAX_LIST:
            raise RegistryError(f"{what}: the answer is too large")
        try:
            return json.loads(body)
        except ValueError:
            raise RegistryError(f"{what}: the registry's answer is not JSON") from None

    def _take_token(self, resp: requests.Response) -> None:
        token = resp.headers.get("X-Docker-Token", "")
        if token:
            self.token = token
        endpoints = parse_endpoints(resp.headers.get("X-Docker-Endpoints", ""), self.scheme)
        if endpoints:
            self.endpoints = endpoints

    # -- the index -----------------------------------------------------------------------------------

    def repository_images(self) -> dict[str, str] | None:
        """The index's image list of the repository (id -> checksum, "" when none), its read token and
        endpoints taken on the way. None when the host keeps no image list (a bare registry)."""
        url = f"{self.session.base}/v1/repositories/{self.repo}/images"
        resp = self.send("GET", url, auth="basic", headers={"X-Docker-Token": "true"}, stream=True)
        try:
            if resp.status_code == 404:
                return None
            check(resp, f"repository {self.repo}")
            self._take_token(resp)
            body = resp.raw.read(MAX_LIST + 1, decode_content=True)
        finally:
            resp.close()
        try:
            doc = json.loads(body or b"[]")
        except ValueError:
            raise RegistryError(f"repository {self.repo}: the index's image list is not JSON") from None
        if not isinstance(doc, list) or len(body) > MAX_LIST:
            raise RegistryError(f"repository {self.repo}: the index's image list is not a list")
        out: dict[str, str] = {}
        for entry in doc:
            if isinstance(entry, dict) and isinstance(entry.get("id"), str) and _ID.match(entry["id"]):
                checksum = entry.get("checksum")
                out[entry["id"]] = checksum if isinstance(checksum, str) else ""
        return out

    def put_repository(self, images: list[dict[str, str]]) -> None:
        """Push step 1: allocate the repository on the index, get a write token and the endpoints."""
        url = f"{self.session.base}/v1/repositories/{self.repo}/"
        resp = self.send("PUT", url, auth="basic", json=images, headers={"X-Docker-Token": "true"})
        try:
            check(resp, f"push repository {self.repo}")
            self._take_token(resp)
        finally:
            resp.close()

    def put_checksums(self, images: list[dict[str, str]]) -> None:
        """Push, last step: the image list with checksums to the index."""
        url = f"{self.session.base}/v1/repositories/{self.repo}/images"
        auth = "basic" if self.session.creds.username else "token"
        headers = {"X-Docker-Endpoints": ", ".join(e.split("://", 1)[1] for e in self.endpoints)}
        resp = self.send("PUT", url, auth=auth, json=images, headers=headers)
        try:
            check(resp, f"push checksums of {self.repo}")
        finally:
            resp.close()

    # -- a registry endpoint -------------------------------------------------------------------------

    def tags(self, endpoint: str) -> dict[str, str]:
        doc = self.json("GET", f"{endpoint}/v1/repositories/{self.repo}/tags", f"tags of {self.repo}")
        if isinstance(doc, list):  # some registries answered [{"layer": id, "name": tag}]
            doc = {e.get("name"): e.get("layer") for e in doc if isinstance(e, dict)}
        if not isinstance(doc, dict):
            raise RegistryError(f"tags of {self.repo}: not a JSON object")
        return {str(t): valid_id(i, f"the tags of {self.repo}") for t, i in doc.items()}

    def ancestry(self, endpoint: str, image_id: str) -> list[str]:
        doc = self.json("GET", f"{endpoint}/v1/images/{image_id}/ancestry", f"ancestry of {image_id}")
        return parse_ancestry(doc, image_id)


def check(resp: requests.Response, what: str) -> None:
    """Raise the error a non-2xx answer means, with the registry's own words when it gave any."""
    if 200 <= resp.status_code < 300:
        return
    detail = _detail(resp)
    if resp.status_code == 401:
        raise Unauthorized(f"unauthorized: {what}: {detail or 'authentication required'}")
    if resp.status_code == 403:
        raise Unauthorized(f"denied: {what}: {detail or 'access forbidden'}")
    if resp.status_code == 404:
        raise NotFound(f"{what}: {detail or 'not found'}")
    raise RegistryError(f"{what}: HTTP status {resp.status_code}{': ' + detail if detail else ''}")


def _detail(resp: requests.Response) -> str:
    try:
        # A streamed answer is read no further than an error message needs.
        consumed = getattr(resp, "_content_consumed", True)
        text = resp.content[:4096] if consumed else resp.raw.read(4096, decode_content=True)
        doc = json.loads(text)
    except (ValueError, OSError, AttributeError):
        return ""
    if isinstance(doc, dict):
        doc = doc.get("error") or doc.get("message") or ""
    return doc if isinstance(doc, str) else ""
