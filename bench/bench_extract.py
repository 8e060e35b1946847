"""Time layer extraction: GNU `tar -x` against lxc_docker.archive.extract.extract on the same archive.

Usage: python3 bench/bench_extract.py [WORKDIR] [--gzip] [--runs N]

Generates once (cached under /tmp) a ~200 MB rootfs-like tar of ~10,000 entries: many small files,
some large ones, nested directories, symlinks and hard links. Then, alternating the two, extracts it
N times (default 3) into fresh directories under WORKDIR (default /var/tmp: same disk for both) and
prints the median of each and their ratio. The page cache is flushed (sync) before each run, so one
run's writeback does not land in the next one's time; extracted trees are deleted only at the end.

Expect noise on a shared VM: ext4 without a journal (these VMs' root filesystem) makes creating
files several times slower for ~30 s after many files were deleted anywhere on the disk, by us or
by anybody else; both extractors suffer it alike, the ratio is what to look at. Leave 30 s between
two invocations.
"""

from __future__ import annotations

import io
import os
import random
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "app"))

from lxc_docker.archive.extract import extract  # noqa: E402

CACHE = "/tmp/lxc-docker-bench-rootfs.tar"
SEED = 9


def _generate(path: str) -> None:
    rng = random.Random(SEED)
    blob = rng.randbytes(16 << 20)  # file contents are slices of this: fast to make, incompressible
    # The tree first, then written depth-first in name order, as `tar -c` and Docker write layers.
    children: dict[str, list[tuple[str, str]]] = {"": []}
    dirs = [""]
    for i in range(1000):
        parent = rng.choice(dirs[-100:] if rng.random() < 0.7 else dirs)
        if parent.count("/") >= 6:
            parent = ""
        name = f"{parent}/d{i}".lstrip("/")
        children[parent].append((name, "dir"))
        children[name] = []
        dirs.append(name)
    for i in range(8800):
        children[rng.choice(dirs)].append((f"f{i}.so", "small"))
    for i in range(30):
        children[rng.choice(dirs)].append((f"big{i}.bin", "big"))
    for i in range(500):
        children[rng.choice(dirs)].append((f"link{i}", "symlink"))
    for i in range(100):
        children[rng.choice(dirs)].append((f"hard{i}", "hardlink"))
    files: list[str] = []
    mtime = 1_700_000_000
    with tarfile.open(path + ".part", "w", format=tarfile.PAX_FORMAT) as tar:

        def add(name: str, kind: bytes, size: int = 0, mode: int = 0o644, link: str = "") -> None:
            info = tarfile.TarInfo(name)
            info.type, info.size, info.mode, info.mtime, info.linkname = kind, size, mode, mtime, link
            data = None
            if size:
                start = rng.randrange(0, len(blob) - size) if size < len(blob) else 0
                chunk = blob[start : start + size]
                data = io.BytesIO(chunk * (size // len(chunk)) + chunk[: size % len(chunk)])
            tar.addfile(info, data)

        def walk(directory: str) -> None:
            for entry, kind in sorted(children[directory]):
                name = entry if kind == "dir" else f"{directory}/{entry}".lstrip("/")
                if kind == "dir":
                    add(name, tarfile.DIRTYPE, mode=0o755)
                    walk(name)
                elif kind == "small":
                    size = int(10 ** rng.uniform(2, 4.7))  # 100 B to 50 KB, log-uniform
                    add(name, tarfile.REGTYPE, size, 0o755 if rng.random() < 0.2 else 0o644)
                    files.append(name)
                elif kind == "big":
                    add(name, tarfile.REGTYPE, rng.randrange(1 << 20, 6 << 20))
                    files.append(name)
                elif kind == "symlink":
                    add(name, tarfile.SYMTYPE, link="/" + (rng.choice(files) if files else "etc"))
                elif files:
                    add(name, tarfile.LNKTYPE, link=rng.choice(files))

        walk("")
    os.rename(path + ".part", path)


def _gzip(path: str) -> str:
    gz = path + ".gz"
    if not os.path.exists(gz):
        subprocess.run(f"gzip -1 -c {path} > {gz}.part && mv {gz}.part {gz}", shell=True, check=True)
    return gz


def _time_tar(archive: str, dest: str) -> float:
    start = time.perf_counter()
    subprocess.run(["tar", "-x", "-f", archive, "-C", dest], check=True)
    return time.perf_counter() - start


def _time_extract(archive: str, dest: str) -> float:
    start = time.perf_counter()
    with open(archive, "rb") as stream:
        extract(stream, dest)
    return time.perf_counter() - start


def main(argv: list[str]) -> None:
    args = [a for a in argv if not a.startswith("--")]
    runs = 3
    if "--runs" in argv:
        runs = int(argv[argv.index("--runs") + 1])
        args.remove(str(runs))
    workdir = args[0] if args else "/var/tmp"
    if not os.path.exists(CACHE):
        print(f"generating {CACHE} ...", flush=True)
        _generate(CACHE)
    archive = _gzip(CACHE) if "--gzip" in argv else CACHE
    with tarfile.open(CACHE) as tar:
        members = tar.getmembers()
    content = sum(m.size for m in members if m.isreg())
    print(
        f"archive: {archive} ({os.path.getsize(archive) / 1e6:.0f} MB, {len(members)} entries, "
        f"{content / 1e6:.0f} MB of file content)"
    )
    times: dict[str, list[float]] = {"tar": [], "extract": []}
    base = tempfile.mkdtemp(prefix="bench-extract-", dir=workdir)
    try:
        for i in range(runs):
            for name, fn in (("tar", _time_tar), ("extract", _time_extract)):
                dest = os.path.join(base, f"{name}-{i}")
                os.mkdir(dest)
                os.sync()
                times[name].append(fn(archive, dest))
    finally:
        # Deleting only at the end: on ext4 mounted with `discard` (these VMs), freshly freed
        # blocks are discarded synchronously and stall the next run's writes for seconds.
        shutil.rmtree(base, ignore_errors=True)
    tar_s, ext_s = (statistics.median(times[k]) for k in ("tar", "extract"))
    print(f"command: {sys.executable} {' '.join([__file__, *argv])}")
    print(f"GNU tar -x : median {tar_s:.3f} s  runs {' '.join(f'{t:.3f}' for t in times['tar'])}")
    print(f"extract()  : median {ext_s:.3f} s  runs {' '.join(f'{t:.3f}' for t in times['extract'])}")
    print(f"ratio extract/tar: {ext_s / tar_s:.2f}")


if __name__ == "__main__":
    main(sys.argv[1:])
