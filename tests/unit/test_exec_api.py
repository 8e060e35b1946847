"""`docker exec` without a kernel: the exec service's rules and the API's shapes, on a fake driver."""

from __future__ import annotations

import os
import socket
import struct

import pytest

from lxc_docker.api.handlers import exec as exec_handlers
from lxc_docker.daemon.container import Container
from lxc_docker.daemon.events import EventBus
from lxc_docker.daemon.execio import parse_detach_keys
from lxc_docker.daemon.execs import ExecService
from lxc_docker.errors import Conflict, InvalidParameter, NotFound
from lxc_docker.execution.base import Command, ContainerStartError

CID = "c" * 64


class FakeDriver:
    """Writes what `script` says to the process's stdout and stderr, then exits with `code`."""

    name = "fake"

    def __init__(self, out: bytes = b"", err: bytes = b"", code: int = 0, fail: Exception | None = None):
        self.out, self.err, self.code, self.fail = out, err, code, fail
        self.calls = []

    def exec(self, command, process, stdio, on_start, on_terminal=None):
        self.calls.append((command, process))
        if self.fail is not None:
            raise self.fail
        if process.tty:  # a terminal, as the native driver makes one in the container
            master, slave = os.openpty()
            on_terminal(master)
            os.write(slave, self.out)
            os.close(slave)
        elif self.out:
            os.write(stdio.stdout, self.out)
        if self.err:
            os.write(stdio.stderr, self.err)
        on_start(4242)
        return self.code


class Containers:
    def __init__(self, c: Container) -> None:
        self.c = c

    def get(self, name: str) -> Container:
        if name not in (self.c.id, "box"):
            raise NotFound(f"No such container: {name}")
        return self.c


def service(driver=None, running=True, env=None, user=""):
    c = Container("/nonexistent", CID)
    c.name = "/box"
    c.config = {"Image": "busybox", "Hostname": "h1", "Env": env or ["FROMC=1", "SHARED=c"], "User": user}
    c.host_config = {"Privileged": False, "CapDrop": ["NET_RAW"]}
    c.command = Command(id=CID, rootfs="/r", entrypoint="sleep", args=["1"], env=[])
    c.state.running = running
    events = EventBus()
    return ExecService(Containers(c), driver or FakeDriver(), events), c, events


def test_detach_keys_notation():
    assert parse_detach_keys("ctrl-p,ctrl-q") == b"\x10\x11"
    assert parse_detach_keys("a,ctrl-[,ctrl-_,ctrl-@") == b"a\x1b\x1f\x00"
    for bad in ("ctrl-1", "ab", "ctrl-", ""):
        with pytest.raises(InvalidParameter, match="Invalid escape keys"):
            parse_detach_keys(bad)


def test_create_rules_and_wording():
    svc, c, _ = service()
    for body, message in (
        ({}, "No exec command specified"),
        ({"Cmd": []}, "No exec command specified"),
        ({"Cmd": [1]}, "Cmd must be a list of strings"),
        ({"Cmd": ["true"], "Env": "A=b"}, "Env must be a list of strings"),
        ({"Cmd": ["true"], "WorkingDir": "tmp"}, "it needs to be an absolute path"),
        ({"Cmd": ["true"], "DetachKeys": "ctrl-1"}, "Invalid escape keys"),
    ):
        with pytest.raises(InvalidParameter, match=message):
            svc.create("box", body)
    assert c.exec_ids == []
    c.state.running = False
    with pytest.raises(Conflict, match=f"^Container {CID} is not running$"):
        svc.create("box", {"Cmd": ["true"]})
    c.state.running = True
    c.state.paused = True  # where pause exists, exec is refused as Docker refuses it
    with pytest.raises(Conflict, match=f"^Container {CID} is paused, unpause the container before exec$"):
        svc.create("box", {"Cmd": ["true"]})


def test_environment_user_and_workdir_of_the_process():
    svc, c, _ = service(user="daemon")
    ec = svc.create("box", {"Cmd": "id", "Env": ["SHARED=e", "NEW=1"], "Tty": True})
    p = ec.process
    assert p.args == ["id"] and p.user == "daemon" and p.workdir == "/" and p.tty
    assert p.env == [
        "HOME=/",
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOSTNAME=h1",
        "container=lxc",
        "TERM=xterm",
        "FROMC=1",
        "SHARED=e",
        "NEW=1",
    ]
    ec = svc.create("box", {"Cmd": ["pwd"], "User": "nobody", "WorkingDir": "/tmp"})
    assert (ec.process.user, ec.process.workdir, ec.process.tty) == ("nobody", "/tmp", False)
    assert "TERM=xterm" not in ec.process.env
    assert c.exec_ids == [ec.id for ec in svc._execs.values()]


def test_inspect_shape_before_and_after_a_detached_run():
    driver = FakeDriver(code=3)
    svc, c, events = service(driver)
    ec = svc.create("box", {"Cmd": ["sh", "-c", "exit 3"], "Privileged": True, "AttachStdout": True})
    doc = exec_handlers.exec_json(ec)
    assert set(doc) == {
        "ID", "Running", "ExitCode", "ProcessConfig", "OpenStdin", "OpenStderr", "OpenStdout",
        "CanRemove", "ContainerID", "DetachKeys", "Pid",
    }  # fmt: skip
    assert doc["ProcessConfig"] == {
        "tty": False,
        "entrypoint": "sh",
        "arguments": ["-c", "exit 3"],
        "privileged": True,
        "user": "",
    }
    assert (doc["Running"], doc["ExitCode"], doc["ContainerID"]) == (False, None, CID)
    svc.begin(ec)
    svc.start_detached(ec)
    assert ec.done.wait(5)
    doc = exec_handlers.exec_json(ec)
    assert (doc["Running"], doc["ExitCode"], doc["Pid"]) == (False, 3, 4242)
    assert c.exec_ids == []  # only running and created instances are listed
    command, process = driver.calls[0]
    assert command.cap_drop == ["NET_RAW"] and process.privileged  # the container's settings, re-read
    with pytest.raises(Conflict, match="has already run"):
        svc.begin(ec)
    actions = [e.action for e in events.history(0)]
    assert actions == ["exec_create: sh -c exit 3", "exec_start: sh -c exit 3", "exec_die"]


def test_unknown_instance():
    svc, _, _ = service()
    with pytest.raises(NotFound, match="^No such exec instance 'nope' found in daemon$"):
        svc.get("nope")
    with pytest.raises(NotFound):
        svc.resize("nope", 24, 80)


def _read_all(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def _attached_output(svc: ExecService, ec, raw: bool = False) -> bytes:
    """What a client attached to the run of `ec` receives."""
    ours, theirs = socket.socketpair()
    with ours, theirs:
        svc.begin(ec)
        svc.run_attached(ec, ours, raw)
        ours.shutdown(socket.SHUT_RDWR)
        return _read_all(theirs)


def _frames(data: bytes) -> list[tuple[int, bytes]]:
    out = []
    while data:
        kind, size = struct.unpack(">BxxxL", data[:8])
        out.append((kind, data[8 : 8 + size]))
        data = data[8 + size :]
    return out


def test_attached_run_frames_stdout_and_stderr():
    svc, _, _ = service(FakeDriver(out=b"out\n", err=b"err\n", code=0))
    ec = svc.create("box", {"Cmd": ["x"], "AttachStdout": True, "AttachStderr": True})
    frames = _frames(_attached_output(svc, ec))
    assert sorted(frames) == [(1, b"out\n"), (2, b"err\n")]
    assert ec.exit_code == 0


def test_a_program_that_never_ran_reports_down_the_stream():
    failure = ContainerStartError('exec: "nope": executable file not found in $PATH', 127)
    svc, c, _ = service(FakeDriver(fail=failure))
    ec = svc.create("box", {"Cmd": ["nope"], "AttachStdout": True})
    frames = _frames(_attached_output(svc, ec))
    message = b'oci runtime error: exec: "nope": executable file not found in $PATH\n'
    assert frames == [(1, message)]
    assert (ec.exit_code, ec.running, c.exec_ids) == (126, False, [])


def test_the_starts_tty_flag_decides_the_framing():
    svc, _, _ = service(FakeDriver(out=b"on a tty\n"))
    ec = svc.create("box", {"Cmd": ["x"], "Tty": True, "AttachStdout": True})
    # The SDK's exec_start(id) of a tty instance asks for no tty: Docker frames the output then.
    assert _frames(_attached_output(svc, ec, raw=False)) == [(1, b"on a tty\r\n")]
    ec = svc.create("box", {"Cmd": ["x"], "Tty": True, "AttachStdout": True})
    assert _attached_output(svc, ec, raw=True) == b"on a tty\r\n"


def test_body_keys_match_without_regard_to_case():
    # Go's JSON decoder ignores case; the SDK sends `detachKeys` from the client's config file.
    svc, _, _ = service()
    ec = svc.create("box", {"cmd": ["cat"], "detachKeys": "ctrl-p", "tty": True, "attachstdin": True})
    assert (ec.process.args, ec.detach_keys, ec.process.tty, ec.open_stdin) == (["cat"], b"\x10", True, True)
