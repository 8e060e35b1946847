"""The VM image: a directory with vmlinuz, initrd.img and SHA256SUMS (what boot/build-image.sh
writes), checked before every boot; and `download`, which fetches a published image archive (a tar
of that directory) and unpacks it only after its SHA-256 matched the one the user gave."""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import tempfile
import urllib.request

FILES = ("vmlinuz", "initrd.img")
MEMBERS = ("vmlinuz", "initrd.img", "SHA256SUMS", "image.json", "boot2docker.iso")
CHUNK = 1 << 20


class ImageError(Exception):
    pass


def sha256_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def listed_sums(image_dir: str) -> dict[str, str]:
    """{file name: SHA-256} from IMAGE_DIR/SHA256SUMS."""
    sums = os.path.join(image_dir, "SHA256SUMS")
    try:
        with open(sums, encoding="ascii") as f:
            listed = dict(reversed(line.split(None, 1)) for line in f.read().splitlines() if line.strip())
    except (OSError, ValueError) as e:
        raise ImageError(f"{sums} is missing or unreadable: {e}") from None
    return {name.strip().lstrip("*"): digest for name, digest in listed.items()}


def verify(image_dir: str) -> None:
    """ImageError unless IMAGE_DIR has the kernel and initramfs and they match its SHA256SUMS."""
    sums = os.path.join(image_dir, "SHA256SUMS")
    if not os.path.isdir(image_dir):
        raise ImageError(
            f"no VM image at {image_dir}: build one (boot/build-image.sh DIR, then init --image DIR) "
            "or fetch one (boot2docker download)"
        )
    listed = listed_sums(image_dir)
    for name in FILES:
        path = os.path.join(image_dir, name)
        if name not in listed:
            raise ImageError(f"{sums} does not list {name}")
        if not os.path.isfile(path):
            raise ImageError(f"the image at {image_dir} has no {name}")
        if sha256_file(path) != listed[name]:
            raise ImageError(f"{path} does not match its SHA-256 in {sums}: the image is damaged")
    iso = os.path.join(image_dir, "boot2docker.iso")
    if os.path.exists(iso) and listed.get("boot2docker.iso") != sha256_file(iso):
        raise ImageError(f"{iso} does not match its SHA-256 in {sums}: the image is damaged")


def download(url: str, sha256: str, dest: str, progress=None) -> str:
    """Fetches URL into DEST (replacing what is there) once its SHA-256 is SHA256. Returns DEST.
    A short, long or altered archive is refused and DEST is left as it was."""
    sha256 = sha256.strip().lower()
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise ImageError("download needs the image's SHA-256 (64 hex digits): --sha256 or ImageSHA256")
    parent = os.path.dirname(os.path.abspath(dest))
    os.makedirs(parent, exist_ok=True)
    work = tempfile.mkdtemp(prefix=".image-", dir=parent)
    try:
        archive = os.path.join(work, "image.tar")
        digest = hashlib.sha256()
        got = 0
        try:
            with urllib.request.urlopen(url, timeout=60) as response, open(archive, "wb") as out:
                expected = response.headers.get("Content-Length")
                for chunk in iter(lambda: response.read(CHUNK), b""):
                    digest.update(chunk)
                    out.write(chunk)
                    got += len(chunk)
                    if progress:
                        progress(got, int(expected) if expected else None)
        except (OSError, ValueError) as e:
            raise ImageError(f"could not fetch {url}: {e}") from None
        if digest.hexdigest() != sha256:
            raise ImageError(
                f"{url} is not the image asked for: its SHA-256 is {digest.hexdigest()}, expected {sha256} "
                f"({got} bytes read; a truncated or altered download). Nothing was changed."
            )
        unpacked = os.path.join(work, "image")
        os.mkdir(unpacked)
        _unpack(archive, unpacked)
        verify(unpacked)
        if os.path.exists(dest):
            old = os.path.join(work, "old")
            os.rename(dest, old)
        os.rename(unpacked, dest)
        return dest
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _unpack(archive: str, into: str) -> None:
    # Only the image's own regular files, by name: nothing in the archive picks a path.
    try:
        with tarfile.open(archive) as tar:
            for member in tar.getmembers():
                name = member.name.removeprefix("./")
                if name not in MEMBERS or not member.isfile():
                    continue
                source = tar.extractfile(member)
                if source is None:
                    continue
                with source, open(os.path.join(into, name), "wb") as out:
                    shutil.copyfileobj(source, out)
    except (tarfile.TarError, OSError) as e:
        raise ImageError(f"the downloaded image is not a readable tar archive: {e}") from None
