"""`docker -d -e lxc`: real containers run by LXC's lxc-start, seen through the CLI as users see them."""

from __future__ import annotations

import glob
import json
import os
import signal
import stat
import subprocess

import pytest

from lib.bridge import own_bridge
from lib.daemon import Daemon, docker_cmd, our_env, own_daemon
from lib.poll import poll
from lib.require import require_tools

require_tools("lxc-start", hint="Debian's lxc package: apt-get install lxc", module=True)


@pytest.fixture(scope="module")
def lxc_bridge():
    with own_bridge("ldl") as name:
        yield name


@pytest.fixture(scope="module")
def lxc(busybox_tar, lxc_bridge):
    with own_daemon(busybox_tar, ["-e", "lxc", "-b", lxc_bridge]) as d:
        yield d


def run(d: Daemon, *args: str, input: bytes | None = None) -> subprocess.CompletedProcess:
    return d.cli("run", *args, input=input)


def inspect(d: Daemon, name: str) -> dict:
    return json.loads(d.out("inspect", name))[0]


def cgroup_dirs(cid: str) -> list[str]:
    return glob.glob(f"/sys/fs/cgroup/*/docker/{cid}") + glob.glob(f"/sys/fs/cgroup/*/docker-lxc/{cid}")


def lxc_files(d: Daemon) -> list[str]:
    return os.listdir(os.path.join(d.root, "execdriver", "lxc"))


def test_info_names_the_installed_lxc(lxc):
    version = subprocess.run(["lxc-start", "--version"], capture_output=True, text=True).stdout.strip()
    assert f"Execution Driver: lxc-{version}\n" in lxc.out("info")
    assert version.startswith("5.")


def test_echo_and_exit_codes(lxc):
    assert lxc.out("run", "busybox", "echo", "hello") == "hello\n"
    assert run(lxc, "busybox", "sh", "-c", "exit 3").returncode == 3
    name = "lxc-exit"
    assert run(lxc, "--name", name, "busybox", "sh", "-c", "exit 7").returncode == 7
    assert inspect(lxc, name)["State"]["ExitCode"] == 7
    assert inspect(lxc, name)["ExecDriver"].startswith("lxc-")
    # Started again: a new LXC configuration and cgroup under the same id.
    lxc.out("start", name)
    assert lxc.out("wait", name).strip() == "7"
    lxc.out("restart", name)
    assert lxc.out("wait", name).strip() == "7"


def test_start_failures_read_as_with_native(lxc):
    missing = run(lxc, "busybox", "nosuchcmd")
    assert missing.returncode == 127
    assert b'exec: "nosuchcmd": executable file not found in $PATH' in missing.stderr
    denied = run(lxc, "busybox", "/etc/passwd")
    assert denied.returncode == 126 and b'exec: "/etc/passwd": permission denied' in denied.stderr
    user = run(lxc, "-u", "carol", "busybox", "true")
    assert user.returncode != 0 and b"Unable to find user carol" in user.stderr


def test_pid_1_environment_user_and_workdir(lxc):
    out = lxc.out("run", "-e", "FOO=bar", "-h", "lxcbox", "-w", "/made/here", "busybox", "sh", "-c",
                  "echo $$; env; pwd; hostname")  # fmt: skip
    lines = out.splitlines()
    assert lines[0] == "1" and "FOO=bar" in lines and "container=lxc" in lines and "HOME=/" in lines
    assert "/made/here" in lines and lines[-1] == "lxcbox"
    assert lxc.out("run", "-u", "nobody", "busybox", "id", "-u").strip() == "65534"


def test_attach_logs_and_stdin(lxc):
    assert run(lxc, "-i", "busybox", "cat", input=b"through stdin\n").stdout == b"through stdin\n"
    cid = lxc.out("run", "-d", "busybox", "sh", "-c", "echo to-out; echo to-err >&2").strip()
    assert lxc.out("wait", cid).strip() == "0"
    logs = lxc.cli("logs", cid)
    assert b"to-out" in logs.stdout + logs.stderr and b"to-err" in logs.stdout + logs.stderr


def test_tty(lxc):
    argv = docker_cmd() + [
        "-H",
        lxc.host,
        "run",
        "-t",
        "busybox",
        "sh",
        "-c",
        "tty; test -t 1 && echo is-a-tty",
    ]
    result = subprocess.run(
        ["script", "-qec", " ".join(argv), "/dev/null"], capture_output=True, env=our_env(), timeout=60
    )
    text = result.stdout.decode().replace("\r", "")
    assert "/dev/console\n" in text and "is-a-tty" in text


def test_signals_stop_kill_and_top(lxc):
    cid = lxc.out(
        "run", "-d", "busybox", "sh", "-c", "trap 'echo got-usr1' USR1; while true; do sleep 0.1; done"
    ).strip()
    top = lxc.out("top", cid)
    assert "sleep" in top or "sh -c" in top
    lxc.out("kill", "-s", "USR1", cid)
    poll(lambda: "got-usr1" in lxc.out("logs", cid), what="the trapped signal")
    assert inspect(lxc, cid)["State"]["Running"]
    lxc.out("kill", cid)
    assert lxc.out("wait", cid).strip() == "137"
    assert not cgroup_dirs(cid) and cid not in lxc_files(lxc)


def test_memory_and_cpu_limits_are_in_the_cgroup(lxc):
    cid = lxc.out("run", "-d", "-m", "32m", "-c", "512", "busybox", "sleep", "30").strip()
    try:
        memory = f"/sys/fs/cgroup/memory/docker/{cid}/memory.limit_in_bytes"
        if os.path.exists("/sys/fs/cgroup/cgroup.controllers"):  # a cgroup v2 host
            assert open(f"/sys/fs/cgroup/docker/{cid}/memory.max").read().strip() == str(32 << 20)
        else:
            assert open(memory).read().strip() == str(32 << 20)
            assert open(f"/sys/fs/cgroup/cpu/docker/{cid}/cpu.shares").read().strip() == "512"
        pid = inspect(lxc, cid)["State"]["Pid"]
        assert str(pid) in open(glob.glob(f"/sys/fs/cgroup/*/docker/{cid}/cgroup.procs")[0]).read().split()
    finally:
        lxc.out("rm", "-f", cid)
    hog = run(
        lxc,
        "-m",
        "32m",
        "busybox",
        "sh",
        "-c",
        "x=$(head -c 100000000 /dev/zero | tr '\\0' a); echo survived",
    )
    assert b"survived" not in hog.stdout and hog.returncode == 137


def test_least_privilege_and_privileged(lxc):
    plain = lxc.out("run", "busybox", "grep", "-E", "^(CapEff|Seccomp):", "/proc/self/status").split()
    assert plain[plain.index("Seccomp:") + 1] == "2"
    assert not int(plain[plain.index("CapEff:") + 1], 16) & (1 << 21)  # no SYS_ADMIN
    assert run(lxc, "busybox", "mount", "-t", "tmpfs", "none", "/mnt").returncode != 0
    assert run(lxc, "busybox", "sh", "-c", "echo x > /proc/sys/kernel/core_pattern").returncode != 0
    script = "mkdir -p /mnt && mount -t tmpfs none /mnt && grep Seccomp: /proc/self/status && echo ok"
    out = lxc.out("run", "--rm", "--privileged", "busybox", "sh", "-c", script)
    assert out.split() == ["Seccomp:", "0", "ok"]
    # Every device of the host, as with the native driver; an unprivileged container has none of them.
    block = sorted(e.name for e in os.scandir("/dev") if stat.S_ISBLK(e.stat(follow_symlinks=False).st_mode))
    if block:
        check = f"test -b /dev/{block[0]} && echo present"
        assert lxc.out("run", "--rm", "--privileged", "busybox", "sh", "-c", check) == "present\n"
        assert run(lxc, "--rm", "busybox", "sh", "-c", check).returncode != 0


def test_network_on_the_daemon_bridge(lxc, lxc_bridge):
    server = lxc.out(
        "run",
        "-d",
        "busybox",
        "sh",
        "-c",
        "mkdir /www && echo from-lxc > /www/i && exec httpd -f -p 8080 -h /www",
    ).strip()
    try:
        ip = inspect(lxc, server)["NetworkSettings"]["IPAddress"]
        gateway = inspect(lxc, server)["NetworkSettings"]["Gateway"]
        assert ip.startswith("10.")
        out = lxc.out(
            "run", "busybox", "sh", "-c", f"ping -c1 -W5 {gateway} >/dev/null && wget -qO- http://{ip}:8080/i"
        )
        assert out == "from-lxc\n"
    finally:
        lxc.out("rm", "-f", server)
    assert run(lxc, "-n=false", "busybox", "cat", "/proc/net/dev").stdout.count(b":") == 1


def test_volumes_and_name_files(lxc, tmp_path):
    (tmp_path / "f").write_text("from-host\n")
    script = "cat /data/f; echo new > /rw/g; touch /data/h 2>/dev/null || echo read-only; cat /etc/hostname"
    out = lxc.out("run", "-v", f"{tmp_path}:/data:ro", "-v", f"{tmp_path}:/rw", "busybox", "sh", "-c", script)
    lines = out.splitlines()
    assert lines[:2] == ["from-host", "read-only"] and len(lines[2]) == 12
    assert (tmp_path / "g").read_text() == "new\n"
    cid = lxc.out("run", "-d", "-v", "/scratch", "busybox", "sh", "-c", "echo kept > /scratch/k").strip()
    lxc.out("wait", cid)
    assert "kept" in open(os.path.join(inspect(lxc, cid)["Volumes"]["/scratch"], "k")).read()


def test_commit_of_an_lxc_container(lxc):
    cid = lxc.out("run", "-d", "busybox", "sh", "-c", "echo committed > /marker").strip()
    lxc.out("wait", cid)
    image = lxc.out("commit", cid, "lxc/committed").strip()
    assert image and lxc.out("run", "lxc/committed", "cat", "/marker") == "committed\n"


def test_lxc_conf_overrides_the_generated_config(lxc):
    out = lxc.out("run", "--lxc-conf", "lxc.cgroup.cpuset.cpus = 0", "busybox", "grep", "Cpus_allowed_list",
                  "/proc/self/status")  # fmt: skip
    assert out.split() == ["Cpus_allowed_list:", "0"]
    # Docker 0.9's key name, and a generated value replaced (the memory limit), read back from inside.
    out = lxc.out("run", "-m", "64m", "--lxc-conf", "lxc.utsname = oldname",
                  "--lxc-conf", "lxc.cgroup.memory.limit_in_bytes = 16777216", "busybox", "sh", "-c",
                  "hostname; cat /proc/self/cgroup | grep -c memory:/")  # fmt: skip
    assert out.splitlines()[0] == "oldname"
    cid = lxc.out("run", "-d", "-m", "64m", "--lxc-conf", "lxc.cgroup.memory.limit_in_bytes = 16777216",
                  "busybox", "sleep", "30").strip()  # fmt: skip
    try:
        assert open(f"/sys/fs/cgroup/memory/docker/{cid}/memory.limit_in_bytes").read().strip() == "16777216"
    finally:
        lxc.out("rm", "-f", cid)


def test_unknown_lxc_conf_key_is_refused_and_nothing_is_left(lxc, lxc_bridge):
    ports = f"/sys/class/net/{lxc_bridge}/brif"
    veths = set(os.listdir(ports))  # the veths on our bridge: other tests on this host add their own
    result = run(lxc, "--name", "bogus-key", "--lxc-conf", "lxc.no.such.key = 1", "busybox", "true")
    assert result.returncode != 0
    assert b'Unsupported config key "lxc.no.such.key"' in result.stderr
    cid = inspect(lxc, "bogus-key")["ID"]
    assert not cgroup_dirs(cid) and cid not in lxc_files(lxc)
    assert set(os.listdir(ports)) <= veths
    assert not inspect(lxc, "bogus-key")["State"]["Running"]


def test_a_container_survives_a_daemon_crash_and_keeps_its_exit_code(busybox_tar, daemon_factory):
    d = daemon_factory("-e", "lxc").start()
    d.cli("import", "-", "busybox", input=open(busybox_tar, "rb").read(), check=True)
    cid = d.out(
        "run", "-d", "busybox", "sh", "-c", "trap 'exit 42' TERM; while true; do sleep 0.1; done"
    ).strip()
    pid = inspect(d, cid)["State"]["Pid"]
    d.proc.send_signal(signal.SIGKILL)
    d.proc.wait(10)
    d.start()
    assert inspect(d, cid)["State"]["Running"] and os.path.exists(f"/proc/{pid}")
    assert "sleep" in d.out("top", cid) or "sh -c" in d.out("top", cid)
    d.out("stop", cid)
    # Not the new daemon's child, yet its real exit code (the native driver's ghost gets -1).
    assert inspect(d, cid)["State"]["ExitCode"] == 42
    poll(lambda: not cgroup_dirs(cid) and cid not in lxc_files(d), what="LXC's cleanup")


def test_native_refuses_lxc_conf(daemon):
    result = daemon.cli("run", "--lxc-conf", "lxc.cgroup.cpuset.cpus = 0", "busybox", "true")
    assert result.returncode != 0
    assert b"Cannot use --lxc-conf with execdriver: native" in result.stderr


def test_missing_lxc_is_refused_at_daemon_start(daemon_factory, tmp_path):
    d = daemon_factory("-e", "lxc")
    env = our_env({"PATH": str(tmp_path)})
    result = subprocess.run(d.args(), capture_output=True, env=env, timeout=60)
    assert result.returncode != 0
    assert b"lxc-start" in result.stderr and b"apt-get install lxc" in result.stderr


# -- the driver itself, as the daemon's monitor drives it --------------------------------------------


@pytest.fixture(scope="module")
def lxc_driver(tmp_path_factory):
    from lxc_docker.execution.select import new_driver

    root = str(tmp_path_factory.mktemp("lxcdriver"))
    parent = f"lxc-docker-test-{os.getpid()}"
    yield new_driver("lxc", cgroup_parent=parent, state_dir=root)
    # The containers' and LXC monitors' parents, empty once every container is gone.
    for path in glob.glob(f"/sys/fs/cgroup/*/{parent}") + glob.glob(f"/sys/fs/cgroup/*/{parent}-lxc"):
        assert not [d for d in os.listdir(path) if os.path.isdir(os.path.join(path, d))], path
        os.rmdir(path)


@pytest.fixture
def rootfs(busybox_tar, tmp_path):
    import tarfile

    root = str(tmp_path / "rootfs")
    os.makedirs(root)
    with tarfile.open(busybox_tar) as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(root, filter="fully_trusted")  # our own busybox tar, with device-free links
        else:
            tar.extractall(root)
    return root


def drive(driver, rootfs: str, script: str, **kw) -> tuple[int, str, list[int]]:
    from lxc_docker.execution.base import Command, Stdio

    command = Command(id=os.urandom(32).hex(), rootfs=rootfs, entrypoint="sh", args=["-c", script],
                      env=["PATH=/bin:/usr/bin"], **kw)  # fmt: skip
    out_r, out_w = os.pipe()
    started: list[int] = []
    try:
        code = driver.run(command, Stdio(None, out_w, out_w), started.append)
    finally:
        os.close(out_w)
        with os.fdopen(out_r, "rb") as f:
            output = f.read().decode()
    return code, output, started


def test_driver_runs_pid_1_with_its_exit_code(lxc_driver, rootfs):
    code, out, started = drive(lxc_driver, rootfs, "echo $$; exit 5")
    assert (code, out, len(started)) == (5, "1\n", 1)
    assert not os.path.exists(f"/proc/{started[0]}") or not lxc_driver.is_alive("x", started[0])


def test_driver_moves_a_given_interface_in_as_eth0(lxc_driver, rootfs):
    from lxc_docker.execution.base import Network

    suffix = os.getpid() % 100000
    host_end, container_end = f"llh{suffix}", f"llc{suffix}"
    subprocess.run(["ip", "link", "add", host_end, "type", "veth", "peer", "name", container_end], check=True)
    try:
        network = Network(container_end, "10.213.9.2/24", "10.213.9.1", 1400, "02:42:0a:d5:09:02")
        code, out, _ = drive(lxc_driver, rootfs, "ip addr show eth0; ip route", network=network)
        assert code == 0, out
        assert "inet 10.213.9.2/24" in out and "link/ether 02:42:0a:d5:09:02" in out and "mtu 1400" in out
        assert "default via 10.213.9.1 dev eth0" in out
    finally:
        subprocess.run(["ip", "link", "del", host_end], capture_output=True)
