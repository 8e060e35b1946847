"""Copies kernel modules and everything they depend on from one modules tree to another.

    python3 modclosure.py SRC_DIR DEST_DIR NAME...

SRC_DIR is lib/modules/VERSION of an unpacked kernel package, after `depmod` made its modules.dep.
Names built into the kernel (modules.builtin) are skipped. Compressed modules are stored
decompressed, so that busybox's modprobe in the VM needs no decompressor.
"""

from __future__ import annotations

import lzma
import os
import shutil
import sys


def _name(path: str) -> str:
    base = os.path.basename(path)
    return base[: base.index(".ko")].replace("-", "_")


def closure(src: str, names: list[str]) -> list[str]:
    deps: dict[str, list[str]] = {}
    paths: dict[str, str] = {}
    with open(os.path.join(src, "modules.dep")) as f:
        for line in f:
            mod, _, rest = line.partition(":")
            paths[_name(mod)] = mod
            deps[mod] = rest.split()
    builtin: set[str] = set()
    if os.path.exists(os.path.join(src, "modules.builtin")):
        with open(os.path.join(src, "modules.builtin")) as f:
            builtin = {_name(line.strip()) for line in f if line.strip()}
    todo, seen = [], set()
    for name in names:
        key = name.replace("-", "_")
        if key in paths:
            todo.append(paths[key])
        elif key not in builtin:
            raise SystemExit(f"modclosure.py: no module {name} in {src}")
    while todo:
        mod = todo.pop()
        if mod not in seen:
            seen.add(mod)
            todo.extend(deps[mod])
    return sorted(seen)


def main(argv: list[str]) -> int:
    src, dest, names = argv[1], argv[2], argv[3:]
    for mod in closure(src, names):
        target = os.path.join(dest, mod)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if mod.endswith(".xz"):
            with lzma.open(os.path.join(src, mod)) as fin, open(target[:-3], "wb") as fout:
                shutil.copyfileobj(fin, fout)
        elif mod.endswith(".zst"):
            raise SystemExit("modclosure.py: zstd-compressed modules are not handled")
        else:
            shutil.copyfile(os.path.join(src, mod), target)
    for extra in ("modules.builtin", "modules.order", "modules.builtin.modinfo"):
        if os.path.exists(os.path.join(src, extra)):
            shutil.copyfile(os.path.join(src, extra), os.path.join(dest, extra))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
