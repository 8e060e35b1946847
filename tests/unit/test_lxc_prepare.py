"""The lxc driver's host-side preparation of PID 1: user, program lookup, working directory, mount
targets, in a root filesystem that is a plain directory (no root needed)."""

from __future__ import annotations

import os

import pytest

from lxc_docker.execution.base import Command, ContainerStartError, Mount
from lxc_docker.execution.lxc.prepare import prepare

ELF = b"\x7fELF" + b"\0" * 60


@pytest.fixture
def rootfs(tmp_path):
    root = tmp_path / "rootfs"
    for d in ("bin", "etc", "tmp"):
        (root / d).mkdir(parents=True)
    (root / "etc" / "passwd").write_text("root:x:0:0::/:/bin/sh\nnobody:x:65534:65534::/:/bin/sh\n")
    (root / "etc" / "group").write_text("root:x:0:\nnogroup:x:65534:\nextra:x:1234:nobody\n")
    for name, data, mode in (("sh", ELF, 0o755), ("plain", b"hello\n", 0o755), ("data", ELF, 0o644)):
        (root / "bin" / name).write_bytes(data)
        os.chmod(root / "bin" / name, mode)
    (root / "bin" / "script").write_text("#!/no/such/interpreter\n")
    os.chmod(root / "bin" / "script", 0o755)
    (root / "bin" / "good-script").write_text("#!/bin/sh\n")
    os.chmod(root / "bin" / "good-script", 0o755)
    # An image's absolute symlink: followed inside the root, never to the host's /etc.
    os.symlink("/etc", root / "link")
    return str(root)


def command(rootfs: str, entrypoint: str = "sh", **kw) -> Command:
    return Command(id="c" * 64, rootfs=rootfs, entrypoint=entrypoint, args=[], env=["PATH=/bin"], **kw)


def failure(cmd: Command) -> ContainerStartError:
    with pytest.raises(ContainerStartError) as info:
        prepare(cmd)
    return info.value


def test_user_groups_and_workdir(rootfs):
    init = prepare(command(rootfs, user="nobody", workdir="/made/here"))
    assert (init.uid, init.gid, init.groups, init.cwd) == (65534, 65534, [1234], "/made/here")
    assert os.path.isdir(os.path.join(rootfs, "made", "here"))
    assert prepare(command(rootfs, user="1000:1000")).uid == 1000


def test_unknown_user(rootfs):
    error = failure(command(rootfs, user="carol"))
    assert (
        error.exit_code == 1 and str(error) == "Unable to find user carol: no matching entries in passwd file"
    )


@pytest.mark.parametrize(
    ("entrypoint", "code", "message"),
    [
        ("nosuchcmd", 127, 'exec: "nosuchcmd": executable file not found in $PATH'),
        ("/no/such", 127, 'exec: "/no/such": stat /no/such: no such file or directory'),
        ("/bin/data", 126, 'exec: "/bin/data": permission denied'),
        ("/etc", 126, 'exec: "/etc": permission denied'),
        ("script", 127, 'exec: "script": no such file or directory'),
        ("/bin/plain", 126, 'exec: "/bin/plain": exec format error'),
    ],
)
def test_start_failures_have_the_native_wording(rootfs, entrypoint, code, message):
    error = failure(command(rootfs, entrypoint))
    assert (error.exit_code, str(error)) == (code, message)


def test_programs_that_start(rootfs):
    for entrypoint in ("sh", "/bin/sh", "good-script", "./bin/sh"):
        prepare(command(rootfs, entrypoint))


def test_mount_targets_are_made_and_resolved_in_the_root(rootfs, tmp_path):
    volume = tmp_path / "vol"
    volume.mkdir()
    hosts = tmp_path / "hosts"
    hosts.write_text("")
    init = prepare(
        command(rootfs, mounts=[Mount(str(volume), "/data", False), Mount(str(hosts), "/link/hosts")])
    )
    assert init.mounts == [(str(volume), "data", False, True), (str(hosts), "etc/hosts", True, False)]
    assert os.path.isdir(os.path.join(rootfs, "data")) and os.path.isfile(
        os.path.join(rootfs, "etc", "hosts")
    )


def test_missing_volume_source_names_the_containers_path(rootfs, tmp_path):
    error = failure(command(rootfs, mounts=[Mount(str(tmp_path / "missing"), "/data")]))
    assert error.exit_code == 1 and str(error) == "mounting /data: No such file or directory"
