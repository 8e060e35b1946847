"""`docker exec` through our CLI, the docker CLI 28, the docker SDK for Python 7 and raw HTTP: the
process joins the running container (namespaces, cgroups, credentials) and its exit code is kept."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time

import pytest

from lib.poll import poll
from lib.require import require, require_module
from lib.unixhttp import api

DOCKER_CLI = "/usr/local/bin/docker"


@pytest.fixture(scope="module")
def box(daemon):
    """A running container the tests exec into."""
    env = ["-e", "FROMC=c1", "-e", "SHARED=container"]
    cid = daemon.out("run", "-d", *env, "busybox", "sleep", "100000").strip()
    yield cid
    daemon.cli("rm", "-f", cid)


@pytest.fixture
def real_cli(daemon):
    require(shutil.which(DOCKER_CLI), "the docker CLI 28 is not installed at /usr/local/bin/docker")

    def run(*args: str, input: bytes | None = None) -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
        env.update({"DOCKER_HOST": daemon.host, "DOCKER_CONFIG": "/tmp/lxc-docker-test-cli-config"})
        return subprocess.run([DOCKER_CLI, *args], input=input, capture_output=True, env=env, timeout=120)

    return run


@pytest.fixture
def sdk(daemon):
    docker = require_module("docker", "pip install docker; scripts/setup-dev.sh installs it")
    client = docker.DockerClient(base_url=daemon.host, version="auto", timeout=60)
    yield client
    client.close()


def exec_json(daemon, exec_id: str) -> dict:
    status, body = api(daemon, "GET", f"/v1.24/exec/{exec_id}/json")
    assert status == 200, body
    return json.loads(body)


def finished(daemon, exec_id: str) -> dict:
    """The exec's inspect JSON once it has exited."""

    def done() -> dict | None:
        doc = exec_json(daemon, exec_id)
        return doc if not doc["Running"] and doc["ExitCode"] is not None else None

    return poll(done, what=f"exec {exec_id[:12]} to exit")


def kill_listed(top: str, command: str) -> None:
    """Kill (from the host) the process `docker top` lists with `command`."""
    pid = next(int(line.split()[1]) for line in top.splitlines() if line.endswith(command))
    os.kill(pid, 9)


# -- our CLI ---------------------------------------------------------------------------------------


def test_exit_code_and_separate_streams(daemon, box):
    r = daemon.cli("exec", box, "sh", "-c", "echo out; echo err >&2; exit 3")
    assert (r.returncode, r.stdout, r.stderr) == (3, b"out\n", b"err\n")
    assert daemon.cli("exec", box, "true").returncode == 0


def test_stdin_with_interactive(daemon, box):
    r = daemon.cli("exec", "-i", box, "sh", "-c", "tr a-z A-Z; echo done", input=b"hello\nworld\n")
    assert (r.returncode, r.stdout) == (0, b"HELLO\nWORLD\ndone\n")
    # Without -i the process reads end-of-file at once.
    assert daemon.cli("exec", box, "cat", input=b"ignored").stdout == b""


def test_tty_is_the_containers_own_terminal(daemon, box):
    r = daemon.cli("exec", "-t", box, "sh", "-c", "tty; test -t 0 && echo yes; echo $TERM")
    assert r.returncode == 0
    lines = r.stdout.decode().replace("\r", "").splitlines()
    assert lines[0].startswith("/dev/pts/") and lines[1:] == ["yes", "xterm"]
    assert daemon.cli("exec", box, "sh", "-c", "test -t 0").returncode == 1


def test_env_user_and_working_dir(daemon, box):
    r = daemon.cli(
        "exec", "-u", "nobody", "-w", "/tmp", "-e", "SHARED=exec", "-e", "NEW=n1", box,
        "sh", "-c", "id -u; id -g; pwd; echo $FROMC $SHARED $NEW $PATH",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode().splitlines() == [
        "65534",
        "65534",
        "/tmp",
        "c1 exec n1 /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    ]
    assert daemon.out("exec", box, "sh", "-c", "id -u; pwd").splitlines() == ["0", "/"]
    bad = daemon.cli("exec", "-u", "nosuchuser", box, "true")
    assert bad.returncode != 0 and b"Unable to find user nosuchuser" in bad.stdout + bad.stderr


def test_joins_the_containers_namespaces_and_cgroups(daemon, box):
    pid = json.loads(daemon.out("inspect", box))[0]["State"]["Pid"]
    out = daemon.out(
        "exec", box, "sh", "-c",
        "cat /proc/1/cmdline; echo; for n in mnt uts ipc net pid; do readlink /proc/self/ns/$n; done;"
        " hostname; cat /proc/self/cgroup",
    )  # fmt: skip
    lines = out.splitlines()
    assert lines[0] == "sleep\x00100000\x00"  # PID 1 of its pid namespace is the container's command
    for name, link in zip(("mnt", "uts", "ipc", "net", "pid"), lines[1:6], strict=True):
        assert link == os.readlink(f"/proc/{pid}/ns/{name}"), name
    assert lines[6] == box[:12]
    with open(f"/proc/{pid}/cgroup") as f:
        assert sorted(lines[7:]) == sorted(f.read().splitlines())


def test_keeps_least_privilege_and_privileged_gets_all(daemon, box):
    r = daemon.cli("exec", box, "ip", "link", "set", "lo", "mtu", "65536")
    assert r.returncode != 0 and b"not permitted" in r.stderr
    r = daemon.cli("exec", "--privileged", box, "ip", "link", "set", "lo", "mtu", "65536")
    assert r.returncode == 0, r.stderr
    caps = daemon.out("exec", box, "grep", "CapBnd", "/proc/self/status").split()[1]
    with open(f"/proc/{json.loads(daemon.out('inspect', box))[0]['State']['Pid']}/status") as f:
        assert f"CapBnd:\t{caps}" in f.read()  # the container's own bounding set
    seccomp = daemon.out("exec", box, "grep", "Seccomp:", "/proc/self/status").split()[1]
    assert seccomp == "2"  # the container's filter, privileged or not
    assert daemon.out("exec", "--privileged", box, "grep", "Seccomp:", "/proc/self/status").split()[1] == "2"
    nnp = daemon.out("exec", box, "grep", "NoNewPrivs", "/proc/self/status").split()[1]
    assert nnp == "0"


def test_detached_exec_keeps_running(daemon, box):
    assert daemon.cli("exec", "-d", box, "sleep", "4242").stdout == b""
    top = poll(lambda: (lambda out: out if "sleep 4242" in out else "")(daemon.out("top", box)))
    kill_listed(top, "sleep 4242")


def test_missing_and_unexecutable_program(daemon, box):
    r = daemon.cli("exec", box, "nosuchprogram")
    assert r.returncode == 126  # as Docker's exec, for any program that never ran
    assert b'oci runtime error: exec: "nosuchprogram": executable file not found in $PATH' in r.stdout
    r = daemon.cli("exec", box, "/etc/passwd")
    assert r.returncode == 126 and b"permission denied" in r.stdout


def test_refused_on_a_stopped_container(daemon):
    cid = daemon.out("run", "-d", "busybox", "true").strip()
    poll(lambda: not json.loads(daemon.out("inspect", cid))[0]["State"]["Running"], what="the exit")
    r = daemon.cli("exec", cid, "true")
    assert r.returncode != 0 and f"Container {cid} is not running".encode() in r.stderr
    status, body = api(daemon, "POST", f"/v1.24/containers/{cid}/exec", {"Cmd": ["true"]})
    assert status == 409 and json.loads(body)["message"] == f"Container {cid} is not running"
    daemon.cli("rm", cid)


def test_exec_dies_with_its_container(daemon):
    cid = daemon.out("run", "-d", "busybox", "sleep", "100000").strip()
    status, body = api(daemon, "POST", f"/v1.24/containers/{cid}/exec", {"Cmd": ["sleep", "4343"]})
    exec_id = json.loads(body)["Id"]
    assert json.loads(api(daemon, "GET", f"/v1.24/containers/{cid}/json")[1])["ExecIDs"] == [exec_id]
    status, _ = api(daemon, "POST", f"/v1.24/exec/{exec_id}/start", {"Detach": True})
    assert status == 200
    assert exec_json(daemon, exec_id)["Running"] is True
    daemon.out("stop", "-t", "1", cid)
    info = finished(daemon, exec_id)
    assert info["ExitCode"] == 137  # SIGKILL when the pid namespace's init went
    assert json.loads(api(daemon, "GET", f"/v1.24/containers/{cid}/json")[1])["ExecIDs"] is None
    daemon.cli("rm", cid)


def test_same_network_as_the_container(net_daemon):
    cid = net_daemon.out("run", "-d", "busybox", "sleep", "100000").strip()
    try:
        ip = json.loads(net_daemon.out("inspect", cid))[0]["NetworkSettings"]["IPAddress"]
        assert ip and f"inet {ip}/" in net_daemon.out("exec", cid, "ip", "-4", "addr", "show", "eth0")
    finally:
        net_daemon.cli("rm", "-f", cid)


# -- the API as Docker 1.12 serves it ----------------------------------------------------------------


def test_inspect_shape_and_one_start_only(daemon, box):
    body = {"Cmd": ["sh", "-c", "exit 7"], "User": "nobody", "AttachStdout": True, "Tty": False}
    status, answer = api(daemon, "POST", f"/v1.24/containers/{box}/exec", body)
    assert status == 201
    exec_id = json.loads(answer)["Id"]
    before = exec_json(daemon, exec_id)
    assert before == {
        "ID": exec_id,
        "Running": False,
        "ExitCode": None,
        "ProcessConfig": {
            "tty": False,
            "entrypoint": "sh",
            "arguments": ["-c", "exit 7"],
            "privileged": False,
            "user": "nobody",
        },
        "OpenStdin": False,
        "OpenStderr": False,
        "OpenStdout": True,
        "CanRemove": False,
        "ContainerID": box,
        "DetachKeys": "",
        "Pid": 0,
    }
    assert api(daemon, "POST", f"/v1.24/exec/{exec_id}/start", {"Detach": True})[0] == 200
    info = finished(daemon, exec_id)
    assert info["ExitCode"] == 7 and info["Running"] is False and info["Pid"] > 0
    status, answer = api(daemon, "POST", f"/v1.24/exec/{exec_id}/start", {"Detach": True})
    assert status == 409 and "has already run" in json.loads(answer)["message"]
    status, answer = api(daemon, "GET", "/v1.24/exec/nosuchexec/json")
    assert status == 404
    assert json.loads(answer)["message"] == "No such exec instance 'nosuchexec' found in daemon"
    status, answer = api(daemon, "POST", f"/v1.24/containers/{box}/exec", {"Cmd": []})
    assert status == 400 and json.loads(answer)["message"] == "No exec command specified"


def _hijack(daemon, exec_id: str, body: dict) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(30)
    sock.connect(daemon.sock)
    data = json.dumps(body).encode()
    sock.sendall(
        f"POST /v1.24/exec/{exec_id}/start HTTP/1.1\r\nHost: d\r\nContent-Type: application/json\r\n"
        f"Connection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: {len(data)}\r\n\r\n".encode()
        + data
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


def test_tty_detach_keys_leave_the_process_running(daemon, box):
    body = {"Cmd": ["sh"], "Tty": True, "AttachStdin": True, "AttachStdout": True, "DetachKeys": "ctrl-x,x"}
    exec_id = json.loads(api(daemon, "POST", f"/v1.24/containers/{box}/exec", body)[1])["Id"]
    sock = _hijack(daemon, exec_id, {"Detach": False, "Tty": True})
    try:
        sock.sendall(b"echo $((6*7))\r")
        seen = b""
        while b"42" not in seen:
            seen += sock.recv(4096)
        assert api(daemon, "POST", f"/v1.24/exec/{exec_id}/resize?h=40&w=100")[0] == 200
        sock.sendall(b"stty size\r")
        while b"40 100" not in seen:
            seen += sock.recv(4096)
        sock.sendall(b"\x18x")  # the exec's own detach keys
        while sock.recv(4096):
            pass
        info = exec_json(daemon, exec_id)
        assert info["Running"] is True and info["ExitCode"] is None
        os.kill(info["Pid"], 9)
        assert finished(daemon, exec_id)["ExitCode"] == 137
    finally:
        sock.close()


def test_a_resize_before_the_start_sizes_the_terminal(daemon, box):
    body = {"Cmd": ["stty", "size"], "Tty": True, "AttachStdout": True}
    exec_id = json.loads(api(daemon, "POST", f"/v1.24/containers/{box}/exec", body)[1])["Id"]
    assert api(daemon, "POST", f"/v1.24/exec/{exec_id}/resize?h=33&w=77")[0] == 200
    sock = _hijack(daemon, exec_id, {"Detach": False, "Tty": True})
    with sock:
        output = b""
        while chunk := sock.recv(4096):
            output += chunk
    assert output == b"33 77\r\n"
    assert finished(daemon, exec_id)["ExitCode"] == 0


def test_events(daemon, box):
    since = time.time() - 1
    daemon.out("exec", box, "true")
    status, body = api(daemon, "GET", f"/v1.24/events?since={since:.3f}&until={time.time() + 1:.3f}")
    actions = [json.loads(line)["Action"] for line in body.decode().splitlines() if line.strip()]
    assert "exec_create: true" in actions and "exec_start: true" in actions


# -- the docker CLI 28 -----------------------------------------------------------------------------


def test_docker_cli_28(real_cli, box):
    r = real_cli("exec", box, "sh", "-c", "echo out; echo err >&2; exit 5")
    assert (r.returncode, r.stdout, r.stderr) == (5, b"out\n", b"err\n")
    r = real_cli("exec", "-i", box, "cat", input=b"piped\n")
    assert (r.returncode, r.stdout) == (0, b"piped\n")
    r = real_cli("exec", "-t", box, "sh", "-c", "test -t 0 && tty")
    assert r.returncode == 0 and r.stdout.startswith(b"/dev/pts/")
    assert real_cli("exec", "-u", "nobody", box, "id", "-u").stdout == b"65534\n"
    assert real_cli("exec", "-d", box, "sleep", "4444").returncode == 0
    top = poll(lambda: (lambda out: out if "sleep 4444" in out else "")(real_cli("top", box).stdout.decode()))
    kill_listed(top, "sleep 4444")
    r = real_cli("exec", box, "nosuchprogram")
    assert r.returncode == 126 and b"executable file not found" in r.stdout + r.stderr


# -- the docker SDK for Python 7 -------------------------------------------------------------------


def test_docker_sdk_exec_run(sdk, box):
    container = sdk.containers.get(box)
    assert tuple(container.exec_run("sh -c 'echo out; echo err >&2; exit 4'")) == (4, b"out\nerr\n")
    result = container.exec_run("sh -c 'echo out; echo err >&2'", demux=True)
    assert (result.exit_code, result.output) == (0, (b"out\n", b"err\n"))
    code, output = container.exec_run("tty", tty=True)
    assert code == 0 and output.startswith(b"/dev/pts/")
    assert container.exec_run("id -u", user="nobody").output == b"65534\n"
    stream = container.exec_run("sh -c 'for i in 1 2 3; do echo $i; done'", stream=True)
    assert b"".join(stream.output) == b"1\n2\n3\n"
    low = sdk.api
    exec_id = low.exec_create(box, ["sh", "-c", "exit 9"], privileged=True)["Id"]
    assert low.exec_start(exec_id, detach=True) in (b"", "")
    info = poll(lambda: (lambda doc: doc if doc["ExitCode"] is not None else None)(low.exec_inspect(exec_id)))
    assert info["ExitCode"] == 9 and info["ProcessConfig"]["privileged"] is True


def test_exec_into_a_container_the_daemon_adopted_keeps_its_privileges(daemon_factory, busybox_tar):
    import signal

    d = daemon_factory().start()
    d.out("import", "-", "busybox", input=open(busybox_tar, "rb").read())
    cid = d.out("run", "-d", "--cap-drop", "ALL", "busybox", "sleep", "100000").strip()
    d.proc.send_signal(signal.SIGKILL)  # the next daemon adopts the container, without its Command
    d.proc.wait()
    d.start()
    r = d.cli("exec", cid, "sh", "-c", "grep CapBnd /proc/self/status; exit 6")
    assert (r.returncode, r.stdout) == (6, b"CapBnd:\t0000000000000000\n")
    d.out("stop", "-t", "1", cid)
    d.out("rm", cid)
