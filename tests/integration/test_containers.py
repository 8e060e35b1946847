"""Containers through our CLI: isolation, lifecycle, run options, logs, restarts (real kernel)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time

import pytest

from lib.daemon import docker_cmd, our_env
from lib.poll import poll
from lib.require import require, require_module


def run(daemon, *args, input=None):
    return daemon.cli("run", *args, input=input)


def test_hello_world(daemon):
    result = run(daemon, "busybox", "echo", "hello world")
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"hello world\n"


def test_pid_namespace_and_hostname(daemon):
    out = daemon.out("run", "-h", "box1", "busybox", "sh", "-c", "echo $$; hostname; ps -o pid,comm")
    lines = out.splitlines()
    assert lines[0] == "1" and lines[1] == "box1"
    pids = [line.split()[0] for line in lines[3:]]
    assert set(pids) <= {"1", str(pids[-1])} and len(pids) <= 3


def test_exit_codes_and_signals(daemon):
    assert run(daemon, "busybox", "sh", "-c", "exit 3").returncode == 3
    missing = run(daemon, "busybox", "nosuchcmd")
    assert missing.returncode == 127
    assert b'exec: "nosuchcmd": executable file not found in $PATH' in missing.stderr
    killed = run(daemon, "busybox", "sh", "-c", "kill -9 $$; sleep 5")
    assert killed.returncode in (0, 137)  # PID 1 ignores its own SIGKILL inside the namespace


def test_only_lo_without_networking(daemon):
    out = daemon.out("run", "-n=false", "busybox", "cat", "/proc/net/dev")
    ifaces = [line.split(":")[0].strip() for line in out.splitlines()[2:]]
    assert ifaces == ["lo"]


def test_mount_isolation(daemon):
    out = daemon.out(
        "run",
        "--privileged",
        "busybox",
        "sh",
        "-c",
        "mkdir -p /mnt && mount -t tmpfs none /mnt && touch /mnt/x && ls /mnt",
    )
    assert out.strip() == "x"
    with open("/proc/self/mounts") as f:
        assert not any(" /mnt " in line for line in f)
    denied = run(daemon, "busybox", "sh", "-c", "mkdir -p /mnt && mount -t tmpfs none /mnt")
    assert denied.returncode != 0


def test_capabilities_are_dropped(daemon):
    plain = run(daemon, "busybox", "sh", "-c", "grep CapEff /proc/self/status")
    priv = run(daemon, "--privileged", "busybox", "sh", "-c", "grep CapEff /proc/self/status")
    plain_caps = int(plain.stdout.split()[1], 16)
    priv_caps = int(priv.stdout.split()[1], 16)
    sys_admin, net_admin, sys_time, sys_module = 1 << 21, 1 << 12, 1 << 25, 1 << 16
    for cap in (sys_admin, net_admin, sys_time, sys_module):
        assert not plain_caps & cap
        assert priv_caps & cap
    assert run(daemon, "busybox", "ip", "link", "set", "lo", "down").returncode != 0


def test_memory_limit_is_enforced(daemon):
    result = run(
        daemon,
        "-m",
        "32m",
        "busybox",
        "sh",
        "-c",
        "x=$(head -c 100000000 /dev/zero | tr '\\0' a); echo survived",
    )
    assert b"survived" not in result.stdout
    assert result.returncode == 137
    bad = run(daemon, "-m", "12zz", "busybox", "true")
    assert bad.returncode != 0 and b"Traceback" not in bad.stderr


def test_user_and_workdir(daemon):
    assert daemon.out("run", "-u", "nobody", "busybox", "id", "-u").strip() == "65534"
    assert daemon.out("run", "-u", "1000:1000", "busybox", "id").strip().startswith("uid=1000 gid=1000")
    assert daemon.out("run", "-w", "/made/here", "busybox", "pwd").strip() == "/made/here"
    assert run(daemon, "-u", "nosuchuser", "busybox", "true").returncode != 0


def test_environment(daemon):
    env = daemon.out("run", "-e", "FOO=bar", "-h", "envbox", "busybox", "env").splitlines()
    assert "FOO=bar" in env and "HOME=/" in env and "container=lxc" in env and "HOSTNAME=envbox" in env
    assert any(e.startswith("PATH=") for e in env)
    tty_env = subprocess.run(
        [
            "script",
            "-qec",
            " ".join(docker_cmd() + ["-H", daemon.host, "run", "-t", "busybox", "env"]),
            "/dev/null",
        ],
        capture_output=True,
        env=our_env(),
        timeout=60,
    )
    assert b"TERM=xterm" in tty_env.stdout


def test_stdin_piping(daemon):
    assert run(daemon, "-i", "busybox", "cat", input=b"hi\n").stdout == b"hi\n"
    big = os.urandom(300000).hex().encode()
    assert run(daemon, "-i", "busybox", "wc", "-c", input=big).stdout.strip() == str(len(big)).encode()


def test_detached_lifecycle_logs_top_stop_rm(daemon):
    cid = daemon.out(
        "run",
        "-d",
        "--name",
        "lifecycle",
        "busybox",
        "sh",
        "-c",
        "trap 'echo bye; exit 0' TERM; while true; do echo tick; sleep 0.2; done",
    ).strip()
    assert len(cid) == 64
    poll(lambda: "tick" in daemon.out("logs", "lifecycle"), what="the first tick in the logs")
    ps = daemon.out("ps")
    assert "lifecycle" in ps and "Up " in ps
    top = daemon.out("top", "lifecycle")
    assert "PID" in top and "sleep" in top or "sh -c" in top
    doc = json.loads(daemon.out("inspect", "lifecycle"))[0]
    assert doc["State"]["Running"] and doc["ID"] == cid and doc["Name"] == "/lifecycle"
    assert doc["Path"] == "sh" and doc["Config"]["Image"] == "busybox"
    dup = daemon.cli("run", "--name", "lifecycle", "busybox", "true")
    assert dup.returncode != 0 and b"already assigned" in dup.stderr
    refused = daemon.cli("rm", "lifecycle")
    assert refused.returncode != 0 and b"running container" in refused.stderr
    assert daemon.cli("start", "lifecycle").returncode != 0
    daemon.out("stop", "lifecycle")
    assert daemon.out("wait", "lifecycle").strip() == "0"
    assert "bye" in daemon.out("logs", "lifecycle")
    assert "Exit 0" in daemon.out("ps", "-a")
    assert daemon.cli("stop", "lifecycle").returncode != 0
    daemon.out("restart", "lifecycle")
    assert json.loads(daemon.out("inspect", "lifecycle"))[0]["State"]["Running"]
    daemon.out("kill", "lifecycle")
    assert daemon.out("wait", "lifecycle").strip() == "137"
    bad_signal = daemon.cli("kill", "-s", "NOPE", "lifecycle")
    assert bad_signal.returncode != 0
    daemon.out("rm", "lifecycle")
    assert "lifecycle" not in daemon.out("ps", "-a")


def test_unknown_image_and_container(daemon):
    result = run(daemon, "nosuchimage", "true")
    assert result.returncode != 0 and b"nosuchimage" in result.stderr
    for cmd in (["stop", "nope"], ["logs", "nope"], ["rm", "nope"], ["inspect", "nope"], ["wait", "nope"]):
        r = daemon.cli(*cmd)
        assert r.returncode != 0 and b"No such" in r.stderr, cmd


def test_diff_commit_export_cp(daemon, tmp_path):
    daemon.out(
        "run",
        "--name",
        "changer",
        "busybox",
        "sh",
        "-c",
        "echo data > /made.txt && rm /bin/ls && mkdir -p /etc/newdir",
    )
    diff = daemon.out("diff", "changer").splitlines()
    assert "A /made.txt" in diff and "D /bin/ls" in diff and "C /bin" in diff
    image = daemon.out("commit", "-m", "msg", "-a", "me", "changer", "committed/img:v1").strip()
    assert daemon.out("run", "--rm", "committed/img:v1", "cat", "/made.txt") == "data\n"
    assert daemon.cli("run", "--rm", "committed/img:v1", "ls").returncode == 127
    meta = json.loads(daemon.out("inspect", image))[0]
    assert meta["comment"] == "msg" and meta["author"] == "me"
    run_override = daemon.out(
        "commit", "--run", '{"Cmd": ["cat", "/made.txt"]}', "changer", "committed/img:v2"
    )
    assert run_override.strip()
    assert daemon.out("run", "--rm", "committed/img:v2") == "data\n"
    exported = daemon.cli("export", "changer", check=True).stdout
    import io
    import tarfile

    with tarfile.open(fileobj=io.BytesIO(exported)) as tar:
        names = tar.getnames()
    assert "made.txt" in names and "bin/ls" not in names and "bin/sh" in names
    daemon.out("cp", "changer:/made.txt", str(tmp_path))
    assert (tmp_path / "made.txt").read_text() == "data\n"
    daemon.out("cp", "changer:/etc", str(tmp_path))
    assert (tmp_path / "etc" / "passwd").exists()
    daemon.out("rm", "changer")
    daemon.out("rmi", "committed/img:v1", "committed/img:v2")


def test_rmi_refuses_image_used_by_container(daemon):
    daemon.out("tag", "busybox", "inuse/img")
    daemon.out("run", "--name", "user_of_img", "inuse/img", "true")
    daemon.out("rmi", "inuse/img")  # only untags: busybox still names the image
    image = daemon.out("inspect", "-f", "{{.id}}", "busybox").strip()
    refused = daemon.cli("rmi", image)
    assert refused.returncode != 0 and b"Conflict" in refused.stderr
    daemon.out("rm", "user_of_img")


def test_cidfile_and_rm_flag(daemon, tmp_path):
    cidfile = tmp_path / "cid"
    out = daemon.out("run", "--rm", "--cidfile", str(cidfile), "busybox", "echo", "x")
    assert out == "x\n"
    cid = cidfile.read_text().strip()
    assert cid not in daemon.out("ps", "-a", "-q", "--no-trunc")
    again = daemon.cli("run", "--cidfile", str(cidfile), "busybox", "true")
    assert again.returncode != 0
    both = daemon.cli("run", "--rm", "-d", "busybox", "true")
    assert both.returncode != 0 and b"Conflicting options" in both.stderr


def test_ps_options(daemon):
    ids = [daemon.out("run", "-d", "busybox", "true").strip() for _ in range(3)]
    for cid in ids:
        daemon.out("wait", cid)
    assert daemon.out("ps", "-l", "-q", "--no-trunc").strip() == ids[-1]
    assert daemon.out("ps", "-n", "2", "-q", "--no-trunc").split() == [ids[2], ids[1]]
    assert daemon.out("ps", "-a", "-q", "--no-trunc", "--since", ids[0]).split() == [ids[2], ids[1]]
    assert daemon.out("ps", "-a", "-q", "--no-trunc", "--before", ids[2]).split()[:2] == [ids[1], ids[0]]
    header = daemon.out("ps", "-a", "-s").splitlines()[0]
    assert header.split()[:2] == ["CONTAINER", "ID"] and "SIZE" in header
    daemon.out("rm", *ids)


def test_twenty_parallel_detached_runs(daemon):
    results: list[str] = []
    lock = threading.Lock()

    def one():
        out = daemon.out("run", "-d", "busybox", "sleep", "60")
        with lock:
            results.append(out.strip())

    threads = [threading.Thread(target=one) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(results) == 20
    running = set(daemon.out("ps", "-q", "--no-trunc").split())
    assert set(results) <= running
    daemon.out("rm", "-f", *results)
    assert not set(results) & set(daemon.out("ps", "-a", "-q", "--no-trunc").split())


def test_cycles_leave_nothing_behind(daemon):
    def mounts():
        with open("/proc/self/mounts") as f:
            return sum(1 for line in f if daemon.base in line)

    before_mounts = mounts()
    made = []
    for _ in range(int(os.environ.get("LXC_DOCKER_CYCLES", "200"))):
        cid = daemon.out("create", "busybox", "sleep", "30").strip()
        made.append(cid)
        daemon.out("start", cid)
        daemon.out("kill", cid)
        daemon.out("rm", cid)
    assert mounts() == before_mounts
    # Only this test's containers: other daemons on the machine share the `docker` cgroup parent.
    cgroups = "/sys/fs/cgroup/memory/docker"
    left = set(os.listdir(cgroups)) & set(made) if os.path.isdir(cgroups) else set()
    assert not left, f"cgroups left behind: {sorted(left)[:3]}"
    assert os.listdir(os.path.join(daemon.root, "containers")) == [
        n
        for n in os.listdir(os.path.join(daemon.root, "containers"))
        if n in daemon.out("ps", "-a", "-q", "--no-trunc")
    ]


def test_logs_survive_daemon_restart_and_restart_flag(daemon_factory, busybox_tar):
    d = daemon_factory().start()
    d.out("import", "-", "busybox", input=open(busybox_tar, "rb").read())
    d.out("run", "--name", "logged", "busybox", "echo", "before restart")
    d.out("run", "-d", "--name", "keeper", "busybox", "sleep", "300")
    d.stop()
    d.start()
    assert d.out("logs", "logged") == "before restart\n"
    assert json.loads(d.out("inspect", "keeper"))[0]["State"]["Running"], "-r=true restarts it"
    d.stop()
    d.extra_args = ["-r=false"]
    d.start()
    assert not json.loads(d.out("inspect", "keeper"))[0]["State"]["Running"]
    d.out("rm", "-f", "keeper", "logged")


def test_sigkill_of_the_daemon_keeps_containers(daemon_factory, busybox_tar):
    d = daemon_factory().start()
    d.out("import", "-", "busybox", input=open(busybox_tar, "rb").read())
    cid = d.out("run", "-d", "busybox", "sleep", "300").strip()
    d.out("run", "--name", "stopped_one", "busybox", "true")
    d.proc.kill()
    d.proc.wait(10)
    d.start()
    ids = d.out("ps", "-a", "-q", "--no-trunc").split()
    assert ids.count(cid) == 1 and len(ids) == 2
    listing = d.out("ps")
    assert "Up" in listing and "Ghost" not in listing  # live restore (test_live_restore.py)
    d.out("kill", cid)
    assert d.out("wait", cid).strip() == "137"
    d.out("rm", cid, "stopped_one")


@pytest.mark.parametrize("client", ["cli28", "sdk"])
def test_hello_world_with_other_clients(daemon, client):
    if client == "cli28":
        require(shutil.which("/usr/local/bin/docker"), "no docker CLI at /usr/local/bin/docker")
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
        env["DOCKER_HOST"] = daemon.host
        out = subprocess.run(
            ["/usr/local/bin/docker", "run", "--rm", "busybox", "/bin/echo", "hello world"],
            capture_output=True,
            env=env,
            timeout=60,
        )
        assert out.returncode == 0 and out.stdout == b"hello world\n", out.stderr
        piped = subprocess.run(
            ["/usr/local/bin/docker", "run", "-i", "--rm", "busybox", "cat"],
            input=b"piped\n",
            capture_output=True,
            env=env,
            timeout=60,
        )
        assert piped.stdout == b"piped\n"
        code = subprocess.run(
            ["/usr/local/bin/docker", "run", "--rm", "busybox", "sh", "-c", "exit 7"],
            capture_output=True,
            env=env,
            timeout=60,
        )
        assert code.returncode == 7
        cid = (
            subprocess.run(
                [
                    "/usr/local/bin/docker",
                    "run",
                    "-d",
                    "busybox",
                    "sh",
                    "-c",
                    "while true; do echo hello world; sleep 0.2; done",
                ],
                capture_output=True,
                env=env,
                timeout=60,
            )
            .stdout.decode()
            .strip()
        )
        poll(
            lambda: (
                b"hello world"
                in subprocess.run(["/usr/local/bin/docker", "logs", cid], capture_output=True, env=env).stdout
            ),
            what="hello world in the logs (docker CLI 28)",
        )
        assert (
            subprocess.run(
                ["/usr/local/bin/docker", "rm", "-f", cid], env=env, capture_output=True
            ).returncode
            == 0
        )
        return
    docker = require_module("docker")
    client_ = docker.DockerClient(base_url=daemon.host, timeout=60)
    try:
        assert client_.containers.run("busybox", "/bin/echo hello world", remove=True) == b"hello world\n"
        c = client_.containers.run(
            "busybox", ["sh", "-c", "while true; do echo hello world; sleep 0.2; done"], detach=True
        )
        poll(lambda: b"hello world" in c.logs(), what="hello world in the logs (docker SDK)")
        c.reload()
        assert c.status == "running"
        c.stop(timeout=1)
        c.reload()
        assert c.status == "exited"
        c.remove()
    finally:
        client_.close()


def _pty_session(argv: list[str], env: dict[str, str]):
    import pty
    import select

    pid, fd = pty.fork()
    if pid == 0:  # child: becomes the CLI on the pty
        os.execvpe(argv[0], argv, env)

    def read_until(token: bytes, timeout: float = 15.0) -> bytes:
        buf = b""
        deadline = time.monotonic() + timeout
        while token not in buf and time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.2)
            if ready:
                try:
                    buf += os.read(fd, 4096)
                except OSError:
                    break
        return buf

    return pid, fd, read_until


def test_tty_session_and_detach(daemon):
    argv = docker_cmd() + ["-H", daemon.host, "run", "-i", "-t", "--name", "ttysession", "busybox", "sh"]
    pid, fd, read_until = _pty_session(argv, our_env())
    try:
        assert b"# " in read_until(b"# ")
        os.write(fd, b"echo $TERM-$((6*7))\r")
        assert b"xterm-42" in read_until(b"xterm-42")
        os.write(fd, b"\x10\x11")  # Ctrl-P Ctrl-Q: detach, the container keeps running
        deadline = time.monotonic() + 15
        status = None
        while time.monotonic() < deadline:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            time.sleep(0.05)
        assert status is not None and os.WIFEXITED(status)
        assert json.loads(daemon.out("inspect", "ttysession"))[0]["State"]["Running"]
    finally:
        os.close(fd)
        daemon.cli("rm", "-f", "ttysession")


def test_sig_proxy_forwards_signals(daemon):
    import signal

    proc = subprocess.Popen(
        docker_cmd()
        + [
            "-H",
            daemon.host,
            "run",
            "--name",
            "sigproxy",
            "busybox",
            "sh",
            "-c",
            "trap 'echo got TERM; exit 3' TERM; echo ready; while true; do sleep 0.1; done",
        ],
        stdout=subprocess.PIPE,
        env=our_env(),
    )
    try:
        assert proc.stdout.readline() == b"ready\n"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 3
        assert b"got TERM" in proc.stdout.read()
    finally:
        proc.kill()
        daemon.cli("rm", "-f", "sigproxy")
