"""Turns the zipapp shiv made into the one that ships: a small archive for the client around shiv's.

    python3 pack.py SHIV_PYZ OUTPUT_PYZ SHEBANG ENTRY_PY

Run by build.sh with the interpreter the zipapp names (the .pyc files are for its version). The
archive it writes holds:
- lxc_docker_zipapp.py (packaging/zipapp/entry.py) and a __main__.py that imports it, each beside
  its .pyc;
- lite/lxc_docker/: every module of lxc_docker as an unchecked-hash .pyc (zipimport trusts it
  without a source to compare with), stored uncompressed (loading it needs no zlib, an extension
  module on Debian). The client and the container init import from here;
- _bootstrap/: shiv's bootstrap, and shiv.pyz: shiv's whole archive as one stored member, which the
  daemon's path extracts its libraries from.
zipimport reads an archive's whole central directory before the first import from it, ~5 us an
entry: nesting shiv's 660 entries in one keeps that to ~150. Dates come from shiv's entries, so the
build stays reproducible.
"""

from __future__ import annotations

import importlib.util
import marshal
import os
import sys
import zipfile

PACKAGE = "site-packages/lxc_docker/"
LITE = "lite/"
SHIV = "shiv.pyz"
ENTRY_MODULE = "lxc_docker_zipapp"


def unchecked_pyc(source: bytes, filename: str) -> bytes:
    """PEP 552 pyc: magic, flags 0b01 (hash-based, unchecked), the source hash, the code."""
    code = compile(source, filename, "exec", dont_inherit=True)
    flags = (0b01).to_bytes(4, "little")
    return importlib.util.MAGIC_NUMBER + flags + importlib.util.source_hash(source) + marshal.dumps(code)


def stored(name: str, date_time: tuple[int, ...]) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time)
    info.compress_type = zipfile.ZIP_STORED
    info.external_attr = 0o100644 << 16
    return info


def with_pyc(zout: zipfile.ZipFile, name: str, source: bytes, date: tuple[int, ...], label: str) -> None:
    zout.writestr(stored(name, date), source)
    zout.writestr(stored(name + "c", date), unchecked_pyc(source, f"{label}/{name}"))


def pack(src: str, dest: str, shebang: str, entry: str) -> int:
    with open(entry, "rb") as f:
        entry_source = f.read().replace(b"@CACHE_TAG@", sys.implementation.cache_tag.encode())
    with open(src, "rb") as f:
        shiv_bytes = f.read()
    # shiv's own shebang line goes; the archive inside stays valid (zip offsets are relative).
    shiv_bytes = shiv_bytes[shiv_bytes.index(b"\n") + 1 :] if shiv_bytes.startswith(b"#!") else shiv_bytes
    label = os.path.basename(dest)
    added = 0
    tmp = dest + ".tmp"
    with open(tmp, "wb") as out:
        out.write(b"#!" + shebang.encode() + b"\n")
        with zipfile.ZipFile(src) as zin, zipfile.ZipFile(out, "w") as zout:
            infos = zin.infolist()
            date = next(i.date_time for i in infos if i.filename == "__main__.py")
            with_pyc(zout, ENTRY_MODULE + ".py", entry_source, date, label)
            with_pyc(zout, "__main__.py", f"import {ENTRY_MODULE}\n".encode(), date, label)
            for info in infos:
                if info.filename.startswith("_bootstrap/"):
                    zout.writestr(info, zin.read(info), compress_type=info.compress_type)
                elif info.filename.startswith(PACKAGE) and info.filename.endswith(".py"):
                    name = LITE + info.filename.removeprefix("site-packages/") + "c"
                    source_name = f"{label}/{info.filename}"
                    zout.writestr(stored(name, info.date_time), unchecked_pyc(zin.read(info), source_name))
                    added += 1
            zout.writestr(stored(SHIV, date), shiv_bytes)
    os.chmod(tmp, 0o755)
    os.replace(tmp, dest)
    return added


def main(argv: list[str]) -> int:
    if len(argv) != 4:
        sys.stderr.write(__doc__)
        return 2
    if not pack(*argv):
        sys.stderr.write(f"pack.py: no {PACKAGE} sources in {argv[0]}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
