"""Live restore: running containers survive a `kill -9` of the daemon whole (status, log without a
gap, exit code, stop, attach), through one keeper process per daemon and none per container."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import urllib.request

import pytest

from lib.daemon import docker_cmd, our_env
from lib.poll import poll

# Prints a number every 0.2 s, and writes the last one to a volume, so the test sees it go on while
# the daemon is down.
COUNTER = "i=0; while true; do echo $i; echo $i > /out/n; i=$((i+1)); sleep 0.2; done"


@pytest.fixture
def live(daemon_factory, busybox_tar, tmp_path):
    d = daemon_factory().start()
    d.out("import", "-", "busybox", input=open(busybox_tar, "rb").read())
    out = tmp_path / "out"
    out.mkdir()
    d.outdir = str(out)
    yield d
    if d.proc is not None and d.proc.poll() is None:
        for cid in d.out("ps", "-q", "--no-trunc").split():
            d.cli("kill", cid)
    d.stop()
    for pid in keepers(d):  # a test that failed half-way
        os.kill(pid, signal.SIGKILL)


def keepers(d) -> list[int]:
    """Pids of the keeper processes serving daemon `d`'s root."""
    return d.keeper_pids()


def parent_of(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


def children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                tree.setdefault(parent_of(int(name)), []).append(int(name))
            except (OSError, IndexError, ValueError):
                pass
    return tree


def in_container(pid: int, cid: str) -> bool:
    try:
        with open(f"/proc/{pid}/cgroup") as f:
            return cid in f.read()
    except OSError:
        return False


def inspect(d, name: str) -> dict:
    return json.loads(d.out("inspect", name))[0]


def last_number(d) -> int:
    try:
        with open(os.path.join(d.outdir, "n")) as f:
            return int(f.read().strip() or -1)
    except (OSError, ValueError):
        return -1


def logged(d, cid: str) -> list[int]:
    return [int(line) for line in d.out("logs", cid).replace("\r", "").split()]


def crash(d) -> None:
    d.proc.kill()
    d.proc.wait(10)


def test_a_counting_container_survives_a_kill_9_of_the_daemon(live):
    d = live
    cid = d.out("run", "-d", "-v", f"{d.outdir}:/out", "busybox", "sh", "-c", COUNTER).strip()
    poll(lambda: last_number(d) >= 3, 20, "the container to count")
    crash(d)
    at_crash = last_number(d)
    poll(
        lambda: last_number(d) >= at_crash + 10,
        30,
        "the container to go on counting while the daemon is down",
    )
    counted_while_down = last_number(d)
    d.start()

    state = inspect(d, cid)["State"]
    assert state["Running"] and not state.get("Ghost")
    listing = d.out("ps")
    assert "Up" in listing and "Ghost" not in listing
    # Every line printed while the daemon was down is in the log, and new ones keep coming.
    numbers = poll(lambda: (n := logged(d, cid)) and n[-1] > counted_while_down + 3 and n, 30, "new lines")
    assert numbers == list(range(len(numbers))), "a gap in the log"

    # One keeper for this daemon, the container's PID 1 its child, and no other process of ours.
    [keeper] = keepers(d)
    pid = state["Pid"]
    assert parent_of(pid) == keeper
    tree = children()
    # (the restarted daemon found the first one's keeper: it is not its child)
    assert tree.get(keeper) == [pid] and tree.get(d.proc.pid, []) == []

    # attach gets new output, logs -f follows, stop gives the usual exit code through wait and inspect.
    attach = subprocess.Popen(
        docker_cmd() + ["-H", d.host, "attach", cid], stdout=subprocess.PIPE, env=our_env()
    )
    follow = subprocess.Popen(
        docker_cmd() + ["-H", d.host, "logs", "-f", cid], stdout=subprocess.PIPE, env=our_env()
    )
    try:
        first = int(attach.stdout.readline())
        assert int(attach.stdout.readline()) == first + 1
        assert [int(follow.stdout.readline()) for _ in range(3)] == [0, 1, 2]
        waiter = subprocess.Popen(
            docker_cmd() + ["-H", d.host, "wait", cid], stdout=subprocess.PIPE, env=our_env()
        )
        d.out("stop", "-t", "1", cid)
        assert waiter.communicate(timeout=30)[0].strip() == b"137"  # sh as PID 1 ignores SIGTERM
        assert attach.wait(30) == 137  # attach ends with the container, with its exit code
        assert follow.wait(30) == 0
    finally:
        attach.kill()
        follow.kill()
    assert inspect(d, cid)["State"]["ExitCode"] == 137
    numbers = logged(d, cid)
    assert numbers == list(range(len(numbers)))
    d.out("rm", cid)
    assert d.stop() == 0
    # The keeper the first daemon started is not this one's child; it goes when nothing holds it.
    poll(lambda: keepers(d) == [], 20, "the keeper to exit with nothing left to keep and no daemon")


def test_exit_code_of_a_container_that_exits_while_the_daemon_is_down(live):
    d = live
    script = "echo start; while [ ! -e /out/go ]; do sleep 0.05; done; echo bye; exit 3"
    cid = d.out("run", "-d", "-v", f"{d.outdir}:/out", "busybox", "sh", "-c", script).strip()
    poll(lambda: d.out("logs", cid) == "start\n", 20, "the container to start")
    pid = inspect(d, cid)["State"]["Pid"]
    crash(d)
    open(os.path.join(d.outdir, "go"), "w").close()
    poll(lambda: not os.path.exists(f"/proc/{pid}"), 30, "PID 1 to exit and be reaped by the keeper")
    d.start()
    assert d.out("wait", cid).strip() == "3"
    state = inspect(d, cid)["State"]
    assert not state["Running"] and state["ExitCode"] == 3
    assert d.out("logs", cid) == "start\nbye\n"
    assert "Exit 3" in d.out("ps", "-a")
    d.out("rm", cid)


def test_exit_code_of_a_container_that_exits_after_the_restart(live):
    d = live
    script = "echo start; while [ ! -e /out/go ]; do sleep 0.05; done; echo bye; exit 3"
    cid = d.out("run", "-d", "-v", f"{d.outdir}:/out", "busybox", "sh", "-c", script).strip()
    poll(lambda: d.out("logs", cid) == "start\n", 20, "the container to start")
    crash(d)
    d.start()
    assert "Up" in d.out("ps")
    waiter = subprocess.Popen(
        docker_cmd() + ["-H", d.host, "wait", cid], stdout=subprocess.PIPE, env=our_env()
    )
    open(os.path.join(d.outdir, "go"), "w").close()
    assert waiter.communicate(timeout=30)[0].strip() == b"3"
    assert inspect(d, cid)["State"]["ExitCode"] == 3
    assert d.out("logs", cid) == "start\nbye\n"
    # A second crash and restart changes nothing for a stopped container; it can run again.
    crash(d)
    d.start()
    assert inspect(d, cid)["State"]["ExitCode"] == 3
    os.unlink(os.path.join(d.outdir, "go"))
    d.out("start", cid)
    poll(lambda: d.out("logs", cid).count("start") == 2, 20, "the second run")
    open(os.path.join(d.outdir, "go"), "w").close()
    assert d.out("wait", cid).strip() == "3"
    d.out("rm", cid)


def test_a_tty_container_survives_too(live):
    d = live
    cid = d.out("run", "-d", "-t", "-v", f"{d.outdir}:/out", "busybox", "sh", "-c", COUNTER).strip()
    poll(lambda: last_number(d) >= 3, 20, "the container to count")
    crash(d)
    at_crash = last_number(d)
    poll(
        lambda: last_number(d) >= at_crash + 5, 30, "the container to go on counting while the daemon is down"
    )
    d.start()
    assert "Up" in d.out("ps")
    numbers = poll(lambda: (n := logged(d, cid)) and n[-1] > at_crash + 8 and n, 30, "new lines")
    assert numbers == list(range(len(numbers))), "a gap in the log"
    d.out("kill", cid)
    assert d.out("wait", cid).strip() == "137"
    d.out("rm", cid)


def test_stdin_stays_open_across_a_crash(live):
    d = live
    script = "while read line; do echo got $line; done; exit 4"
    cid = d.out("run", "-d", "-i", "busybox", "sh", "-c", script).strip()
    crash(d)
    d.start()
    assert "Up" in d.out("ps"), "the container saw EOF on its stdin when the daemon died"
    attach = subprocess.Popen(
        docker_cmd() + ["-H", d.host, "attach", cid],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=our_env(),
    )
    try:
        attach.stdin.write(b"hello\n")
        attach.stdin.flush()
        assert attach.stdout.readline() == b"got hello\n"
    finally:
        attach.kill()
        attach.wait(10)
    d.out("kill", cid)
    assert d.out("wait", cid).strip() == "137"


def test_with_the_keeper_killed_too_a_container_is_a_ghost(live):
    d = live
    cid = d.out("run", "-d", "busybox", "sleep", "300").strip()
    crash(d)
    for pid in keepers(d):
        os.kill(pid, signal.SIGKILL)
    d.start()
    assert "Ghost" in d.out("ps")
    d.out("kill", cid)
    poll(lambda: cid not in d.out("ps", "-q", "--no-trunc"), 20, "the killed ghost to leave ps")
    # New containers get a new keeper.
    assert d.out("run", "busybox", "echo", "after").strip() == "after"
    d.out("rm", cid)


def test_a_clean_stop_leaves_no_keeper_and_no_container(live):
    d = live
    first = d.out("run", "-d", "busybox", "sleep", "300").strip()
    second = d.out("run", "-d", "-t", "busybox", "sleep", "300").strip()
    pids = [inspect(d, c)["State"]["Pid"] for c in (first, second)]
    [keeper] = keepers(d)
    assert all(parent_of(p) == keeper for p in pids)
    assert d.stop() == 0
    assert keepers(d) == []
    assert not [p for p in pids if os.path.exists(f"/proc/{p}")]


def test_a_kept_container_the_daemon_no_longer_knows_is_stopped(live):
    d = live
    cid = d.out("run", "-d", "busybox", "sleep", "300").strip()
    pid = inspect(d, cid)["State"]["Pid"]
    crash(d)
    # Its record is gone (say, deleted by hand): the keeper must not keep it, nor itself, forever.
    shutil.rmtree(os.path.join(d.root, "containers", cid))
    d.start()
    poll(lambda: not os.path.exists(f"/proc/{pid}"), 30, "the unknown container to be stopped")
    assert cid not in d.out("ps", "-a", "-q", "--no-trunc")
    assert d.stop() == 0
    poll(lambda: keepers(d) == [], 20, "the keeper to exit")


def http_get(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.read().decode()
    except OSError:
        return ""


def test_a_published_port_works_after_the_restart(daemon_factory, busybox_tar, test_bridge):
    d = daemon_factory("-b", test_bridge).start()
    d.out("import", "-", "busybox", input=open(busybox_tar, "rb").read())
    httpd = "mkdir -p /www && echo hello from $(hostname) > /www/index.html && exec httpd -f -p 8080 -h /www"
    cid = d.out("run", "-d", "-p", "8080", "busybox", "sh", "-c", httpd).strip()
    port = d.out("port", cid, "8080").strip().rpartition(":")[2]
    url = f"http://127.0.0.1:{port}/index.html"
    poll(lambda: "hello from" in http_get(url), 20, "the published port to answer")
    address = inspect(d, cid)["NetworkSettings"]["IPAddress"]
    crash(d)
    d.start()
    assert "Up" in d.out("ps")
    poll(lambda: "hello from" in http_get(url), 20, "the published port to answer after the restart")
    assert inspect(d, cid)["NetworkSettings"]["IPAddress"] == address
    d.out("stop", "-t", "1", cid)
    assert inspect(d, cid)["State"]["ExitCode"] in (137, 143)
    d.out("rm", cid)


def test_a_resumed_container_is_started_again_after_a_clean_restart(live):
    d = live
    cid = d.out("run", "-d", "busybox", "sleep", "300").strip()
    crash(d)
    d.start()
    first_pid = inspect(d, cid)["State"]["Pid"]
    assert d.stop() == 0  # stops it; -r=true (the default) records it to start again
    assert not os.path.exists(f"/proc/{first_pid}")
    d.start()
    state = poll(lambda: (s := inspect(d, cid)["State"])["Running"] and s, 20, "the restart to start it")
    assert state["Pid"] != first_pid
    d.out("rm", "-f", cid)
