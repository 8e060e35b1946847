"""Docker's whiteouts in layer tars (`.wh.NAME` deletes NAME, `.wh..wh..opq` empties a directory
of what lower layers had), and their overlayfs form (a 0:0 character device, an xattr).

Applied during extraction by the functions below, which work on the extractor's open directories.
"""

from __future__ import annotations

import os
import stat
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lxc_docker.archive.extract import Extractor

WHITEOUT_PREFIX = b".wh."
WHITEOUT_META_PREFIX = b".wh..wh."
WHITEOUT_OPAQUE = b".wh..wh..opq"
OVERLAY_OPAQUE_XATTR = "trusted.overlay.opaque"


def apply(ex: Extractor, parent_rel: bytes, base: bytes) -> None:
    """Entry `base` (a whiteout) of directory `parent_rel`, per the extractor's `whiteouts` mode."""
    ex._settle()
    if base == WHITEOUT_OPAQUE:
        if ex.whiteouts == "overlay":
            parent = ex._dir(parent_rel, create=True)
            os.setxattr(parent[0], OVERLAY_OPAQUE_XATTR, b"y")  # type: ignore[index]
        else:
            parent = ex._dir(parent_rel, create=False)
            if parent is not None:
                make_opaque(ex, parent_rel, parent[0])
        return
    if base.startswith(WHITEOUT_META_PREFIX) and not parent_rel:
        return  # AUFS bookkeeping (.wh..wh.plnk, .wh..wh.aufs), skipped as Docker does
    name = base[len(WHITEOUT_PREFIX) :]
    if name in (b"", b".", b".."):
        raise ex._reject("invalid whiteout name")
    rel = parent_rel + b"/" + name if parent_rel else name
    if ex.whiteouts == "overlay":
        parent = ex._dir(parent_rel, create=True)
        dfd = parent[0]  # type: ignore[index]
        ex._clear(dfd, name, rel)
        # overlayfs marks a deletion with a 0:0 character device of the deleted name.
        os.mknod(name, stat.S_IFCHR, 0, dir_fd=dfd)
        ex.seen.add(rel)
        return
    parent = ex._dir(parent_rel, create=False)
    if parent is not None:
        ex._clear(parent[0], name, rel)
        ex.seen.discard(rel)


def make_opaque(ex: Extractor, rel: bytes, dfd: int, keep: set[bytes] | None = None) -> None:
    """Remove what lower layers put in `rel`, keeping what this archive extracted."""
    if keep is None:
        # What this archive extracted below `rel`, and the directories leading to it.
        prefix = rel + b"/" if rel else b""
        keep = set()
        for path in ex.seen:
            if path.startswith(prefix):
                parts = path[len(prefix) :].split(b"/")
                keep.update(prefix + b"/".join(parts[:i]) for i in range(1, len(parts) + 1))
    for entry in os.listdir(dfd):
        name = os.fsencode(entry)
        child = rel + b"/" + name if rel else name
        if child not in keep:
            ex._clear(dfd, name, child)
        elif stat.S_ISDIR(os.stat(name, dir_fd=dfd, follow_symlinks=False).st_mode):
            sub = ex._dir(child, create=False)
            if sub is not None:
                make_opaque(ex, child, sub[0], keep)
