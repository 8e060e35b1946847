"""Tests of the native execution driver on the real kernel: namespaces, mounts, cgroups, capabilities,
users, terminals, exit codes, concurrency and adoption after a daemon restart.

Every test checks afterwards that its containers left no cgroup, mount or process behind. The cgroups
live under a parent named for this test run, removed at the end.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from dataclasses import dataclass

import pytest

from lib.poll import poll
from lxc_docker.execution.base import Command, ContainerStartError, Mount, Network, Resources, Stdio
from lxc_docker.execution.native import capabilities, cgroups, devices
from lxc_docker.execution.native.driver import NativeDriver

PARENT = f"lxc-docker-test-{os.getpid()}"
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
APP = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "app")

pytestmark = pytest.mark.root


def _parent_dirs(layout) -> list[str]:
    if isinstance(layout, cgroups.CgroupsV1):
        return [os.path.join(mnt, PARENT) for mnt in layout.hierarchies]
    if isinstance(layout, cgroups.CgroupsV2):
        return [os.path.join(layout.root, PARENT)]
    return []


def _remove_parent(layout) -> None:
    for path in _parent_dirs(layout):
        try:
            os.rmdir(path)
        except FileNotFoundError:
            pass


def _child_cgroups(layout) -> list[str]:
    found = []
    for path in _parent_dirs(layout):
        if os.path.isdir(path):
            found += [os.path.join(path, e.name) for e in os.scandir(path) if e.is_dir()]
    return found


def _mounts_under(path: str) -> list[str]:
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4] for line in f]
    return [p for p in points if p == path or p.startswith(path.rstrip("/") + "/")]


@pytest.fixture(scope="module")
def driver():
    d = NativeDriver(cgroup_parent=PARENT)
    yield d
    d.close()
    _remove_parent(d.cgroups)


@pytest.fixture(scope="module")
def template(busybox_tar, tmp_path_factory) -> str:
    root = str(tmp_path_factory.mktemp("template") / "rootfs")
    os.makedirs(root)
    with tarfile.open(busybox_tar) as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(root, filter="tar")
        else:
            tar.extractall(root)
    return root


@pytest.fixture
def rootfs(template, tmp_path) -> str:
    path = str(tmp_path / "rootfs")
    subprocess.run(["cp", "-a", template, path], check=True)
    return path


@pytest.fixture(autouse=True)
def no_leftovers(driver, tmp_path):
    yield
    assert _child_cgroups(driver.cgroups) == []
    assert _mounts_under(str(tmp_path)) == []


@dataclass
class Result:
    code: int
    out: str
    err: str


def make_command(rootfs: str, argv: list[str], **fields) -> Command:
    env = fields.pop("env", None) or [f"PATH={PATH}", "HOME=/", "HOSTNAME=box", "container=lxc"]
    return Command(
        id=os.urandom(32).hex(),
        rootfs=rootfs,
        entrypoint=argv[0],
        args=list(argv[1:]),
        env=env,
        hostname=fields.pop("hostname", "box"),
        cgroup_parent=PARENT,
        **fields,
    )


def sh(script: str) -> list[str]:
    return ["sh", "-c", script]


def run(
    driver: NativeDriver, rootfs: str, argv: list[str], stdin: int | None = None, on_start=None, **fields
):
    command = make_command(rootfs, argv, **fields)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        code = driver.run(command, Stdio(stdin, out.fileno(), err.fileno()), on_start or (lambda pid: None))
        out.seek(0)
        err.seek(0)
        return Result(code, out.read().decode(), err.read().decode())


class Background:
    """A container run() in a thread, with its output readable while it runs."""

    def __init__(self, driver: NativeDriver, command: Command, stdin: int | None = None) -> None:
        self.driver, self.command = driver, command
        self.out = tempfile.TemporaryFile()  # noqa: SIM115 (closed by join())
        self.started = threading.Event()
        self.pid = 0
        self.code: int | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(stdin,), daemon=True)
        self.thread.start()

    def _on_start(self, pid: int) -> None:
        self.pid = pid
        self.started.set()

    def _run(self, stdin: int | None) -> None:
        try:
            self.code = self.driver.run(
                self.command, Stdio(stdin, self.out.fileno(), self.out.fileno()), self._on_start
            )
        except BaseException as e:
            self.error = e
            self.started.set()

    def text(self) -> str:
        return os.pread(self.out.fileno(), 1 << 20, 0).decode()

    def wait_for_output(self, needle: str) -> None:
        poll(lambda: needle in self.text(), what=f"{needle!r} in the container's output")

    def join(self, timeout: float = 30.0) -> int:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the container did not exit"
        self.out.close()
        if self.error:
            raise self.error
        assert self.code is not None
        return self.code


def _host_cap_bounding() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("CapBnd:"):
                return int(line.split()[1], 16)
    raise AssertionError("no CapBnd")


def _status_field(text: str, name: str) -> int:
    for line in text.splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1], 16)
    raise AssertionError(f"no {name} in {text!r}")


# -- process model ---------------------------------------------------------------------------------


def test_command_is_pid_1_and_its_exit_code_is_the_containers(driver, rootfs):
    result = run(driver, rootfs, sh("echo $$; exit 3"))
    assert (result.code, result.out) == (3, "1\n")


def test_ps_shows_only_the_containers_processes(driver, rootfs):
    result = run(driver, rootfs, sh("ps -o pid,comm; true"))
    assert result.code == 0, result.err
    rows = [line.split() for line in result.out.splitlines()[1:]]
    assert rows == [["1", "sh"], ["2", "ps"]]


def test_pid_1_ignores_signals_from_inside_its_namespace(driver, rootfs):
    # The kernel protects a pid namespace's init from its own processes, SIGKILL included (as in Docker).
    result = run(driver, rootfs, sh("kill -9 $$; echo alive"))
    assert (result.code, result.out) == (0, "alive\n")


def test_kill_from_the_host_gives_128_plus_signal_and_kills_every_process(driver, rootfs):
    bg = Background(driver, make_command(rootfs, sh("sleep 1000 & sleep 1000 & echo ready; wait")))
    bg.wait_for_output("ready")
    poll(lambda: len(driver.pids(bg.command.id)) == 3, what="three processes in the cgroup")
    pids = driver.pids(bg.command.id)
    assert bg.pid in pids
    assert driver.is_alive(bg.command.id, bg.pid)
    driver.kill(bg.command, signal.SIGKILL)
    assert bg.join() == 137
    assert not driver.is_alive(bg.command.id, bg.pid)
    assert driver.pids(bg.command.id) == []
    driver.kill(bg.command, signal.SIGKILL)  # already gone: ignored


def test_when_pid_1_exits_the_kernel_kills_the_rest(driver, rootfs):
    # Checked before the driver's cleanup, which would kill leftovers itself.
    command = make_command(rootfs, sh("sleep 1000 & sleep 1000 & exec sleep 1000"))
    with open(os.devnull, "r+b") as null:
        pid = driver.start(command, Stdio(None, null.fileno(), null.fileno()))
    poll(lambda: len(driver.pids(command.id)) == 3, what="three processes in the cgroup")
    others = [p for p in driver.pids(command.id) if p != pid]
    driver.kill(command, signal.SIGKILL)
    pidfd = os.pidfd_open(pid)  # PID 1 is the keeper's child: its exit seen through a pidfd
    try:
        select.select([pidfd], [], [], 30)
    finally:
        os.close(pidfd)
    assert driver.pids(command.id) == []
    assert not any(os.path.exists(f"/proc/{p}") and cgroups.pid_in_container(p, command.id) for p in others)
    assert driver.wait(command.id) == 137


def test_on_start_failure_stops_the_container(driver, rootfs):
    def on_start(pid: int) -> None:
        raise RuntimeError("the daemon could not record the start")

    with pytest.raises(RuntimeError):
        run(driver, rootfs, ["sleep", "1000"], on_start=on_start)


def test_cleanup_kills_whatever_is_left_in_the_cgroups(driver, rootfs):
    command = make_command(rootfs, ["sleep", "1000"])
    with open(os.devnull, "r+b") as null:
        pid = driver.start(command, Stdio(None, null.fileno(), null.fileno()))
    assert driver.pids(command.id) == [pid]
    driver.cleanup(command.id)
    assert driver.wait(command.id) == 137


# -- isolation -------------------------------------------------------------------------------------


def test_hostname_is_the_containers(driver, rootfs):
    result = run(driver, rootfs, sh("hostname; cat /proc/sys/kernel/hostname"), hostname="web-1")
    assert result.out == "web-1\nweb-1\n"
    assert os.uname().nodename != "web-1"


def test_only_loopback_and_it_is_up(driver, rootfs):
    result = run(driver, rootfs, sh("cat /proc/net/dev; ip link show lo"))
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    interfaces = [line.split(":")[0].strip() for line in lines[2:] if ":" in line and "|" not in line]
    assert interfaces[0] == "lo"
    assert "UP" in lines[-2] or "UP" in result.out.split("lo:")[-1]
    assert "eth0" not in result.out


def test_mounts_stay_in_the_container(driver, rootfs):
    seen_from_host: list[list[str]] = []
    result = run(
        driver,
        rootfs,
        sh("mount -t tmpfs none /tmp && touch /tmp/inside && grep -c ' /proc ' /proc/self/mountinfo"),
        privileged=True,
        on_start=lambda pid: seen_from_host.append(_mounts_under(rootfs)),
    )
    assert (result.code, result.out) == (0, "1\n"), result.err
    assert seen_from_host == [[]]
    assert not os.path.exists(os.path.join(rootfs, "tmp", "inside"))


def test_dev_has_the_standard_nodes_and_the_mounts(driver, rootfs):
    result = run(driver, rootfs, sh("ls /dev; ls -l /dev/ptmx; mount"))
    assert result.code == 0, result.err
    for name, _, _ in devices.NODES:
        assert f"\n{name}\n" in "\n" + result.out
    assert "/dev/ptmx -> pts/ptmx" in result.out
    for line in (
        "devpts on /dev/pts",
        "shm on /dev/shm",
        "mqueue on /dev/mqueue",
        "sysfs on /sys type sysfs (ro",
    ):
        assert line in result.out
    assert "proc on /proc/sys type proc (ro" in result.out


def test_environment_is_exactly_the_commands(driver, rootfs, monkeypatch):
    monkeypatch.setenv("LXC_DOCKER_HOST_ONLY", "leak")
    env = [f"PATH={PATH}", "HOME=/root", "HOSTNAME=box", "container=lxc", "TERM=xterm", "FOO=bar baz"]
    result = run(driver, rootfs, ["env"], env=env)
    assert sorted(result.out.splitlines()) == sorted(env)


def test_umask_and_working_directory_default(driver, rootfs):
    result = run(driver, rootfs, sh("umask; pwd"))
    assert result.out == "0022\n/\n"


def test_workdir_is_created(driver, rootfs):
    result = run(driver, rootfs, ["pwd"], workdir="/srv/app/data")
    assert (result.code, result.out) == (0, "/srv/app/data\n")
    assert os.path.isdir(os.path.join(rootfs, "srv", "app", "data"))


# -- stdio -----------------------------------------------------------------------------------------


def test_stdin_pipe(driver, rootfs):
    r, w = os.pipe()
    os.write(w, b"hello through the pipe\n")
    os.close(w)
    try:
        result = run(driver, rootfs, ["cat"], stdin=r)
    finally:
        os.close(r)
    assert result.out == "hello through the pipe\n"


def test_no_stdin_is_dev_null(driver, rootfs):
    result = run(driver, rootfs, sh("cat; echo done"))
    assert result.out == "done\n"


def test_tty_is_the_controlling_terminal(driver, rootfs):
    master, slave = os.openpty()
    try:
        command = make_command(
            rootfs, sh("tty; test -t 0 && test -t 1 && echo is-a-tty; ps -o pid,tty"), tty=True
        )
        code = driver.run(command, Stdio(slave, slave, slave), lambda pid: None)
        os.close(slave)
        slave = -1
        output = b""
        while True:
            ready, _, _ = select.select([master], [], [], 10)
            assert ready, "no output from the terminal"
            try:
                chunk = os.read(master, 4096)
            except OSError as e:  # EIO: every slave descriptor is closed and the buffer drained
                assert e.errno == errno.EIO
                break
            if not chunk:
                break
            output += chunk
    finally:
        os.close(master)
        if slave >= 0:
            os.close(slave)
    text = output.decode().replace("\r\n", "\n")
    assert code == 0, text
    lines = text.splitlines()
    assert lines[0] == "/dev/console"
    assert "is-a-tty" in lines
    # PID 1 has the terminal as its controlling tty (ps shows it in the TTY column, not "?").
    row = [line.split() for line in lines if line.split()[:1] == ["1"]][0]
    assert row[1] != "?"


# -- users -----------------------------------------------------------------------------------------


def test_user_by_name(driver, rootfs):
    result = run(driver, rootfs, sh("id; grep CapEff /proc/self/status"), user="nobody")
    assert result.out.splitlines()[0] == "uid=65534(nobody) gid=65534(nogroup)"
    assert _status_field(result.out, "CapEff") == 0


def test_user_uid_gid_numbers(driver, rootfs):
    result = run(driver, rootfs, sh("id -u; id -g; id -G"), user="1000:1000")
    assert result.out == "1000\n1000\n1000\n"


def test_unknown_user_fails_to_start(driver, rootfs):
    with pytest.raises(ContainerStartError) as info:
        run(driver, rootfs, ["true"], user="carol")
    assert info.value.exit_code == 1
    assert str(info.value) == "Unable to find user carol: no matching entries in passwd file"


# -- start failures --------------------------------------------------------------------------------


def test_command_not_found(driver, rootfs):
    with pytest.raises(ContainerStartError) as info:
        run(driver, rootfs, ["nosuchcmd", "arg"])
    assert info.value.exit_code == 127
    assert str(info.value) == 'exec: "nosuchcmd": executable file not found in $PATH'


def test_missing_absolute_path(driver, rootfs):
    with pytest.raises(ContainerStartError) as info:
        run(driver, rootfs, ["/no/such/program"])
    assert info.value.exit_code == 127
    assert "no such file or directory" in str(info.value)


def test_not_executable(driver, rootfs):
    with pytest.raises(ContainerStartError) as info:
        run(driver, rootfs, ["/etc/passwd"])
    assert info.value.exit_code == 126
    assert str(info.value) == 'exec: "/etc/passwd": permission denied'


def test_script_without_interpreter(driver, rootfs):
    with open(os.path.join(rootfs, "bin", "script"), "w") as f:
        f.write("#!/no/such/interpreter\n")
    os.chmod(os.path.join(rootfs, "bin", "script"), 0o755)
    with pytest.raises(ContainerStartError) as info:
        run(driver, rootfs, ["script"])
    assert info.value.exit_code == 127
    assert str(info.value) == 'exec: "script": no such file or directory'


def test_missing_volume_source_fails_to_start(driver, rootfs, tmp_path):
    with pytest.raises(ContainerStartError) as info:
        run(driver, rootfs, ["true"], mounts=[Mount(str(tmp_path / "missing"), "/data")])
    assert info.value.exit_code == 1
    # The container's path: the source may be the daemon's own (a volume under its graph root).
    assert str(info.value) == "mounting /data: No such file or directory"


# -- mounts ----------------------------------------------------------------------------------------


def test_bind_mounts_files_and_directories(driver, rootfs, tmp_path):
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 box localhost\n")
    data = tmp_path / "data"
    data.mkdir()
    (data / "in").write_text("from the host\n")
    result = run(
        driver,
        rootfs,
        sh("cat /etc/hosts /data/in && echo written > /data/out"),
        mounts=[Mount(str(hosts), "/etc/hosts"), Mount(str(data), "/data")],
    )
    assert (result.code, result.out) == (0, "127.0.0.1 box localhost\nfrom the host\n"), result.err
    assert (data / "out").read_text() == "written\n"


def test_read_only_volume(driver, rootfs, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    result = run(driver, rootfs, sh("touch /data/x"), mounts=[Mount(str(data), "/data", writable=False)])
    assert result.code != 0
    assert "Read-only file system" in result.err
    assert not (data / "x").exists()


def test_symlinks_in_the_image_cannot_send_mounts_to_the_host(driver, rootfs, tmp_path):
    outside = f"/tmp/lxc-docker-escape-{os.getpid()}"
    shutil.rmtree(os.path.join(rootfs, "etc"))
    os.symlink(f"../../../../../../..{outside}", os.path.join(rootfs, "etc"))
    hosts = tmp_path / "hosts"
    hosts.write_text("10.0.0.1 inside\n")
    result = run(driver, rootfs, ["cat", "/etc/hosts"], mounts=[Mount(str(hosts), "/etc/hosts")])
    assert (result.code, result.out) == (0, "10.0.0.1 inside\n"), result.err
    assert not os.path.exists(outside)
    assert os.path.exists(os.path.join(rootfs, outside.lstrip("/"), "hosts"))


# -- privileges ------------------------------------------------------------------------------------


def test_capabilities_are_dropped(driver, rootfs):
    result = run(
        driver,
        rootfs,
        # MKNOD is in Docker's default set: the node is made, the device cgroup refuses opening it.
        sh(
            "grep Cap /proc/self/status; ip link set lo down; hostname other; "
            "mknod /tmp/sda b 8 0; head -c1 /tmp/sda"
        ),
    )
    expected = capabilities.KEPT_MASK & _host_cap_bounding()
    assert _status_field(result.out, "CapEff") == expected
    assert _status_field(result.out, "CapBnd") == expected
    assert _status_field(result.out, "CapInh") == 0
    assert result.err.count("Operation not permitted") >= 3, result.err


def test_unprivileged_cannot_mount_or_set_the_clock(driver, rootfs):
    result = run(driver, rootfs, sh("mount -t tmpfs none /tmp || echo no-mount; date -s 2000.01.01-00:00"))
    assert "no-mount" in result.out
    assert "can't set date: Operation not permitted" in result.err  # busybox date exits 0 regardless
    assert time.time() > 1_700_000_000


def test_privileged_keeps_every_capability(driver, rootfs):
    result = run(
        driver,
        rootfs,
        sh("grep CapBnd /proc/self/status; mount -t tmpfs none /tmp && echo mounted"),
        privileged=True,
    )
    assert _status_field(result.out, "CapBnd") == _host_cap_bounding()
    assert "mounted" in result.out


def test_devices_cgroup_whitelist(driver, rootfs):
    device = "/dev/loop-control"
    if not os.path.exists(device):
        pytest.skip(f"{device} is missing on this host")
    listed: list[str] = []

    def on_start(pid: int) -> None:
        path = driver.cgroups.path(PARENT, command_ids[-1], "devices")
        with open(os.path.join(path, "devices.list")) as f:
            listed.extend(f.read().split("\n"))

    command_ids: list[str] = []
    mounts = [Mount(device, device)]
    unprivileged = make_command(rootfs, sh(f": < {device} && echo opened"), mounts=mounts)
    command_ids.append(unprivileged.id)
    with tempfile.TemporaryFile() as out:
        code = driver.run(unprivileged, Stdio(None, out.fileno(), out.fileno()), on_start)
        out.seek(0)
        text = out.read().decode()
    assert code != 0
    assert "Operation not permitted" in text
    assert set(filter(None, listed)) == set(devices.ALLOWED)

    result = run(driver, rootfs, sh(f": < {device} && echo opened; ls /dev/loop-control"), privileged=True)
    assert result.out.splitlines()[0] == "opened", result.err


# -- cgroup limits ---------------------------------------------------------------------------------


def test_memory_limit_is_written_and_enforced(driver, rootfs):
    limits: dict[str, int] = {}
    memory_dir = lambda id: driver.cgroups.path(PARENT, id, "memory")  # noqa: E731

    command = make_command(rootfs, sh('x=$(head -c 200000000 /dev/zero | tr "\\0" a); echo survived'))
    command.resources = Resources(memory=32 << 20)

    def on_start(pid: int) -> None:
        for name in ("memory.limit_in_bytes", "memory.memsw.limit_in_bytes"):
            path = os.path.join(memory_dir(command.id), name)
            if os.path.exists(path):
                with open(path) as f:
                    limits[name] = int(f.read())

    with tempfile.TemporaryFile() as out:
        code = driver.run(command, Stdio(None, out.fileno(), out.fileno()), on_start)
        out.seek(0)
        assert "survived" not in out.read().decode()
    assert code == 137  # the OOM killer's SIGKILL
    assert limits["memory.limit_in_bytes"] == 32 << 20
    if "memory.memsw.limit_in_bytes" in limits:
        assert limits["memory.memsw.limit_in_bytes"] == 64 << 20


def test_cpu_shares_are_written(driver, rootfs):
    seen: list[int] = []
    command = make_command(rootfs, ["true"], resources=Resources(cpu_shares=512))

    def on_start(pid: int) -> None:
        with open(os.path.join(driver.cgroups.path(PARENT, command.id, "cpu"), "cpu.shares")) as f:
            seen.append(int(f.read()))

    with open(os.devnull, "r+b") as null:
        assert driver.run(command, Stdio(None, null.fileno(), null.fileno()), on_start) == 0
    assert seen == [512]


def test_cgroup_v2_tree(rootfs):
    # A hybrid host has an (empty) cgroup v2 tree at /sys/fs/cgroup/unified: no controllers there,
    # but placement, listing, cgroup.kill and removal are the v2 code paths.
    unified = "/sys/fs/cgroup/unified"
    if not os.path.exists(os.path.join(unified, "cgroup.procs")):
        pytest.skip("no cgroup v2 tree")
    layout = cgroups.CgroupsV2(unified)
    driver_v2 = NativeDriver(cgroup_parent=PARENT, cgroups=layout)
    try:
        result = run(driver_v2, rootfs, ["cat", "/proc/self/cgroup"])
        assert result.code == 0
        assert any(line.startswith("0::/" + PARENT + "/") for line in result.out.splitlines())
        command = make_command(rootfs, sh("sleep 1000 & sleep 1000"))
        with open(os.devnull, "r+b") as null:
            pid = driver_v2.start(command, Stdio(None, null.fileno(), null.fileno()))
        poll(lambda: len(driver_v2.pids(command.id)) >= 2, what="two processes")
        assert pid in driver_v2.pids(command.id)
        driver_v2.cleanup(command.id)  # cgroup.kill
        assert driver_v2.wait(command.id) == 137
        assert _child_cgroups(layout) == []
    finally:
        _remove_parent(layout)


# -- network ---------------------------------------------------------------------------------------


def test_network_interface_becomes_eth0(driver, rootfs):
    suffix = os.getpid() % 100000
    host_end, container_end = f"ldh{suffix}", f"ldc{suffix}"
    subprocess.run(["ip", "link", "add", host_end, "type", "veth", "peer", "name", container_end], check=True)
    try:
        network = Network(
            interface=container_end,
            address="10.213.7.2/24",
            gateway="10.213.7.1",
            mtu=1400,
            mac="02:42:0a:d5:07:02",
        )
        result = run(driver, rootfs, sh("ip addr show eth0; ip route; cat /proc/net/dev"), network=network)
        assert result.code == 0, result.err
        assert "inet 10.213.7.2/24 brd 10.213.7.255" in result.out
        assert "link/ether 02:42:0a:d5:07:02" in result.out
        assert "mtu 1400" in result.out
        assert "default via 10.213.7.1 dev eth0" in result.out
        assert container_end not in result.out
    finally:
        subprocess.run(["ip", "link", "del", host_end], capture_output=True)
        # The container's namespace, and with it the veth pair, is destroyed asynchronously.
        poll(
            lambda: subprocess.run(["ip", "link", "show", host_end], capture_output=True).returncode != 0,
            what="the veth pair to go",
        )


# -- concurrency and restarts ----------------------------------------------------------------------


def test_twenty_containers_at_once(driver, rootfs):
    results: dict[int, Result] = {}
    errors: list[BaseException] = []

    def one(i: int) -> None:
        try:
            results[i] = run(driver, rootfs, sh("echo $$ $(hostname)"), hostname=f"box-{i}")
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert {i: (r.code, r.out) for i, r in results.items()} == {i: (0, f"1 box-{i}\n") for i in range(20)}


_OLD_DAEMON = r"""
import os, sys
sys.path.insert(0, sys.argv[1])
from lxc_docker.sysutil import syscalls
# This process stands for the host's init: the orphaned container becomes its child, not the test's.
syscalls.prctl(syscalls.PR_SET_CHILD_SUBREAPER, 1)
daemon = os.fork()
if daemon == 0:
    from lxc_docker.execution.base import Command, Stdio
    from lxc_docker.execution.native.driver import NativeDriver
    null = os.open(os.devnull, os.O_RDWR)
    pid = NativeDriver().start(Command.from_json(sys.argv[2]), Stdio(None, null, null))
    os.write(1, b"%d\n" % pid)
    os._exit(0)  # the daemon dies, its container lives on
os.waitpid(daemon, 0)
while True:
    try:
        os.wait()
    except ChildProcessError:
        break
"""


def test_adopt_after_a_daemon_restart(driver, rootfs):
    command = make_command(rootfs, ["sleep", "1000"])
    host_init = subprocess.Popen(
        [sys.executable, "-c", _OLD_DAEMON, APP, command.to_json()], stdout=subprocess.PIPE, text=True
    )
    try:
        pid = int(host_init.stdout.readline())
        restarted = NativeDriver(cgroup_parent=PARENT)
        assert restarted.is_alive(command.id, pid)
        assert restarted.pids(command.id) == [pid]
        outcome: list[int | None] = []
        waiter = threading.Thread(target=lambda: outcome.append(restarted.adopt(command, pid)))
        waiter.start()
        poll(lambda: command.id in restarted._running, what="adopt() to register the container")
        assert waiter.is_alive()
        restarted.kill(command, signal.SIGKILL)
        waiter.join(30)
        assert outcome == [None]  # not our child: no exit status
        assert not restarted.is_alive(command.id, pid)
    finally:
        if host_init.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        host_init.wait(30)
        host_init.stdout.close()


def test_adopt_of_a_recycled_or_dead_pid_returns_at_once(driver, rootfs):
    command = make_command(rootfs, ["true"])
    assert driver.adopt(command, os.getpid()) is None
    assert not driver.is_alive(command.id, os.getpid())
    assert driver.adopt(command, 2**22 + 4321) is None
