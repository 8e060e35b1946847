"""Copies the libraries out of our zipapp (packaging/build.sh zipapp) into a directory, for the VM image.

    python3 boot/unpack_zipapp.py ZIPAPP DEST

The zipapp holds shiv's archive as the member shiv.pyz (packaging/zipapp/pack.py), whose site-packages/
holds lxc_docker and its dependencies as wheels install them. Only what the VM runs is copied: the
boot2docker helper, click (which only boot2docker uses) and shiv's console scripts stay out.
"""

from __future__ import annotations

import io
import os
import sys
import zipfile

PREFIX = "site-packages/"
LEFT_OUT = ("boot2docker/", "click/", "bin/")


def unpack(archive: str, dest: str) -> int:
    with zipfile.ZipFile(archive) as outer:
        inner = zipfile.ZipFile(io.BytesIO(outer.read("shiv.pyz")))
    count = 0
    with inner:
        for info in inner.infolist():
            if not info.filename.startswith(PREFIX) or info.is_dir():
                continue
            name = info.filename[len(PREFIX) :]
            top = name.split("/", 1)[0] + "/"
            if top in LEFT_OUT or top.startswith("click-"):
                continue
            if "/__pycache__/" in name or name.endswith(".pyc"):  # compiled again, unchecked
                continue
            if name.startswith("/") or ".." in name.split("/"):
                raise SystemExit(f"unpack_zipapp.py: refusing the member {info.filename!r}")
            target = os.path.join(dest, name)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with inner.open(info) as src, open(target, "wb") as out:
                out.write(src.read())
            count += 1
    if not os.path.isfile(os.path.join(dest, "lxc_docker", "main.py")):
        raise SystemExit(f"unpack_zipapp.py: {archive} holds no site-packages/lxc_docker")
    return count


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit("usage: unpack_zipapp.py ZIPAPP DEST")
    print(f"unpack_zipapp.py: {unpack(sys.argv[1], sys.argv[2])} files into {sys.argv[2]}", file=sys.stderr)
