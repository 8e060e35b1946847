"""Image manifests of the OCI distribution API: what we accept, what we refuse, what we send.

Accepted: Docker's manifest v2 schema 2 and the OCI image manifest, and their lists (a Docker
manifest list or an OCI index, from which we pick linux/amd64). Schema 1 (signed, v1 ids inside) is
refused with a clear message, as are foreign layers (`urls`: the blob lives elsewhere).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..errors import DockerError

SCHEMA2 = "application/vnd.docker.distribution.manifest.v2+json"
LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
SCHEMA1 = (
    "application/vnd.docker.distribution.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
)
CONFIG = "application/vnd.docker.container.image.v1+json"
LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
FOREIGN = (
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
)
LAYER_TYPES = (
    LAYER_GZIP,
    "application/vnd.oci.image.layer.v1.tar+gzip",
    "application/vnd.oci.image.layer.v1.tar",
)

ACCEPT = ", ".join([SCHEMA2, LIST, OCI_MANIFEST, OCI_INDEX, *SCHEMA1])

# A manifest is metadata: anything near this size is an attack, not an image.
MAX_MANIFEST = 4 << 20


class ManifestError(DockerError):
    status = 500


@dataclass
class Descriptor:
    media_type: str
    digest: str
    size: int


@dataclass
class ImageManifest:
    config: Descriptor
    layers: list[Descriptor]


def _descriptor(doc: Any, what: str) -> Descriptor:
    if not isinstance(doc, dict):
        raise ManifestError(f"invalid manifest: {what} is not an object")
    digest, size = doc.get("digest"), doc.get("size")
    if not isinstance(digest, str) or not digest.startswith("sha256:") or len(digest) != 71:
        raise ManifestError(f"invalid manifest: {what} has unsupported digest {digest!r}")
    if not all(c in "0123456789abcdef" for c in digest[7:]):
        raise ManifestError(f"invalid manifest: {what} has invalid digest {digest!r}")
    if not isinstance(size, int) or size < 0:
        raise ManifestError(f"invalid manifest: {what} has invalid size {size!r}")
    return Descriptor(str(doc.get("mediaType") or ""), digest, size)


def media_type(content_type: str, doc: dict[str, Any]) -> str:
    kind = str(doc.get("mediaType") or "") or content_type.split(";")[0].strip()
    if not kind and doc.get("schemaVersion") == 1:
        return SCHEMA1[0]
    if not kind and "manifests" in doc:
        return OCI_INDEX
    if not kind and "config" in doc:
        return OCI_MANIFEST
    return kind


def parse(body: bytes, content_type: str) -> tuple[str, dict[str, Any]]:
    """(media type, document) of a manifest body; refuses what we do not read."""
    try:
        doc = json.loads(body)
    except ValueError as e:
        raise ManifestError(f"invalid manifest: {e}") from None
    if not isinstance(doc, dict):
        raise ManifestError("invalid manifest: not a JSON object")
    kind = media_type(content_type, doc)
    if kind in SCHEMA1 or doc.get("schemaVersion") == 1:
        raise ManifestError(
            "manifest schema 1 is not supported: the registry holds this image only in the deprecated "
            "signed v1 format (push it again with a current client)"
        )
    if kind not in (SCHEMA2, LIST, OCI_MANIFEST, OCI_INDEX):
        raise ManifestError(f"unsupported manifest media type {kind!r}")
    return kind, doc


def pick_platform(doc: dict[str, Any], os_name: str = "linux", arch: str = "amd64") -> Descriptor:
    """The entry of a manifest list / OCI index for our platform."""
    entries = doc.get("manifests")
    if not isinstance(entries, list):
        raise ManifestError("invalid manifest list: no manifests")
    for i, entry in enumerate(entries):
        platform = entry.get("platform") if isinstance(entry, dict) else None
        if (
            isinstance(platform, dict)
            and platform.get("os") == os_name
            and platform.get("architecture") == arch
        ):
            return _descriptor(entry, f"manifests[{i}]")
    raise ManifestError(f"no matching manifest for {os_name}/{arch} in the manifest list entries")


def image_manifest(doc: dict[str, Any]) -> ImageManifest:
    config = _descriptor(doc.get("config"), "config")
    layers_doc = doc.get("layers")
    if not isinstance(layers_doc, list):
        raise ManifestError("invalid manifest: layers is not a list")
    layers = []
    for i, entry in enumerate(layers_doc):
        desc = _descriptor(entry, f"layers[{i}]")
        if desc.media_type in FOREIGN or (isinstance(entry, dict) and entry.get("urls")):
            raise ManifestError(
                f"layer {desc.digest} is a foreign layer (its content is not in this registry): refused"
            )
        if desc.media_type and desc.media_type not in LAYER_TYPES:
            raise ManifestError(f"layer {desc.digest} has unsupported media type {desc.media_type!r}")
        layers.append(desc)
    return ImageManifest(config, layers)


def schema2(config_digest: str, config_size: int, layers: list[tuple[str, int]]) -> bytes:
    """A manifest v2 schema 2 document (what Docker 20.10 pushes and pulls), canonical bytes."""
    doc = {
        "schemaVersion": 2,
        "mediaType": SCHEMA2,
        "config": {"mediaType": CONFIG, "size": config_size, "digest": config_digest},
        "layers": [{"mediaType": LAYER_GZIP, "size": size, "digest": digest} for digest, size in layers],
    }
    return json.dumps(doc, indent=3).encode()
