"""One contract for every execution driver: the same `docker` commands, through a real daemon per
driver (tests/lib/drivers.py lists them) on a bridge of the test's own, must show users the same
thing: output, exit codes, attach and logs, terminals, signals, limits, networking, volumes,
--privileged, top, commit, failed starts that leave nothing behind, and a daemon crash that loses
no container.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import tarfile
import threading
import urllib.request

import pytest

from lib.bridge import own_bridge
from lib.daemon import Daemon, docker_cmd, our_env, own_daemon
from lib.drivers import DRIVERS, require_driver
from lib.poll import poll, wait_for
from lib.unixhttp import api
from lxc_docker.execution.base import Command, Network, Stdio
from lxc_docker.execution.oci import spec
from lxc_docker.execution.oci.runtime import Runtime
from lxc_docker.execution.select import new_driver

pytestmark = pytest.mark.root

HTTPD = "mkdir -p /www && echo hello from $(hostname) > /www/index.html && exec httpd -f -p 8080 -h /www"
# A PID 1 that ends on SIGTERM as a shell script would: PID 1 of a namespace gets only the signals it
# has a handler for, whatever the driver.
TRAP_TERM = "trap 'exit 143' TERM; while true; do sleep 0.05; done"


def _require(name: str) -> None:
    require_driver(name)


@pytest.fixture(scope="module", params=DRIVERS, ids=[name for name, _ in DRIVERS])
def driver(request):
    name, args = request.param
    _require(name)
    return name, args


@pytest.fixture(scope="module")
def d(driver, busybox_tar):
    """A daemon with this driver on a bridge of its own, with the busybox image."""
    name, args = driver
    with own_bridge("ldx") as bridge, own_daemon(busybox_tar, ["-b", bridge, *args], prefix="ldx-") as daemon:
        daemon.driver_name = name
        yield daemon


def _inspect(d: Daemon, cid: str) -> dict:
    return json.loads(d.out("inspect", cid))[0]


def _cgroup_file(pid: int, controller: str, v1_name: str, v2_name: str) -> str:
    """The content of a cgroup file of process `pid`'s cgroup, read on the host."""
    with open(f"/proc/{pid}/cgroup") as f:
        lines = [line.rstrip("\n").split(":", 2) for line in f]
    if os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
        path = next(p for _, ctrls, p in lines if ctrls == "")
        with open(f"/sys/fs/cgroup{path}/{v2_name}") as f:
            return f.read().strip()
    path = next(p for _, ctrls, p in lines if controller in ctrls.split(","))
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            if fields[sep + 1] == "cgroup" and controller in fields[sep + 3].split(","):
                with open(f"{fields[4]}{path}/{v1_name}") as g:
                    return g.read().strip()
    raise AssertionError(f"no {controller} cgroup for {pid}")


def _cgroup_dirs(cid: str) -> list[str]:
    found = []
    for base, dirs, _ in os.walk("/sys/fs/cgroup"):
        if cid in dirs:
            found.append(os.path.join(base, cid))
        if base.count("/") > 6:
            dirs[:] = []
    return found


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] in (b"Z", b"X")
    except (FileNotFoundError, ProcessLookupError):
        return True


# -- lifecycle ------------------------------------------------------------------------------------


def test_run_output_and_exit_codes(d):
    assert d.out("run", "busybox", "echo", "hello") == "hello\n"
    assert d.cli("run", "busybox", "sh", "-c", "exit 3").returncode == 3
    missing = d.cli("run", "busybox", "nosuchprogram")
    assert missing.returncode == 127
    assert b"nosuchprogram" in missing.stderr
    not_exec = d.cli("run", "busybox", "/etc/passwd")
    assert not_exec.returncode == 126
    assert d.out("run", "-u", "daemon", "-w", "/made/here", "busybox", "sh", "-c", "id -u; pwd") == (
        "1\n/made/here\n"
    )


def test_info_names_the_driver(d):
    line = next(x for x in d.out("info").splitlines() if x.startswith("Execution Driver:"))
    driver = line.split(":", 1)[1].strip()
    if "--oci-runtime" in d.args():
        runtime = d.args()[d.args().index("--oci-runtime") + 1]
        version = subprocess.run([runtime, "--version"], capture_output=True, text=True).stdout.split()[2]
        assert driver == f"oci-{runtime}-{version.split('+')[0]}"  # the runtime's real version
    else:
        assert driver.startswith(d.driver_name.split("-")[0])


def test_failed_start_leaves_nothing_behind(d):
    assert d.cli("run", "busybox", "nosuchprogram").returncode == 127
    cid = d.out("ps", "-l", "-q", "--no-trunc").strip()
    assert "127" in d.out("ps", "-a") and cid
    assert _cgroup_dirs(cid) == []
    with open("/proc/self/mounts") as f:
        assert cid not in f.read()
    for own in ("bundles", "state"):  # the oci driver's bundles and its runtime's state
        path = os.path.join(d.root, "oci", own)
        if os.path.isdir(path):
            assert cid not in os.listdir(path)
    unknown = d.cli("run", "-u", "nosuchuser", "busybox", "true")
    assert unknown.returncode != 0 and b"nosuchuser" in unknown.stderr


def test_attach_and_logs(d):
    cid = d.out("run", "-d", "busybox", "sh", "-c", "echo to-out; echo to-err >&2").strip()
    assert d.out("wait", cid).strip() == "0"
    logs = d.cli("logs", cid)
    assert logs.stdout == b"to-out\n" and logs.stderr == b"to-err\n"
    assert d.out("run", "-i", "busybox", "cat", input=b"piped\n") == "piped\n"
    cid = d.out("run", "-d", "-i", "busybox", "sh", "-c", "read x; echo got:$x").strip()
    attached = d.cli("attach", cid, input=b"hello\n")
    assert b"got:hello" in attached.stdout
    assert d.out("wait", cid).strip() == "0"


def test_tty(d):
    out = d.out("run", "-t", "busybox", "sh", "-c", "[ -t 0 ] && [ -t 1 ] && echo is-a-tty")
    assert "is-a-tty" in out and "\r\n" in out  # the container's terminal turns \n into \r\n
    assert d.out("run", "busybox", "sh", "-c", "[ -t 1 ] || echo no-tty") == "no-tty\n"
    out = d.out("run", "-i", "-t", "busybox", "sh", "-c", "read x; echo got:$x", input=b"typed\n")
    assert "got:typed" in out


def test_tty_is_the_controlling_terminal(d):
    # tty_nr of /proc/self/stat: 0 when the process has no controlling terminal.
    out = d.out("run", "-t", "busybox", "sh", "-c", "cut -d' ' -f7 /proc/self/stat; ps -o pid= -o tty=")
    lines = out.replace("\r", "").split()
    assert lines[0] != "0" and lines[1:3] != ["1", "?"], out
    # ...and the container's environment is its own, with or without a terminal (TERM aside).
    with_tty = set(d.out("run", "-t", "-e", "SHLVL=7", "busybox", "env").replace("\r", "").split("\n"))
    without = set(d.out("run", "-e", "SHLVL=7", "busybox", "env").split("\n"))
    differ = {line for line in with_tty ^ without if not line.startswith(("TERM=", "HOSTNAME="))}
    assert not differ, differ


def test_tty_job_control_and_interrupt(d):
    """An interactive shell as PID 1 has job control, and ^C reaches its foreground job."""
    proc = subprocess.Popen(
        [*docker_cmd(), "-H", d.host, "run", "-i", "-t", "busybox", "sh", "-i"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=our_env(),
    )
    output = bytearray()
    reader = threading.Thread(target=_drain, args=(proc, output), daemon=True)
    reader.start()
    try:
        # The typed line echoes as st''art: "start" appears only once the shell ran the echo.
        proc.stdin.write(b"echo st''art; sleep 60\n")
        proc.stdin.flush()
        assert wait_for(lambda: b"start\r\n" in output, timeout=20), bytes(output)
        assert wait_for(lambda: b"sleep" in _ps(d), timeout=10)
        proc.stdin.write(b"\x03")
        proc.stdin.flush()
        assert wait_for(lambda: b"sleep" not in _ps(d), timeout=20), bytes(output)
        proc.stdin.write(b"echo status=$?\n")  # the interrupted line's status: 128 + SIGINT
        proc.stdin.flush()
        assert wait_for(lambda: b"status=130\r\n" in output, timeout=20), bytes(output)
        proc.stdin.write(b"exit 3\n")
        proc.stdin.flush()
        assert proc.wait(30) == 3
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        reader.join(10)
    assert b"job control turned off" not in output and b"can't access tty" not in output


def _drain(proc: subprocess.Popen, output: bytearray) -> None:
    while chunk := proc.stdout.read1(4096):
        output.extend(chunk)


def _ps(d) -> bytes:
    listed = d.cli("ps", "-q").stdout.split()
    return b"".join(d.cli("top", cid.decode()).stdout for cid in listed)


def test_tty_resize_reaches_the_container(d):
    wait = "until [ \"$(stty size 2>/dev/null)\" = '40 100' ]; do sleep 0.05; done; echo resized"
    cid = d.out("run", "-d", "-t", "busybox", "timeout", "30", "sh", "-c", wait).strip()
    status, _ = api(d, "POST", f"/containers/{cid}/resize?h=40&w=100")
    assert status == 200
    assert d.out("wait", cid).strip() == "0"
    assert "resized" in d.out("logs", cid)


def test_signals_kill_and_stop(d):
    cid = d.out("run", "-d", "busybox", "sh", "-c", TRAP_TERM).strip()
    d.out("kill", "-s", "TERM", cid)
    assert d.out("wait", cid).strip() == "143"
    cid = d.out("run", "-d", "busybox", "sh", "-c", TRAP_TERM).strip()
    d.out("stop", "-t", "5", cid)
    assert _inspect(d, cid)["State"]["ExitCode"] == 143
    # PID 1 without a handler ignores SIGTERM: stop falls back to SIGKILL.
    cid = d.out("run", "-d", "busybox", "sleep", "1000").strip()
    d.out("stop", "-t", "1", cid)
    assert _inspect(d, cid)["State"]["ExitCode"] == 137
    cid = d.out("run", "-d", "busybox", "sleep", "1000").strip()
    d.out("kill", cid)
    assert d.out("wait", cid).strip() == "137"


def test_memory_and_cpu_limits(d):
    cid = d.out("run", "-d", "-m", "32m", "-c", "512", "busybox", "sleep", "1000").strip()
    try:
        pid = _inspect(d, cid)["State"]["Pid"]
        assert _cgroup_file(pid, "memory", "memory.limit_in_bytes", "memory.max") == str(32 << 20)
        shares = _cgroup_file(pid, "cpu", "cpu.shares", "cpu.weight")
        assert shares in ("512", "20")  # v2: cpu.weight for 512 shares, as runc and crun map it
    finally:
        d.out("rm", "-f", cid)


def test_top(d):
    cid = d.out("run", "-d", "busybox", "sh", "-c", "sleep 1000 & exec sleep 1001").strip()
    try:
        poll(lambda: "sleep 1000" in d.out("top", cid), what="both processes in top")
        assert "sleep 1001" in d.out("top", cid)
    finally:
        d.out("rm", "-f", cid)


# -- networking, volumes, privileges, commit ------------------------------------------------------


def test_container_reaches_another_over_the_bridge(d):
    server = d.out("run", "-d", "busybox", "sh", "-c", HTTPD).strip()
    try:
        ip = _inspect(d, server)["NetworkSettings"]["IPAddress"]

        def fetch() -> str:
            out = d.cli("run", "busybox", "wget", "-qO-", f"http://{ip}:8080/index.html").stdout
            return out.decode() if b"hello" in out else ""

        assert "hello from" in poll(fetch, what="the web server answering another container")
    finally:
        d.out("rm", "-f", server)


def test_published_port_on_loopback(d):
    cid = d.out("run", "-d", "-p", "127.0.0.1::8080", "busybox", "sh", "-c", HTTPD).strip()
    try:
        port = d.out("port", cid, "8080").strip().rpartition(":")[2]

        def fetch() -> str:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=2) as resp:
                    return resp.read().decode()
            except OSError:
                return ""

        assert "hello from" in poll(fetch, what="the published port")
    finally:
        d.out("rm", "-f", cid)


def test_volumes_and_volumes_from(d, tmp_path):
    host = tmp_path / "shared"
    host.mkdir()
    (host / "from-host").write_text("host data\n")
    script = "cat /data/from-host; echo c > /data/new"
    out = d.out("run", "-v", f"{host}:/data", "busybox", "sh", "-c", script)
    assert out == "host data\n" and (host / "new").read_text() == "c\n"
    ro = d.cli("run", "-v", f"{host}:/data:ro", "busybox", "sh", "-c", "echo x > /data/denied")
    assert ro.returncode != 0 and not (host / "denied").exists()
    owner = d.out("run", "-d", "-v", "/vol", "busybox", "sh", "-c", "echo shared > /vol/f").strip()
    d.out("wait", owner)
    assert d.out("run", "--volumes-from", owner, "busybox", "cat", "/vol/f") == "shared\n"


def test_privileged(d):
    mount = "mkdir -p /mnt && mount -t tmpfs t /mnt && echo mounted"
    refused = d.cli("run", "busybox", "sh", "-c", mount)
    assert refused.returncode != 0 and b"mounted" not in refused.stdout
    out = d.out("run", "--privileged", "busybox", "sh", "-c", mount)
    assert out == "mounted\n"
    # Default capabilities (today's Docker's set) unless privileged.
    status = d.out("run", "busybox", "cat", "/proc/self/status")
    fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
    assert int(fields["CapBnd"], 16) == 0xA80425FB
    assert fields["Seccomp"].strip() == "2"  # the default seccomp filter is loaded
    status = d.out("run", "--privileged", "busybox", "cat", "/proc/self/status")
    assert "Seccomp:\t0" in status


def test_commit_of_a_change(d):
    cid = d.out("run", "-d", "busybox", "sh", "-c", "echo committed > /made").strip()
    d.out("wait", cid)
    image = d.out("commit", cid, f"drivertest/{d.driver_name}").strip()
    assert image
    assert d.out("run", "--rm", f"drivertest/{d.driver_name}", "cat", "/made") == "committed\n"


def test_missing_runtime_is_refused_at_daemon_start(daemon_factory):
    daemon = daemon_factory("-e", "oci", "--oci-runtime", "/nonexistent/crun")
    with pytest.raises(RuntimeError, match="daemon exited"):
        daemon.start()
    assert "apt-get install crun" in daemon.log()


def test_command_network_at_the_driver_level(driver, busybox_tar, tmp_path):
    """The ExecDriver contract below the daemon: a Command's own Network (a veth end moved in as
    eth0, with its address, MTU and default route), which every driver must honour."""
    _, args = driver
    name = args[args.index("-e") + 1] if "-e" in args else "native"
    runtime = args[args.index("--oci-runtime") + 1] if "--oci-runtime" in args else "runc"
    rootfs = tmp_path / "rootfs"
    rootfs.mkdir()
    with tarfile.open(busybox_tar) as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(rootfs, filter="tar")
        else:
            tar.extractall(rootfs)
    (tmp_path / "root").mkdir()  # the daemon's root, which exists before any driver starts
    exec_driver = new_driver(name, "docker", str(tmp_path / "root"), oci_runtime=runtime)
    host = f"ldv{random.randrange(16**6):06x}"
    subprocess.run(["ip", "link", "add", host, "type", "veth", "peer", "name", host + "c"], check=True)
    out_r, out_w = os.pipe()
    try:
        command = Command(
            id=os.urandom(32).hex(),
            rootfs=str(rootfs),
            entrypoint="sh",
            args=["-c", "ip -4 addr show eth0; ip link show eth0; ip route"],
            env=["PATH=/bin:/usr/bin:/sbin"],
            hostname="box",
            network=Network(host + "c", "10.251.7.2/24", "10.251.7.1", 1400, "02:42:0a:fb:07:02"),
        )
        code = exec_driver.run(command, Stdio(None, out_w, out_w), on_start=lambda pid: os.close(out_w))
        with os.fdopen(out_r, "rb") as f:
            out = f.read().decode()
        out_r = -1
        assert code == 0, out
        assert "inet 10.251.7.2/24" in out and "mtu 1400" in out and "02:42:0a:fb:07:02" in out
        assert "default via 10.251.7.1" in out
        assert _cgroup_dirs(command.id) == []
    finally:
        subprocess.run(["ip", "link", "del", host], capture_output=True)
        if out_r >= 0:
            os.close(out_r)
        close = getattr(exec_driver, "close", None)  # what keeps containers (the live-restore keeper)
        if close is not None:
            close()


def test_oci_start_interrupted_by_a_crash_is_swept(driver, daemon_factory, busybox_tar, tmp_path):
    """A daemon killed between the runtime's `create` and `start` leaves a container waiting at
    `created`, with its bundle: the next daemon removes both (oci drivers only)."""
    name, args = driver
    if "oci" not in args:
        pytest.skip(f"{name}: no runtime state to sweep")
    runtime_name = args[args.index("--oci-runtime") + 1]
    daemon = daemon_factory(*args).start()
    daemon.stop()
    rootfs = tmp_path / "rootfs"
    rootfs.mkdir()
    subprocess.run(["tar", "-xf", busybox_tar, "-C", str(rootfs)], check=True)
    stale = Command(id="stale-" + os.urandom(8).hex(), rootfs=str(rootfs), entrypoint="true", args=[],
                    env=["PATH=/bin"], hostname="stale")  # fmt: skip
    config = spec.build(stale, uid=0, gid=0, groups=[], bounding=0, machine=os.uname().machine,
                        nofile=(1024, 1024), swap_accounting=False)  # fmt: skip
    bundle = os.path.join(daemon.root, "oci", "bundles", stale.id)
    os.makedirs(bundle)
    with open(os.path.join(bundle, "config.json"), "w") as f:
        json.dump(config, f)
    runtime = Runtime(runtime_name, os.path.join(daemon.root, "oci", "state"))  # crun's wrapper too
    created = subprocess.run(
        runtime.argv("create", "--bundle", bundle, stale.id),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,  # the waiting init holds create's stdio
        stderr=subprocess.DEVNULL,
        timeout=60,
    )
    try:
        assert created.returncode == 0
        assert runtime.state(stale.id)["status"] == "created"
        daemon.start()
        assert runtime.state(stale.id) is None
        assert not os.path.exists(bundle)
        assert _cgroup_dirs(stale.id) == []
    finally:
        runtime.delete(stale.id)


# -- a daemon crash -------------------------------------------------------------------------------


def test_daemon_crash_loses_no_container(driver, daemon_factory, busybox_tar):
    """Killed with SIGKILL, the daemon comes back knowing the container that ran: it still shows as
    running, can be stopped and removed, and no process of it is left.

    Where drivers differ (not asserted here): today every driver re-adopts such a container as a
    "ghost" (its stdio went with the old daemon, its exit status is unknown to the new one); a
    driver whose containers survive with their streams (live restore) may report more."""
    name, args = driver
    daemon = daemon_factory(*args).start()
    daemon.cli("import", "-", "busybox", input=open(busybox_tar, "rb").read(), check=True)
    cid = daemon.out("run", "-d", "busybox", "sleep", "1000").strip()
    pid = _inspect(daemon, cid)["State"]["Pid"]
    daemon.proc.send_signal(signal.SIGKILL)
    daemon.proc.wait(10)
    assert not _gone(pid)  # the container outlives its daemon
    daemon.start()
    assert cid[:12] in daemon.out("ps", "-q")
    daemon.out("stop", "-t", "1", cid)
    assert wait_for(lambda: _gone(pid), 10), "the container's process survived stop"
    assert cid[:12] not in daemon.out("ps", "-q")
    daemon.out("rm", cid)
    assert cid[:12] not in daemon.out("ps", "-a", "-q")
    assert poll(lambda: _cgroup_dirs(cid) == [], what="the container's cgroups removed")


# -- docker exec ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def box(d):
    """A running container with an environment of its own, for the exec cases."""
    cid = d.out("run", "-d", "-e", "FROMC=c1", "busybox", "sleep", "100000").strip()
    yield cid
    d.cli("kill", cid)


def test_exec_exit_code_and_streams(d, box):
    r = d.cli("exec", box, "sh", "-c", "echo out; echo err >&2; exit 3")
    assert (r.returncode, r.stdout, r.stderr) == (3, b"out\n", b"err\n")
    r = d.cli("exec", "-i", box, "sh", "-c", "tr a-z A-Z", input=b"hello\n")
    assert (r.returncode, r.stdout) == (0, b"HELLO\n")
    r = d.cli("exec", box, "sh", "-c", "kill -TERM $$")
    assert r.returncode == 128 + signal.SIGTERM
    r = d.cli("exec", box, "nosuchprogram")
    assert r.returncode == 126 and b"nosuchprogram" in r.stdout + r.stderr


def test_exec_tty(d, box):
    r = d.cli("exec", "-t", box, "sh", "-c", "tty; test -t 0 && echo yes; echo $TERM")
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.decode().replace("\r", "").splitlines()
    assert lines[0].startswith("/dev/pts/") and lines[1:] == ["yes", "xterm"]
    assert d.cli("exec", box, "sh", "-c", "test -t 0").returncode == 1


def test_exec_env_user_and_workdir(d, box):
    r = d.cli(
        "exec", "-u", "nobody", "-w", "/tmp", "-e", "NEW=n1", box,
        "sh", "-c", "id -u; id -g; pwd; echo $FROMC $NEW",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode().splitlines() == ["65534", "65534", "/tmp", "c1 n1"]
    assert d.out("exec", box, "sh", "-c", "id -u; pwd").splitlines() == ["0", "/"]
    bad = d.cli("exec", "-u", "nosuchuser", box, "true")
    assert bad.returncode != 0 and b"nosuchuser" in bad.stdout + bad.stderr


def test_exec_inside_the_containers_namespaces(d, box):
    pid = _inspect(d, box)["State"]["Pid"]
    out = d.out(
        "exec", box, "sh", "-c",
        "cat /proc/1/cmdline; echo; for n in mnt uts ipc net pid; do readlink /proc/self/ns/$n; done;"
        " grep CapBnd /proc/self/status",
    )  # fmt: skip
    lines = out.splitlines()
    assert lines[0] == "sleep\x00100000\x00"  # PID 1 of its pid namespace is the container's command
    for name, link in zip(("mnt", "uts", "ipc", "net", "pid"), lines[1:6], strict=True):
        assert link == os.readlink(f"/proc/{pid}/ns/{name}"), name
    with open(f"/proc/{pid}/status") as f:
        assert lines[6] in f.read().splitlines()  # the container's own bounding set
    assert d.cli("exec", box, "ip", "link", "set", "lo", "mtu", "65536").returncode != 0
    r = d.cli("exec", "--privileged", box, "ip", "link", "set", "lo", "mtu", "65536")
    assert r.returncode == 0, r.stderr
    # The exec'd process is gone once it exits: neither a zombie nor a runtime process stays.
    top = d.out("top", box)
    assert "ip link" not in top and "sleep 100000" in top


def test_failed_exec_leaves_the_container_stoppable(d):
    # crun's process in the container outlives a failed `exec --detach` as a zombie of the daemon's:
    # unreaped, it keeps the pid namespace, and so the container's PID 1, from ever finishing its exit.
    cid = d.out("run", "-d", "busybox", "sleep", "100000").strip()
    assert d.cli("exec", cid, "nosuchprogram").returncode == 126
    assert d.cli("exec", "-w", "/nosuchdir", cid, "true").returncode == 126
    d.out("kill", cid)
    assert d.out("wait", cid).strip() == str(128 + signal.SIGKILL)
