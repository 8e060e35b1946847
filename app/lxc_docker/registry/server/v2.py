"""The v2 API (OCI distribution spec, Docker Registry HTTP API V2): blobs, uploads, manifests, tags,
catalog. Errors are `{"errors":[{"code","message","detail"}]}` with the spec's codes."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from urllib.parse import quote

from . import names
from .httpd import BadRequest, Request, Response, json_response
from .store import DigestMismatch, Store, UploadUnknown

API_HEADER = ("Docker-Distribution-API-Version", "registry/2.0")
MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"
MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MANIFEST_TYPES = (MANIFEST_V2, MANIFEST_LIST, OCI_MANIFEST, OCI_INDEX)
LISTS = (MANIFEST_LIST, OCI_INDEX)
FOREIGN = (
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
)
MAX_MANIFEST = 4 << 20

# The name is greedy and the last part holds no slash, so a repository may have a component called
# "blobs", "manifests" or "tags" ("ns/blobs": /v2/ns/blobs/blobs/<digest>).
_ROUTE = re.compile(r"/v2/(?P<name>.+)/(?P<kind>blobs/uploads|blobs|manifests|tags)/(?P<rest>[^/]*)\Z")


def error(status: int, code: str, message: str, detail: object = None) -> Response:
    body = {"errors": [{"code": code, "message": message, "detail": detail}]}
    return json_response(status, body, [API_HEADER])


class V2:
    def __init__(
        self, store: Store, authorize: Callable[[Request, bool, str | None], Response | None] | None = None
    ) -> None:
        self.store = store
        # authorize(request, write, name or None for /v2/) -> None when allowed, else what to answer
        self.authorize = authorize or (lambda req, write, name: None)

    def __call__(self, req: Request) -> Response:
        if req.path in ("/v2/", "/v2"):
            # Docker sends credentials only after a challenge here (its ping), and `docker login`
            # checks them against it.
            denied = self.authorize(req, False, None)
            return denied or Response(200, b"{}", [API_HEADER, ("Content-Type", "application/json")])
        if req.path == "/v2/_catalog" and req.method == "GET":
            return self.catalog(req)
        m = _ROUTE.match(req.path)
        if not m:
            return error(404, "NOT_FOUND", "no such endpoint", req.path)
        name, kind, rest = m.group("name"), m.group("kind"), m.group("rest")
        try:
            names.valid_repository(name)
        except names.NameError_ as e:
            return error(400, "NAME_INVALID", "invalid repository name", str(e))
        denied = self.authorize(req, req.method not in ("GET", "HEAD"), name)
        if denied is not None:
            return denied
        try:
            return self._dispatch(req, name, kind, rest)
        except names.NameError_ as e:
            code = (
                "DIGEST_INVALID"
                if "digest" in str(e)
                else "TAG_INVALID"
                if "tag" in str(e)
                else "NAME_INVALID"
            )
            return error(400, code, str(e))
        except UploadUnknown:
            return error(404, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry")

    def _dispatch(self, req: Request, name: str, kind: str, rest: str) -> Response:
        method = req.method
        if kind == "blobs/uploads":
            if rest == "" and method == "POST":
                return self.start_upload(req, name)
            upload_id = names.valid_upload_id(rest)
            handler = {
                "PATCH": self.patch,
                "PUT": self.put_upload,
                "GET": self.upload_status,
                "DELETE": self.cancel_upload,
            }.get(method)
        elif kind == "blobs":
            handler = {"GET": self.get_blob, "HEAD": self.get_blob, "DELETE": self.delete_blob}.get(method)
            upload_id = rest
        elif kind == "manifests":
            handler = {
                "GET": self.get_manifest,
                "HEAD": self.get_manifest,
                "PUT": self.put_manifest,
                "DELETE": self.delete_manifest,
            }.get(method)
            upload_id = rest
        else:
            if rest != "list" or method != "GET":
                return error(404, "NOT_FOUND", "no such endpoint", req.path)
            return self.tags(req, name)
        if handler is None:
            return error(405, "UNSUPPORTED", f"{method} is not supported here")
        return handler(req, name, upload_id)

    # -- blobs ------------------------------------------------------------------------------------

    def get_blob(self, req: Request, name: str, digest: str) -> Response:
        names.digest_hex(digest)
        if not self.store.has_link(name, digest):
            return error(404, "BLOB_UNKNOWN", "blob unknown to registry", digest)
        size = self.store.blob_size(digest) or 0
        headers = [
            API_HEADER,
            ("Docker-Content-Digest", digest),
            ("ETag", f'"{digest}"'),
            ("Accept-Ranges", "bytes"),
            ("Content-Type", "application/octet-stream"),
        ]
        try:
            span = names.parse_range(req.header("Range"), size)
        except names.RangeError as e:
            headers.append(("Content-Range", f"bytes */{size}"))
            return Response(416, str(e).encode(), headers)
        path = self.store.blob_path(digest)
        if span is None:
            return Response(200, headers=headers, file=(path, 0, size), head=req.method == "HEAD")
        first, last = span
        headers.append(("Content-Range", f"bytes {first}-{last}/{size}"))
        return Response(206, headers=headers, file=(path, first, last - first + 1), head=req.method == "HEAD")

    def delete_blob(self, req: Request, name: str, digest: str) -> Response:
        if not self.store.unlink(name, digest):
            return error(404, "BLOB_UNKNOWN", "blob unknown to registry", digest)
        return Response(202, headers=[API_HEADER])

    # -- uploads ----------------------------------------------------------------------------------

    def start_upload(self, req: Request, name: str) -> Response:
        mount, source = req.arg("mount"), req.arg("from")
        if mount and source:
            names.valid_repository(source)
            if self.store.has_link(source, mount):
                self.store.link(name, mount)
                return self._created(name, mount)
        upload_id = self.store.start_upload(name)
        digest = req.arg("digest")
        if digest:  # monolithic: the whole blob is this request's body
            return self._complete(req, name, upload_id, digest)
        if not req.body.done:  # a body without ?digest= starts the upload with its bytes
            self.store.append(name, upload_id, req.body)
        return self._accepted(name, upload_id)

    def patch(self, req: Request, name: str, upload_id: str) -> Response:
        size = self.store.upload_size(name, upload_id)
        content_range = req.header("Content-Range")
        if content_range:
            try:
                first, _last = names.parse_content_range(content_range)
            except names.RangeError as e:
                return error(400, "BLOB_UPLOAD_INVALID", str(e))
            if first != size:
                headers = [
                    API_HEADER,
                    ("Range", _range(size)),
                    ("Docker-Upload-UUID", upload_id),
                    ("Location", _upload_url(name, upload_id)),
                ]
                return Response(416, b"", headers)
        self.store.append(name, upload_id, req.body)
        return self._accepted(name, upload_id)

    def put_upload(self, req: Request, name: str, upload_id: str) -> Response:
        digest = req.arg("digest")
        if not digest:
            return error(400, "DIGEST_INVALID", "PUT of an upload needs ?digest=")
        names.digest_hex(digest)
        return self._complete(req, name, upload_id, digest)

    def _complete(self, req: Request, name: str, upload_id: str, digest: str) -> Response:
        try:
            names.digest_hex(digest)
        except names.NameError_ as e:
            self.store.cancel(name, upload_id)
            return error(400, "DIGEST_INVALID", str(e))
        try:
            if not req.body.done:
                self.store.append(name, upload_id, req.body)
            self.store.finish(name, upload_id, digest)
        except DigestMismatch as e:
            return error(
                400,
                "DIGEST_INVALID",
                "provided digest did not match uploaded content",
                {"expected": e.expected, "actual": e.actual},
            )
        except BaseException:
            # A body cut mid-way: nothing of it may become a blob.
            self.store.cancel(name, upload_id)
            raise
        return self._created(name, digest)

    def upload_status(self, req: Request, name: str, upload_id: str) -> Response:
        size = self.store.upload_size(name, upload_id)
        headers = [
            API_HEADER,
            ("Range", _range(size)),
            ("Docker-Upload-UUID", upload_id),
            ("Location", _upload_url(name, upload_id)),
        ]
        return Response(204, headers=headers)

    def cancel_upload(self, req: Request, name: str, upload_id: str) -> Response:
        self.store.cancel(name, upload_id)
        return Response(204, headers=[API_HEADER])

    def _accepted(self, name: str, upload_id: str) -> Response:
        size = self.store.upload_size(name, upload_id)
        headers = [
            API_HEADER,
            ("Location", _upload_url(name, upload_id)),
            ("Range", _range(size)),
            ("Docker-Upload-UUID", upload_id),
        ]
        return Response(202, headers=headers)

    def _created(self, name: str, digest: str) -> Response:
        headers = [API_HEADER, ("Location", f"/v2/{name}/blobs/{digest}"), ("Docker-Content-Digest", digest)]
        return Response(201, headers=headers)

    # -- manifests --------------------------------------------------------------------------------

    def get_manifest(self, req: Request, name: str, reference: str) -> Response:
        digest = self.store.resolve(name, reference)
        found = self.store.manifest(name, digest) if digest else None
        if found is None:
            return error(404, "MANIFEST_UNKNOWN", "manifest unknown", {"name": name, "reference": reference})
        data, media_type = found
        accept = [a.split(";")[0].strip() for h in req.headers.get_all("Accept") or [] for a in h.split(",")]
        if accept and media_type not in accept and "*/*" not in accept and not names.is_digest(reference):
            return error(
                404,
                "MANIFEST_UNKNOWN",
                f"manifest is {media_type}, not in Accept",
                {"name": name, "reference": reference},
            )
        headers = [
            API_HEADER,
            ("Content-Type", media_type),
            ("Docker-Content-Digest", digest),
            ("ETag", f'"{digest}"'),
        ]
        return Response(200, data, headers, head=req.method == "HEAD")

    def put_manifest(self, req: Request, name: str, reference: str) -> Response:
        tag = None if names.is_digest(reference) else names.valid_tag(reference)
        data = req.body.read_all(MAX_MANIFEST)
        try:
            doc = json.loads(data)
            if not isinstance(doc, dict):
                raise ValueError("not an object")
        except ValueError as e:
            return error(400, "MANIFEST_INVALID", "manifest invalid", str(e))
        media_type = req.header("Content-Type").split(";")[0].strip() or doc.get("mediaType", "")
        if media_type not in MANIFEST_TYPES:
            media_type = doc.get("mediaType") or (OCI_MANIFEST if "config" in doc else "")
        if media_type not in MANIFEST_TYPES or doc.get("schemaVersion") != 2:
            return error(400, "MANIFEST_INVALID", "unsupported manifest", media_type or "no media type")
        missing = self._missing(name, doc, media_type)
        if isinstance(missing, Response):
            return missing
        if missing:
            return error(400, "MANIFEST_BLOB_UNKNOWN", "blob unknown to registry", {"digest": missing[0]})
        if tag is None:
            import hashlib

            actual = "sha256:" + hashlib.sha256(data).hexdigest()
            if actual != reference:
                return error(
                    400,
                    "DIGEST_INVALID",
                    "manifest digest does not match the reference",
                    {"expected": reference, "actual": actual},
                )
        digest = self.store.put_manifest(name, data, media_type, tag)
        headers = [
            API_HEADER,
            ("Location", f"/v2/{name}/manifests/{digest}"),
            ("Docker-Content-Digest", digest),
        ]
        return Response(201, headers=headers)

    def _missing(self, name: str, doc: dict, media_type: str) -> list[str] | Response:
        try:
            if media_type in LISTS:
                refs = [m["digest"] for m in doc.get("manifests", [])]
                for d in refs:
                    names.digest_hex(d)
                return [d for d in refs if not self.store.has_manifest(name, d)]
            descs = [doc["config"]] + list(doc.get("layers", []))
            refs = [d["digest"] for d in descs if d.get("mediaType") not in FOREIGN]
            for d in refs:
                names.digest_hex(d)
        except (KeyError, TypeError, names.NameError_) as e:
            return error(400, "MANIFEST_INVALID", "manifest invalid", f"bad descriptor: {e}")
        return [d for d in refs if not self.store.has_link(name, d)]

    def delete_manifest(self, req: Request, name: str, reference: str) -> Response:
        if names.is_digest(reference):
            names.digest_hex(reference)
            ok = self.store.delete_manifest(name, reference)
        else:
            ok = self.store.delete_tag(name, reference)
        if not ok:
            return error(404, "MANIFEST_UNKNOWN", "manifest unknown", {"name": name, "reference": reference})
        return Response(202, headers=[API_HEADER])

    # -- listings ---------------------------------------------------------------------------------

    def tags(self, req: Request, name: str) -> Response:
        if not self.store.repository_exists(name):
            return error(404, "NAME_UNKNOWN", "repository name not known to registry", {"name": name})
        page, link = _paginate(req, self.store.tags(name), f"/v2/{name}/tags/list")
        return json_response(200, {"name": name, "tags": page}, [API_HEADER] + link)

    def catalog(self, req: Request) -> Response:
        page, link = _paginate(req, self.store.catalog(), "/v2/_catalog")
        return json_response(200, {"repositories": page}, [API_HEADER] + link)


def _paginate(req: Request, items: list[str], base: str) -> tuple[list[str], list[tuple[str, str]]]:
    last = req.arg("last")
    if last:
        items = [i for i in items if i > last]
    n_text = req.arg("n")
    if not n_text:
        return items, []
    if not n_text.isdigit():
        raise BadRequest(f"invalid n: {n_text!r}")
    n = int(n_text)
    page = items[:n]
    if len(items) > n and page:
        return page, [("Link", f'<{base}?n={n}&last={quote(page[-1])}>; rel="next"')]
    return page, []


def _upload_url(name: str, upload_id: str) -> str:
    return f"/v2/{name}/blobs/uploads/{upload_id}"


def _range(size: int) -> str:
    # The spec's Range of an upload is inclusive; an empty upload reports 0-0, as distribution does.
    return f"0-{max(size - 1, 0)}"
