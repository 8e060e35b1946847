"""boot2docker's pieces on their own: profile parsing, shellinit per shell, the accelerator choice and
`download`'s checksum rule (a truncated or altered archive is refused and nothing changes)."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile

import pytest

from boot2docker import image, qemu, shellinit
from boot2docker.profile import ProfileError, load, parse
from boot2docker.qemuvm import start_with_fallback
from lib.boot2docker_fakes import fake_image


def test_profile_lines_quotes_comments_and_spellings():
    values = parse('# comment\n[boot2docker]\nVM = "dev"\nmem = 2048\n  cpus=4\nTLS = off\nSSHPort = 2200\n')
    assert values == {"vm": "dev", "memory": 2048, "cpus": 4, "tls": False, "sshport": 2200}


@pytest.mark.parametrize(
    "line, message",
    [
        ("Memory = lots", "p:1: Memory must be a whole number"),
        ("DockerPort = 70000", "p:1: DockerPort is out of range"),
        ("Colour = blue", "p:1: unknown key 'Colour'"),
        ("TLS = maybe", "p:1: TLS must be true or false"),
        ("Accel = warp", "p:1: Accel must be one of"),
        ("VM = ../x", "p:1: VM must be a plain name"),
        ("just words", "p:1: expected `key = value`"),
    ],
)
def test_bad_profile_lines_name_the_line(line, message):
    with pytest.raises(ProfileError) as e:
        parse(line, "p")
    assert message in str(e.value)


def test_flags_override_the_profile_and_defaults_fill_the_rest(tmp_path):
    path = tmp_path / "profile"
    path.write_text("Memory = 512\nDiskSize = 4000\nImage = ~/img\n")
    p = load({"memory": 2048, "cpus": None}, str(path))
    assert (p.memory, p.disksize, p.cpus, p.dockerport, p.sshport) == (2048, 4000, 1, 4243, 2022)
    assert p.image == os.path.expanduser("~/img")


def test_a_profile_named_by_the_environment_must_exist(tmp_path, monkeypatch):
    monkeypatch.setenv("BOOT2DOCKER_PROFILE", str(tmp_path / "nope"))
    with pytest.raises(ProfileError, match="BOOT2DOCKER_PROFILE names"):
        load()


CERTS = "/Users/a b/.boot2docker/certs"


@pytest.mark.parametrize(
    "shell, expected",
    [
        (
            "sh",
            "export DOCKER_HOST=tcp://127.0.0.1:4243\n"
            "export DOCKER_CERT_PATH='/Users/a b/.boot2docker/certs'\nexport DOCKER_TLS_VERIFY=1\n",
        ),
        (
            "fish",
            "set -gx DOCKER_HOST 'tcp://127.0.0.1:4243';\n"
            "set -gx DOCKER_CERT_PATH '/Users/a b/.boot2docker/certs';\nset -gx DOCKER_TLS_VERIFY '1';\n",
        ),
        (
            "cmd",
            'SET "DOCKER_HOST=tcp://127.0.0.1:4243"\n'
            'SET "DOCKER_CERT_PATH=/Users/a b/.boot2docker/certs"\nSET "DOCKER_TLS_VERIFY=1"\n',
        ),
        (
            "powershell",
            "$Env:DOCKER_HOST = 'tcp://127.0.0.1:4243'\n"
            "$Env:DOCKER_CERT_PATH = '/Users/a b/.boot2docker/certs'\n$Env:DOCKER_TLS_VERIFY = '1'\n",
        ),
    ],
)
def test_shellinit_with_tls(shell, expected):
    values, unset = shellinit.environment(4243, True, CERTS)
    assert shellinit.render(shell, values, unset) == expected


@pytest.mark.parametrize(
    "shell, expected",
    [
        ("sh", "export DOCKER_HOST=tcp://127.0.0.1:4243\nunset DOCKER_TLS_VERIFY\nunset DOCKER_CERT_PATH\n"),
        (
            "fish",
            "set -gx DOCKER_HOST 'tcp://127.0.0.1:4243';\n"
            "set -e DOCKER_TLS_VERIFY;\nset -e DOCKER_CERT_PATH;\n",
        ),
        (
            "cmd",
            'SET "DOCKER_HOST=tcp://127.0.0.1:4243"\nSET "DOCKER_TLS_VERIFY="\nSET "DOCKER_CERT_PATH="\n',
        ),
        (
            "powershell",
            "$Env:DOCKER_HOST = 'tcp://127.0.0.1:4243'\n"
            "Remove-Item Env:DOCKER_TLS_VERIFY -ErrorAction SilentlyContinue\n"
            "Remove-Item Env:DOCKER_CERT_PATH -ErrorAction SilentlyContinue\n",
        ),
    ],
)
def test_shellinit_without_tls_clears_the_tls_variables(shell, expected):
    values, unset = shellinit.environment(4243, False, CERTS)
    assert shellinit.render(shell, values, unset) == expected


def test_shell_detection():
    assert shellinit.detect_shell({"SHELL": "/usr/local/bin/fish"}) == "fish"
    assert shellinit.detect_shell({"SHELL": "/bin/zsh"}) == "sh"
    assert shellinit.detect_shell({"PSModulePath": "C:\\x"}) == "powershell"
    assert shellinit.detect_shell({}) == "cmd"


def test_the_accelerator_per_host(monkeypatch):
    assert qemu.kvm_usable("/nonexistent/kvm") is False
    assert qemu.choose_accel("auto", "darwin") == "hvf"
    assert qemu.choose_accel("auto", "win32") == "whpx"
    monkeypatch.setattr(qemu, "kvm_usable", lambda: True)
    assert qemu.choose_accel("auto", "linux") == "kvm"
    assert qemu.choose_accel("tcg", "linux") == "tcg"
    monkeypatch.setattr(qemu, "kvm_usable", lambda: False)
    assert qemu.choose_accel("auto", "linux") == "tcg"


def test_an_accelerator_that_refuses_the_vm_falls_back_to_tcg_unless_forced(capsys):
    tried = []

    def start(accel):
        tried.append(accel)
        if accel == "kvm":
            raise qemu.QemuError("QEMU could not start the VM: kvm: failed to set MSR 0x10a")

    assert start_with_fallback(start, "kvm", chosen_for_us=True) == "tcg"
    assert tried == ["kvm", "tcg"]
    assert "the kvm accelerator failed" in capsys.readouterr().err
    tried.clear()
    with pytest.raises(qemu.QemuError, match="MSR"):
        start_with_fallback(start, "kvm", chosen_for_us=False)
    assert tried == ["kvm"]


def published(tmp_path) -> tuple[bytes, str]:
    src = fake_image(str(tmp_path / "src"))
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name in ("vmlinuz", "initrd.img", "SHA256SUMS"):
            tar.add(os.path.join(src, name), arcname=name)
        evil = tarfile.TarInfo("../escape")
        evil.size = 1
        tar.addfile(evil, io.BytesIO(b"x"))
    data = buf.getvalue()
    return data, hashlib.sha256(data).hexdigest()


def test_download_installs_an_image_whose_digest_matches(tmp_path):
    data, digest = published(tmp_path)
    (tmp_path / "image.tar").write_bytes(data)
    dest = str(tmp_path / "b2d" / "image")
    image.download((tmp_path / "image.tar").as_uri(), digest, dest)
    assert sorted(os.listdir(dest)) == ["SHA256SUMS", "initrd.img", "vmlinuz"]
    image.verify(dest)
    assert not os.path.exists(tmp_path / "b2d" / "escape")


@pytest.mark.parametrize("damage", ["truncated", "altered"])
def test_download_refuses_a_truncated_or_altered_image_and_keeps_the_old_one(tmp_path, damage):
    data, digest = published(tmp_path)
    bad = data[: len(data) // 2] if damage == "truncated" else data[:-1] + bytes([data[-1] ^ 1])
    (tmp_path / "image.tar").write_bytes(bad)
    dest = fake_image(str(tmp_path / "b2d" / "image"))
    before = {n: open(os.path.join(dest, n), "rb").read() for n in os.listdir(dest)}
    with pytest.raises(image.ImageError, match="is not the image asked for"):
        image.download((tmp_path / "image.tar").as_uri(), digest, dest)
    assert {n: open(os.path.join(dest, n), "rb").read() for n in os.listdir(dest)} == before
    assert os.listdir(tmp_path / "b2d") == ["image"]


def test_download_needs_a_digest(tmp_path):
    with pytest.raises(image.ImageError, match="needs the image's SHA-256"):
        image.download("file:///nonexistent", "", str(tmp_path / "image"))


def test_the_ssh_command_line(tmp_path):
    from boot2docker.ssh import ssh_command

    key = tmp_path / "id_boot2docker"
    base = ["ssh", "-p", "2022", "-o", "StrictHostKeyChecking=no", "-o", f"UserKnownHostsFile={os.devnull}"]
    base += ["-o", "LogLevel=quiet", "-o", "IdentitiesOnly=yes"]
    # Without a key (no ssh-keygen at init): the password, tcuser; a login gets a terminal.
    assert ssh_command(str(key), 2022, []) == [*base, "-t", "docker@127.0.0.1"]
    key.write_text("key")
    assert ssh_command(str(key), 2022, ["uname", "-a"]) == [
        *base,
        "-i",
        str(key),
        "docker@127.0.0.1",
        "uname",
        "-a",
    ]


def test_a_damaged_iso_is_refused(tmp_path):
    path = fake_image(str(tmp_path / "image"), iso=True)
    image.verify(path)
    with open(os.path.join(path, "boot2docker.iso"), "ab") as f:
        f.write(b"!")
    with pytest.raises(image.ImageError, match="boot2docker.iso does not match its SHA-256"):
        image.verify(path)


def _zipapp(path: str, members: dict[str, bytes]) -> str:
    """A zipapp laid out as packaging/zipapp/pack.py makes it: shiv's archive as the member shiv.pyz."""
    import zipfile

    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("__main__.py", b"")
        z.writestr("shiv.pyz", inner.getvalue())
    return path


def _unpack_zipapp():
    import importlib.util

    path = os.path.join(os.path.dirname(__file__), "..", "..", "boot", "unpack_zipapp.py")
    spec = importlib.util.spec_from_file_location("unpack_zipapp", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_image_gets_the_zipapps_libraries_unpacked(tmp_path):
    archive = _zipapp(
        str(tmp_path / "docker.pyz"),
        {
            "site-packages/lxc_docker/main.py": b"MAIN\n",
            "site-packages/lxc_docker/__pycache__/main.cpython-311.pyc": b"stale",
            "site-packages/pyroute2/__init__.py": b"",
            "site-packages/boot2docker/cli.py": b"",
            "site-packages/click/core.py": b"",
            "site-packages/click-8.5.1.dist-info/METADATA": b"",
            "site-packages/bin/boot2docker": b"",
            "_bootstrap/__init__.py": b"",
        },
    )
    dest = tmp_path / "lib"
    assert _unpack_zipapp().unpack(archive, str(dest)) == 2
    assert (dest / "lxc_docker" / "main.py").read_bytes() == b"MAIN\n"
    assert sorted(os.listdir(dest)) == ["lxc_docker", "pyroute2"]
    assert not (dest / "lxc_docker" / "__pycache__").exists()


def test_unpacking_refuses_a_member_outside_the_directory(tmp_path):
    archive = _zipapp(
        str(tmp_path / "docker.pyz"),
        {"site-packages/lxc_docker/main.py": b"", "site-packages/lxc_docker/../../evil.py": b"x"},
    )
    with pytest.raises(SystemExit, match="refusing the member"):
        _unpack_zipapp().unpack(archive, str(tmp_path / "lib"))
    assert not (tmp_path / "evil.py").exists()


def test_a_qmp_socket_too_deep_for_sun_path_goes_to_a_private_directory(tmp_path, monkeypatch):
    monkeypatch.setattr(qemu.tempfile, "gettempdir", lambda: str(tmp_path))
    short = tmp_path / "vm"
    assert qemu.qmp_address(str(short), "linux") == f"unix:{short}/qmp.sock"
    deep = tmp_path / ("d" * 120) / "vms" / "boot2docker-vm"
    address = qemu.qmp_address(str(deep), "linux")
    path = address.removeprefix("unix:")
    assert len(path.encode()) < qemu.UNIX_PATH_MAX
    assert os.path.dirname(path) == str(tmp_path / f"boot2docker-{os.getuid()}")
    assert os.stat(os.path.dirname(path)).st_mode & 0o777 == 0o700
    assert qemu.qmp_address(str(deep), "linux") == address  # the same VM, the same socket
    assert qemu.qmp_address(str(deep) + "2", "linux") != address
    os.chmod(os.path.dirname(path), 0o777)  # a directory others can write into is refused
    with pytest.raises(qemu.QemuError, match="not a private directory"):
        qemu.qmp_address(str(deep), "linux")
