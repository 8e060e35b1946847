"""Tests of the execution driver's data types, the driver factory and the capability whitelist."""

from __future__ import annotations

import json
import marshal

import pytest

from lxc_docker.errors import DockerError, DriverNotSupported
from lxc_docker.execution.base import Command, ContainerStartError, Mount, Network, Resources
from lxc_docker.execution.native import capabilities
from lxc_docker.execution.select import new_driver


def _command() -> Command:
    return Command(
        id="c" * 64,
        rootfs="/var/lib/docker/overlay/x/merged",
        entrypoint="sh",
        args=["-c", "echo hi"],
        env=["HOME=/", "PATH=/bin"],
        user="nobody",
        workdir="/tmp",
        hostname="box",
        tty=True,
        network=Network(interface="veth1", address="172.17.0.2/16", gateway="172.17.42.1"),
        resources=Resources(memory=1 << 25, cpu_shares=512),
        mounts=[Mount("/h/hosts", "/etc/hosts"), Mount("/data", "/data", writable=False)],
    )


def test_command_round_trips_through_json():
    command = _command()
    text = command.to_json()
    assert json.loads(text)["resources"]["memory"] == 1 << 25
    assert Command.from_json(text) == command


def test_command_round_trips_through_marshal_as_the_init_receives_it():
    command = _command()
    assert Command.from_dict(marshal.loads(marshal.dumps(command.to_dict()))) == command


def test_command_defaults_and_unknown_keys():
    doc = {"id": "x", "rootfs": "/r", "entrypoint": "true", "args": [], "env": [], "future_field": 1}
    command = Command.from_dict(doc)
    assert command.network is None
    assert command.resources == Resources()
    assert command.mounts == []
    assert command.cgroup_parent == "docker"


def test_start_error_carries_the_exit_code():
    error = ContainerStartError('exec: "x": executable file not found in $PATH', 127)
    assert isinstance(error, DockerError)
    assert error.exit_code == 127
    assert str(error) == 'exec: "x": executable file not found in $PATH'


def test_unknown_exec_driver():
    with pytest.raises(DriverNotSupported):
        new_driver("no-such-driver")


def test_kept_capabilities_are_todays_dockers():
    assert set(capabilities.KEPT) == {
        "CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID", "SETUID", "SETFCAP",
        "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE",
    }  # fmt: skip
    # The CapBnd of `docker run busybox grep Cap /proc/self/status` under Docker 20.10.
    assert capabilities.KEPT_MASK == 0xA80425FB
    for name in ("SYSLOG", "SYS_PTRACE", "LINUX_IMMUTABLE", "SYS_BOOT", "DAC_READ_SEARCH", "SYS_ADMIN"):
        assert name not in capabilities.KEPT
