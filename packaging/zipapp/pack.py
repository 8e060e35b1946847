"""Turns the zipapp shiv made into the one that ships: a light __main__ and lxc_docker precompiled.

    python3 pack.py SHIV_PYZ OUTPUT_PYZ SHEBANG ENTRY_PY

Run by build.sh with the interpreter the zipapp names (the .pyc files are for its version). Keeps every
entry of shiv's archive (its bootstrap, environment.json, site-packages/ with the sources) except
__main__.py, which becomes ENTRY_PY (packaging/zipapp/entry.py) beside its .pyc, and adds a .pyc
beside each lxc_docker source: unchecked-hash (zipimport trusts it without comparing it with the
source) and stored uncompressed (loading it needs no zlib, an extension module to load on Debian).
The sources stay, so tracebacks show lines. Dates come from shiv's entries, so the build stays
reproducible.
"""

from __future__ import annotations

import importlib.util
import marshal
import os
import sys
import zipfile

LIBS = "site-packages/"
PACKAGE = LIBS + "lxc_docker/"
ENTRY_MODULE = "lxc_docker_zipapp"


def unchecked_pyc(source: bytes, filename: str) -> bytes:
    """PEP 552 pyc: magic, flags 0b01 (hash-based, unchecked), the source hash, the code."""
    code = compile(source, filename, "exec", dont_inherit=True)
    flags = (0b01).to_bytes(4, "little")
    return importlib.util.MAGIC_NUMBER + flags + importlib.util.source_hash(source) + marshal.dumps(code)


def stored(name: str, date_time: tuple[int, ...], mode: int = 0o644) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time)
    info.compress_type = zipfile.ZIP_STORED
    info.external_attr = (0o100000 | mode) << 16
    return info


def pack(src: str, dest: str, shebang: str, entry: str) -> int:
    with open(entry, "rb") as f:
        entry_source = f.read().replace(b"@CACHE_TAG@", sys.implementation.cache_tag.encode())
    label = os.path.basename(dest)
    added = 0
    tmp = dest + ".tmp"
    with open(tmp, "wb") as out:
        out.write(b"#!" + shebang.encode() + b"\n")
        with zipfile.ZipFile(src) as zin, zipfile.ZipFile(out, "w") as zout:
            infos = zin.infolist()
            main_date = next(i.date_time for i in infos if i.filename == "__main__.py")
            for info in infos:
                if info.filename == "__main__.py":
                    continue
                data = zin.read(info)
                zout.writestr(info, data, compress_type=info.compress_type)
                if info.filename.startswith(PACKAGE) and info.filename.endswith(".py"):
                    name = info.filename + "c"
                    zout.writestr(
                        stored(name, info.date_time), unchecked_pyc(data, f"{label}/{info.filename}")
                    )
                    added += 1
            # The shebang imports ENTRY_MODULE directly; `python3 docker.pyz` runs __main__, which
            # imports the same module.
            name = ENTRY_MODULE + ".py"
            zout.writestr(stored(name, main_date), entry_source)
            zout.writestr(stored(name + "c", main_date), unchecked_pyc(entry_source, f"{label}/{name}"))
            main_source = f"import {ENTRY_MODULE}\n".encode()
            zout.writestr(stored("__main__.py", main_date), main_source)
            zout.writestr(
                stored("__main__.pyc", main_date), unchecked_pyc(main_source, f"{label}/__main__.py")
            )
    os.chmod(tmp, 0o755)
    os.replace(tmp, dest)
    return added


def main(argv: list[str]) -> int:
    if len(argv) != 4:
        sys.stderr.write(__doc__)
        return 2
    added = pack(*argv)
    if not added:
        sys.stderr.write(f"pack.py: no {PACKAGE} sources in {argv[0]}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
