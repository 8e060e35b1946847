"""The v1 registry API as Docker 0.9 documents it (standalone) and, with `--index`, the Index API
(users, tokens, repository image lists with checksums, search with stars and descriptions)."""

from __future__ import annotations

import json
import os
import re

from . import names
from .accounts import AccountError, Accounts
from .httpd import BadRequest, Request, Response, json_response
from .v1store import V1Store

REGISTRY_VERSION = "0.6.8"
_IMAGE = re.compile(r"/v1/images/(?P<id>[^/]+)/(?P<what>json|layer|checksum|ancestry)\Z")
_REPO = [
    re.compile(
        r"/v1/repositories/(?P<ns>[^/]+)/(?P<repo>[^/]+)/(?P<rest>tags(?:/[^/]+)?|images|star|description|)\Z"
    ),
    re.compile(r"/v1/repositories/(?P<repo>[^/]+)/(?P<rest>tags(?:/[^/]+)?|images|star|description|)\Z"),
]
_USER = re.compile(r"/v1/users/(?P<name>[^/]+)/?\Z")


def _err(status: int, message: str) -> Response:
    return json_response(status, {"error": message})


class V1:
    def __init__(self, root: str, index: bool) -> None:
        self.store = V1Store(root)
        self.index = index
        # Standalone too: Docker 0.9's push asks even a standalone registry for a token
        # (`X-Docker-Token: true`) and fails without one; it is issued there but never required.
        self.accounts = Accounts(root)
        self.meta_dir = os.path.join(root, "index", "repositories")

    def __call__(self, req: Request) -> Response:
        path = req.path
        try:
            if path == "/v1/_ping":
                headers = [
                    ("X-Docker-Registry-Version", REGISTRY_VERSION),
                    ("X-Docker-Registry-Standalone", "false" if self.index else "true"),
                ]
                return json_response(200, True, headers)
            if path == "/v1/search" and req.method == "GET":
                return self.search(req)
            m = _IMAGE.match(path)
            if m:
                return self.image(req, names.valid_image_id(m.group("id")), m.group("what"))
            for pattern in _REPO:
                m = pattern.match(path)
                if m:
                    ns = m.groupdict().get("ns") or "library"
                    names.valid_repository(f"{ns}/{m.group('repo')}")
                    return self.repository(req, ns, m.group("repo"), m.group("rest"))
            if self.index and (path in ("/v1/users", "/v1/users/") or _USER.match(path)):
                return self.users(req)
        except names.NameError_ as e:
            return _err(400, str(e))
        return _err(404, "no such endpoint")

    # -- authorization ----------------------------------------------------------------------------

    def _user(self, req: Request) -> str | None:
        return self.accounts.check(req.header("Authorization")) if self.index else None

    def _may_write(self, req: Request, repository: str | None) -> bool:
        """Standalone: anyone may write. Index mode: a write token (for this repository when one is
        named) or the basic credentials of the namespace's owner."""
        if not self.index:
            return True
        token = self.accounts.check_token(req.header("Authorization"))
        if token is not None:
            return token[1] == "write" and (repository is None or token[0] == repository)
        user = self._user(req)
        return user is not None and (repository is None or _owns(user, repository))

    # -- images -----------------------------------------------------------------------------------

    def image(self, req: Request, image_id: str, what: str) -> Response:
        s = self.store
        if req.method in ("GET", "HEAD"):
            if not s.exists(image_id):
                return _err(404, "Image not found")
            if s.in_progress(image_id):
                return _err(400, "Image is being uploaded, retry later")
            if what == "layer":
                return _layer(req, s.layer_path(image_id))
            if what == "ancestry":
                return Response(200, s.read(image_id, "ancestry"), [("Content-Type", "application/json")])
            if what == "json":
                raw = s.read(image_id, "json")
                headers = [("Content-Type", "application/json")]
                if os.path.exists(s.layer_path(image_id)):
                    headers.append(("X-Docker-Size", str(os.stat(s.layer_path(image_id)).st_size)))
                for k, v in (
                    ("X-Docker-Checksum-Payload", "_payload_checksum"),
                    ("X-Docker-Checksum", "_client_checksum"),
                ):
                    value = s.read(image_id, v)
                    if value:
                        headers.append((k, value.decode()))
                return Response(200, raw, headers)
            return _err(405, "method not allowed")
        if req.method != "PUT" or what == "ancestry":
            return _err(405, "method not allowed")
        if not self._may_write(req, None):
            return _err(401, "Requires authorization")
        if what == "json":
            return self.put_json(req, image_id)
        if not s.exists(image_id):
            return _err(404, "Image's JSON not found")
        if not s.in_progress(image_id):
            return _err(409, "Image already exists")
        if what == "layer":
            if os.path.exists(s.layer_path(image_id)):
                return _err(409, "Image already exists")
            payload = s.put_layer(image_id, req.body)
            client = (s.read(image_id, "_client_checksum") or b"").decode()
            # The old flow sent the checksum with the json. Only a payload checksum can be verified
            # here; a tarsum alone leaves the image hidden until a checksum PUT with the payload.
            if client.startswith("sha256:"):
                if client != payload:
                    return _err(400, "Checksum mismatch")
                s.complete(image_id, "")
            return json_response(200, True)
        # checksum
        checksum = req.header("X-Docker-Checksum")
        payload = req.header("X-Docker-Checksum-Payload")
        if not checksum and not payload:
            return _err(400, "Missing Image's checksum")
        if not os.path.exists(s.layer_path(image_id)):
            return _err(400, "Checksum requires the layer first")
        ours = s.read(image_id, "_payload_checksum").decode()
        # The server cannot recompute a tarsum; the payload checksum covers the same bytes.
        if (payload or checksum) != ours:
            return _err(400, "Checksum mismatch, ignoring the layer")
        s.complete(image_id, checksum)
        return json_response(200, True)

    def put_json(self, req: Request, image_id: str) -> Response:
        raw = req.body.read_all(4 << 20)
        try:
            doc = json.loads(raw)
        except ValueError:
            return _err(400, "Invalid JSON")
        if not isinstance(doc, dict) or doc.get("id") != image_id:
            return _err(400, "JSON data contains invalid id")
        parent = doc.get("parent") or None
        if parent is not None and not isinstance(parent, str):
            return _err(400, "Invalid parent")
        if self.store.exists(image_id) and not self.store.in_progress(image_id):
            return _err(409, "Image already exists")
        try:
            if parent:
                names.valid_image_id(parent)
            self.store.put_json(image_id, raw, parent, req.header("X-Docker-Checksum"))
        except LookupError as e:
            return _err(400, str(e))
        return json_response(200, True)

    # -- repositories -----------------------------------------------------------------------------

    def repository(self, req: Request, ns: str, repo: str, rest: str) -> Response:
        s, full, method = self.store, f"{ns}/{repo}", req.method
        if rest == "tags" and method == "GET":
            if not s.repo_exists(ns, repo):
                return _err(404, "Repository not found")
            return json_response(200, s.tags(ns, repo))
        if rest.startswith("tags/"):
            tag = names.valid_tag(rest[5:])
            if method == "GET":
                image_id = s.tags(ns, repo).get(tag) if s.repo_exists(ns, repo) else None
                return json_response(200, image_id) if image_id else _err(404, "Tag not found")
            if not self._may_write(req, full):
                return _err(401, "Requires authorization")
            if method == "PUT":
                image_id = req.body.json()
                if not isinstance(image_id, str) or not s.exists(names.valid_image_id(image_id)):
                    return _err(404, "Image not found")
                s.set_tag(ns, repo, tag, image_id)
                return json_response(200, True)
            if method == "DELETE":
                return json_response(200, True) if s.delete_tag(ns, repo, tag) else _err(404, "Tag not found")
        if rest == "images" and method == "GET":
            images = s.images_of(ns, repo)
            if images is None:
                return _err(404, "Repository not found")
            headers = self._token_headers(req, full, "read")
            return json_response(200, images, headers)
        if rest == "images" and method == "PUT":
            if not self._may_write(req, full):
                return _err(401, "Requires authorization")
            return self._put_checksums(req, ns, repo)
        if rest == "" and method == "PUT":
            return self._put_repository(req, ns, repo)
        if rest == "" and method == "DELETE":
            if not self._may_write(req, full):
                return _err(401, "Requires authorization")
            return json_response(200, True) if s.delete_repo(ns, repo) else _err(404, "Repository not found")
        if rest in ("star", "description") and self.index:
            return self._meta(req, full, rest)
        return _err(405, "method not allowed")

    def _put_repository(self, req: Request, ns: str, repo: str) -> Response:
        images = req.body.json()
        if not isinstance(images, list) or not all(
            isinstance(i, dict) and isinstance(i.get("id"), str) for i in images
        ):
            return _err(400, "Body must be a list of images")
        full = f"{ns}/{repo}"
        if self.index:
            user = self._user(req)
            if user is None:
                return _err(401, "Requires authorization")
            if not _owns(user, full):
                return _err(403, f"{user} may not push to {full}")
        known = {i["id"]: i for i in self.store.images_of(ns, repo) or []}
        for i in images:
            names.valid_image_id(i["id"])
            known.setdefault(i["id"], {"id": i["id"]})
        self.store.put_images(ns, repo, list(known.values()))
        headers = self._token_headers(req, full, "write")
        return json_response(200, "", headers)

    def _put_checksums(self, req: Request, ns: str, repo: str) -> Response:
        images = req.body.json()
        if not isinstance(images, list):
            return _err(400, "Body must be a list of images")
        known = {i["id"]: i for i in self.store.images_of(ns, repo) or []}
        for i in images:
            if isinstance(i, dict) and isinstance(i.get("id"), str):
                names.valid_image_id(i["id"])
                entry = known.setdefault(i["id"], {"id": i["id"]})
                if isinstance(i.get("checksum"), str):
                    entry["checksum"] = i["checksum"]
        self.store.put_images(ns, repo, list(known.values()))
        return Response(204)

    def _token_headers(self, req: Request, repository: str, access: str) -> list[tuple[str, str]]:
        if req.header("X-Docker-Token").lower() != "true":
            return []
        token = self.accounts.token(repository, access)
        endpoint = req.header("Host") or "localhost"
        return [
            ("X-Docker-Token", token),
            ("WWW-Authenticate", f"Token {token}"),
            ("X-Docker-Endpoints", endpoint),
        ]

    # -- index: users, stars, descriptions, search ------------------------------------------------

    def users(self, req: Request) -> Response:
        accounts = self.accounts
        if req.method == "POST" and req.path in ("/v1/users", "/v1/users/"):
            doc = req.body.json()
            if not isinstance(doc, dict):
                return _err(400, "Invalid data")
            try:
                accounts.create(
                    str(doc.get("username", "")), str(doc.get("password", "")), str(doc.get("email", ""))
                )
            except AccountError as e:
                return json_response(400, str(e))
            return json_response(201, "User Created")
        if req.method == "GET" and req.path in ("/v1/users", "/v1/users/"):
            return json_response(200, "OK") if self._user(req) else json_response(401, "Wrong login/password")
        m = _USER.match(req.path)
        if req.method == "PUT" and m:
            user = self._user(req)
            if user is None or user != m.group("name"):
                return json_response(401, "Wrong login/password")
            doc = req.body.json()
            if not isinstance(doc, dict):
                return _err(400, "Invalid data")
            try:
                accounts.update(user, doc.get("password"), doc.get("email"))
            except AccountError as e:
                return json_response(400, str(e))
            return Response(204)
        return _err(405, "method not allowed")

    def _meta_path(self, full: str) -> str:
        return os.path.join(self.meta_dir, full + ".json")

    def _read_meta(self, full: str) -> dict:
        try:
            with open(self._meta_path(full), "rb") as f:
                return json.loads(f.read())
        except FileNotFoundError:
            return {"description": "", "stars": []}

    def _meta(self, req: Request, full: str, what: str) -> Response:
        from ...sysutil import atomic

        user = self._user(req)
        if user is None:
            return _err(401, "Requires authorization")
        meta = self._read_meta(full)
        if what == "star" and req.method in ("PUT", "DELETE"):
            stars = set(meta["stars"])
            (stars.add if req.method == "PUT" else stars.discard)(user)
            meta["stars"] = sorted(stars)
        elif what == "description" and req.method == "PUT" and _owns(user, full):
            doc = req.body.json()
            if not isinstance(doc, dict) or not isinstance(doc.get("description"), str):
                raise BadRequest('body must be {"description": "..."}')
            meta["description"] = doc["description"][:1000]
        else:
            return _err(403 if what == "description" else 405, "not allowed")
        os.makedirs(os.path.dirname(self._meta_path(full)), mode=0o700, exist_ok=True)
        atomic.write_json(self._meta_path(full), meta)
        return Response(204)

    def search(self, req: Request) -> Response:
        query = req.arg("q")
        results = []
        for full in self.store.repositories():
            meta = self._read_meta(full)
            if query.lower() not in full and query.lower() not in meta["description"].lower():
                continue
            official = full.startswith("library/")
            results.append(
                {
                    "name": full[8:] if official else full,
                    "description": meta["description"],
                    "star_count": len(meta["stars"]),
                    "is_official": official,
                    "is_trusted": False,
                }
            )
        results.sort(key=lambda r: (-r["star_count"], r["name"]))
        return json_response(200, {"query": query, "num_results": len(results), "results": results})


def _layer(req: Request, path: str) -> Response:
    """A layer, whole or one byte range of it: a client whose download was cut resumes with Range."""
    size = os.stat(path).st_size
    headers = [("Content-Type", "application/octet-stream"), ("Accept-Ranges", "bytes")]
    try:
        span = names.parse_range(req.header("Range"), size)
    except names.RangeError as e:
        return Response(416, str(e).encode(), headers + [("Content-Range", f"bytes */{size}")])
    if span is None:
        return Response(200, headers=headers, file=(path, 0, size))
    first, last = span
    headers.append(("Content-Range", f"bytes {first}-{last}/{size}"))
    return Response(206, headers=headers, file=(path, first, last - first + 1))


def _owns(user: str, repository: str) -> bool:
    ns = repository.split("/", 1)[0]
    return ns in (user, "library")
