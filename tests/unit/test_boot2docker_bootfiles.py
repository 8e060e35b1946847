"""boot2docker's bootfiles: the kernel ELF taken out of a bzImage (booted through its PVH entry) and the
initramfs gunzipped, once per image, with fallbacks to the image's own files. The images here are
made by the tests (a bzImage header around a compressed ELF); the real Debian kernel is booted this
way by tests/e2e/test_boot_vm.py."""

from __future__ import annotations

import gzip
import hashlib
import lzma
import os
import struct

import pytest

from boot2docker import bootfiles

CPIO = b"070701" + b"0" * 104 + b"TRAILER!!!\0\0"


def elf(notes: list[tuple[bytes, int, bytes]]) -> bytes:
    """A 64-bit little-endian ELF with one PT_LOAD and one PT_NOTE holding NOTES."""
    body = b""
    for name, kind, desc in notes:
        body += struct.pack("<III", len(name), len(desc), kind)
        body += name + b"\0" * (-len(name) % 4) + desc + b"\0" * (-len(desc) % 4)
    phoff, phentsize = 64, 56
    note_at = phoff + 2 * phentsize
    header = b"\x7fELF" + bytes([2, 1, 1]) + b"\0" * 9
    header += struct.pack("<HHIQQQIHHHHHH", 2, 62, 1, 0x1000000, phoff, 0, 0, 64, phentsize, 2, 64, 0, 0)
    load = struct.pack("<IIQQQQQQ", 1, 5, 0, 0x1000000, 0x1000000, note_at, note_at, 0x1000)
    note = struct.pack("<IIQQQQQQ", 4, 4, note_at, 0, 0, len(body), len(body), 4)
    return header + load + note + body + b"kernel text" * 100


PVH_ELF = elf([(b"Xen\0", 18, struct.pack("<I", 0x1000000)), (b"GNU\0", 3, b"\x01" * 20)])


def bzimage(payload: bytes, version: int = 0x20F, setup_sects: int = 1) -> bytes:
    """A bzImage as the boot protocol lays it out: setup sectors (header at 0x1f1), then the
    protected-mode part, whose payload_offset/payload_length name the compressed kernel."""
    setup = bytearray((setup_sects + 1) * 512)
    setup[0x1F1] = setup_sects
    setup[0x202:0x206] = b"HdrS"
    struct.pack_into("<H", setup, 0x206, version)
    decompressor = b"\x90" * 0x300  # stands for the decompression stub before the payload
    struct.pack_into("<II", setup, 0x248, len(decompressor), len(payload))
    return bytes(setup) + decompressor + payload + b"\0\0\0\0"


def make_image(d, vmlinuz: bytes, initrd: bytes) -> str:
    d.mkdir(exist_ok=True)
    (d / "vmlinuz").write_bytes(vmlinuz)
    (d / "initrd.img").write_bytes(initrd)
    sums = "".join(
        f"{hashlib.sha256(b).hexdigest()}  {n}\n" for n, b in (("vmlinuz", vmlinuz), ("initrd.img", initrd))
    )
    (d / "SHA256SUMS").write_text(sums)
    return str(d)


def xz(data: bytes) -> bytes:
    # As the kernel's build does: xz container, CRC32, the x86 BCJ filter before LZMA2.
    filters = [{"id": lzma.FILTER_X86}, {"id": lzma.FILTER_LZMA2, "preset": 6}]
    return lzma.compress(data, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC32, filters=filters)


def test_the_kernel_elf_and_the_plain_cpio_are_booted(tmp_path):
    initrd = gzip.compress(CPIO[:50]) + gzip.compress(CPIO[50:]) + b"\0" * 512  # two members, padding
    img = make_image(tmp_path / "img", bzimage(xz(PVH_ELF)), initrd)
    vm = tmp_path / "vm"
    vm.mkdir()
    kernel, cpio = bootfiles.prepare(img, str(vm))
    assert (kernel, cpio) == (str(vm / "boot" / "vmlinux"), str(vm / "boot" / "initrd.cpio"))
    assert open(kernel, "rb").read() == PVH_ELF
    assert open(cpio, "rb").read() == CPIO
    assert sorted(os.listdir(vm)) == ["boot"]  # no work directory left beside it


@pytest.mark.parametrize(
    "compress",
    [lambda b: gzip.compress(b), lambda b: lzma.compress(b, format=lzma.FORMAT_ALONE)],
    ids=["gzip", "lzma"],
)
def test_other_kernel_compressions_python_can_undo(tmp_path, compress):
    assert bootfiles.kernel_elf(bzimage(compress(PVH_ELF))) == PVH_ELF


def test_made_once_per_image_and_again_when_the_image_changes(tmp_path):
    vm = tmp_path / "vm"
    vm.mkdir()
    img = make_image(tmp_path / "img", bzimage(xz(PVH_ELF)), gzip.compress(CPIO))
    kernel, _ = bootfiles.prepare(img, str(vm))
    first = os.stat(kernel).st_ino
    assert os.stat(bootfiles.prepare(img, str(vm))[0]).st_ino == first  # reused, not made again

    other = PVH_ELF + b"a newer kernel"
    img = make_image(tmp_path / "img", bzimage(xz(other)), gzip.compress(CPIO))
    kernel, _ = bootfiles.prepare(img, str(vm))
    assert open(kernel, "rb").read() == other
    assert sorted(os.listdir(vm)) == ["boot"]


@pytest.mark.parametrize(
    "vmlinuz",
    [
        bzimage(xz(elf([(b"GNU\0", 3, b"\x01" * 20)]))),  # no PVH entry: QEMU could not boot the ELF
        bzimage(b"\x28\xb5\x2f\xfd" + b"zstd frame"),  # zstd: not in Python's standard library
        bzimage(xz(PVH_ELF), version=0x206),  # boot protocol before 2.08 names no payload
        bzimage(xz(PVH_ELF)[:-40]),  # a payload that does not decompress
        b"MZ not a bzImage at all",
    ],
    ids=["no-pvh-note", "zstd", "old-protocol", "broken-payload", "not-bzimage"],
)
def test_a_kernel_that_cannot_be_unpacked_boots_as_it_is(tmp_path, vmlinuz):
    img = make_image(tmp_path / "img", vmlinuz, gzip.compress(CPIO))
    vm = tmp_path / "vm"
    vm.mkdir()
    kernel, cpio = bootfiles.prepare(img, str(vm))
    assert kernel == os.path.join(img, "vmlinuz")
    assert cpio == str(vm / "boot" / "initrd.cpio")


def test_an_initramfs_that_is_not_gzipped_boots_as_it_is(tmp_path):
    img = make_image(tmp_path / "img", bzimage(xz(PVH_ELF)), CPIO)
    vm = tmp_path / "vm"
    vm.mkdir()
    assert bootfiles.prepare(img, str(vm))[1] == os.path.join(img, "initrd.img")


def test_a_truncated_initramfs_is_refused_and_the_old_files_stay(tmp_path):
    vm = tmp_path / "vm"
    vm.mkdir()
    good = make_image(tmp_path / "good", bzimage(xz(PVH_ELF)), gzip.compress(CPIO))
    bootfiles.prepare(good, str(vm))
    bad = make_image(tmp_path / "bad", bzimage(xz(PVH_ELF)), gzip.compress(CPIO + os.urandom(200000))[:-100])
    with pytest.raises(ValueError, match="ends in the middle"):
        bootfiles.prepare(bad, str(vm))
    assert sorted(os.listdir(vm)) == ["boot"]
    assert open(vm / "boot" / "initrd.cpio", "rb").read() == CPIO  # the good image's, whole
