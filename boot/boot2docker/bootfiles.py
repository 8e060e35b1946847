"""What QEMU boots: the image's kernel and initramfs, unpacked once on the host.

Debian's vmlinuz is a bzImage that decompresses itself (xz) before the kernel's clock starts, and
initrd.img is gzip'd, which the kernel undoes before /init. Under tcg the guest spends ~3 s of every
boot on the first and ~1 s on the second; the host does both in about a second, once per image. So
`up` boots the kernel ELF inside the bzImage directly, through its PVH entry point (QEMU 4.0 and
later load such an ELF with their pvh.bin option ROM, under any accelerator), and the plain cpio
archive. Both live in VM_DIR/boot with the SHA-256s of the image files they came from (the image is
verified before this runs), and are made again when those change. A kernel without a PVH entry, or
compressed in a way Python's standard library cannot undo (zstd, lz4, lzo), boots as it is; so does
an initramfs that is not gzip'd. VirtualBox boots the ISO and never uses these.
"""

from __future__ import annotations

import bz2
import json
import lzma
import os
import shutil
import struct
import tempfile
import zlib

from . import image

CHUNK = 1 << 20
PT_NOTE = 4
XEN_ELFNOTE_PHYS32_ENTRY = 18  # the note that marks the PVH entry point


def prepare(image_dir: str, vm_dir: str) -> tuple[str, str]:
    """(kernel, initrd) for QEMU's -kernel and -initrd: the unpacked files under VM_DIR/boot when
    they can be made, else the image's own."""
    listed = image.listed_sums(image_dir)
    source = {name: listed[name] for name in image.FILES}
    boot = os.path.join(vm_dir, "boot")
    made = _read_stamp(boot)
    if made is None or made.get("source") != source:
        made = _unpack(image_dir, vm_dir, source)
    kernel = os.path.join(boot, made["kernel"]) if made.get("kernel") else os.path.join(image_dir, "vmlinuz")
    initrd = (
        os.path.join(boot, made["initrd"]) if made.get("initrd") else os.path.join(image_dir, "initrd.img")
    )
    return kernel, initrd


def _read_stamp(boot: str) -> dict | None:
    try:
        with open(os.path.join(boot, "source.json"), encoding="utf-8") as f:
            made = json.load(f)
    except (OSError, ValueError):
        return None
    if not isinstance(made, dict):
        return None
    for name in (made.get("kernel"), made.get("initrd")):
        if name and not os.path.isfile(os.path.join(boot, name)):
            return None
    return made


def _unpack(image_dir: str, vm_dir: str, source: dict[str, str]) -> dict:
    """Makes VM_DIR/boot afresh: in a directory beside it, renamed into place when complete, so a
    crash or a full disk leaves the old one or none, never half of one."""
    work = tempfile.mkdtemp(prefix=".boot-", dir=vm_dir)
    try:
        made: dict = {"source": source, "kernel": None, "initrd": None}
        with open(os.path.join(image_dir, "vmlinuz"), "rb") as f:
            elf = kernel_elf(f.read())
        if elf is not None:
            _write(os.path.join(work, "vmlinux"), [elf])
            made["kernel"] = "vmlinux"
        with open(os.path.join(image_dir, "initrd.img"), "rb") as f:
            if f.read(2) == b"\x1f\x8b":
                f.seek(0)
                _write(os.path.join(work, "initrd.cpio"), gunzip(f))
                made["initrd"] = "initrd.cpio"
        _write(os.path.join(work, "source.json"), [json.dumps(made).encode()])
        boot = os.path.join(vm_dir, "boot")
        old = boot + ".old"
        shutil.rmtree(old, ignore_errors=True)
        if os.path.exists(boot):
            os.rename(boot, old)
        os.rename(work, boot)
        shutil.rmtree(old, ignore_errors=True)
        return made
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise


def _write(path: str, chunks) -> None:
    with open(path, "wb") as f:
        for chunk in chunks:
            f.write(chunk)
        f.flush()
        os.fsync(f.fileno())


def gunzip(f):
    """The bytes of the gzip stream read from F, member after member (an initramfs may be several
    gzip'd cpio archives one after the other, zero padding allowed between them)."""
    unz = zlib.decompressobj(wbits=31)
    fed = False  # whether the current member has had any input
    for data in iter(lambda: f.read(CHUNK), b""):
        while data:
            if not fed:
                data = data.lstrip(b"\0")
                if not data:
                    break
            fed = True
            out = unz.decompress(data)
            if out:
                yield out
            if not unz.eof:
                break
            data, unz, fed = unz.unused_data, zlib.decompressobj(wbits=31), False
    if fed and not unz.eof:
        raise ValueError("the gzip stream ends in the middle of a member")


def kernel_elf(bzimage: bytes) -> bytes | None:
    """The kernel ELF inside a bzImage (boot protocol 2.08 and later name where its compressed
    payload is), if it can be decompressed here and has a PVH entry point; else None."""
    if len(bzimage) < 0x250 or bzimage[0x202:0x206] != b"HdrS":
        return None
    (version,) = struct.unpack_from("<H", bzimage, 0x206)
    if version < 0x208:
        return None
    setup_sects = bzimage[0x1F1] or 4
    offset, length = struct.unpack_from("<II", bzimage, 0x248)
    start = (setup_sects + 1) * 512 + offset
    payload = bzimage[start : start + length]
    try:
        elf = _decompress(payload)
    except (lzma.LZMAError, zlib.error, OSError, EOFError, ValueError):
        return None
    if elf is None or not has_pvh_entry(elf):
        return None
    return elf


def _decompress(payload: bytes) -> bytes | None:
    """The whole decompressed payload; None for a format the standard library lacks (zstd, lz4,
    lzo) or a stream that ends early."""
    if payload.startswith(b"\xfd7zXZ\x00"):
        unpacker = lzma.LZMADecompressor(lzma.FORMAT_XZ)
    elif payload.startswith(b"\x1f\x8b"):
        unpacker = zlib.decompressobj(wbits=31)
    elif payload.startswith(b"\x5d\x00\x00"):
        unpacker = lzma.LZMADecompressor(lzma.FORMAT_ALONE)
    elif payload.startswith(b"BZh"):
        unpacker = bz2.BZ2Decompressor()
    else:
        return None
    data = unpacker.decompress(payload)
    return data if unpacker.eof else None


def has_pvh_entry(elf: bytes) -> bool:
    """True if ELF (64-bit, little-endian) has the Xen note XEN_ELFNOTE_PHYS32_ENTRY that QEMU's
    PVH loader looks for."""
    if len(elf) < 64 or elf[:4] != b"\x7fELF" or elf[4] != 2 or elf[5] != 1:
        return False
    (phoff,) = struct.unpack_from("<Q", elf, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", elf, 0x36)
    for i in range(phnum):
        at = phoff + i * phentsize
        if at + 56 > len(elf):
            return False
        (p_type,) = struct.unpack_from("<I", elf, at)
        if p_type != PT_NOTE:
            continue
        (p_offset,) = struct.unpack_from("<Q", elf, at + 8)
        (p_filesz,) = struct.unpack_from("<Q", elf, at + 32)
        if _notes_have(elf[p_offset : p_offset + p_filesz], b"Xen\0", XEN_ELFNOTE_PHYS32_ENTRY):
            return True
    return False


def _notes_have(notes: bytes, name: bytes, kind: int) -> bool:
    at = 0
    while at + 12 <= len(notes):
        namesz, descsz, note_type = struct.unpack_from("<III", notes, at)
        at += 12
        note_name = notes[at : at + namesz]
        at += (namesz + 3) & ~3
        at += (descsz + 3) & ~3
        if note_name == name and note_type == kind:
            return True
    return False
