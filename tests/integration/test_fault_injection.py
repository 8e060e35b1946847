"""Faults lose nothing: the daemon is SIGKILLed inside each multi-step operation (rm -v, commit, a
build, import, load, rmi, tag), restarted, and then

- what the user sees is all or nothing (after rm -v: the container and its volume, or neither;
  after commit/import/load: the tag and its images, or neither; after rmi: both, or neither);
- `docker -d --check` finds nothing wrong in the store, iptables rules and mounts included (with the
  daemon killed again once it has recovered).

Where it dies: at each step of the operation's intent (the daemon's test-only hook
LXC_DOCKER_TEST_CRASH=op:N, see sysutil/journal.py), at an instant seen from outside (rm -v: the
container directory is gone), and at random instants over the operation's measured duration. The seed
is printed; LXC_DOCKER_FAULT_SEED=N replays it, LXC_DOCKER_FAULT_KILLS=N changes how many random
instants each operation gets.
"""

from __future__ import annotations

import http.client
import io
import json
import os
import random
import subprocess
import tarfile
import threading
import time
from collections.abc import Callable

import pytest

from lib.daemon import Daemon, docker_cmd, our_env
from lib.poll import wait_for
from lib.unixhttp import request

SEED = int(os.environ.get("LXC_DOCKER_FAULT_SEED") or random.SystemRandom().randrange(1 << 31))
KILLS = int(os.environ.get("LXC_DOCKER_FAULT_KILLS") or 2)
CRASH_ENV = "LXC_DOCKER_TEST_CRASH"


class Faults:
    """One daemon on its own root, killed and restarted around operations."""

    def __init__(self, d: Daemon, busybox_tar: str, name: str) -> None:
        self.d = d
        self.rng = random.Random(f"{SEED}-{name}")
        print(f"fault injection seed {SEED} (LXC_DOCKER_FAULT_SEED={SEED} replays it)")
        d.start()
        d.out("import", "-", "busybox", input=open(busybox_tar, "rb").read())
        self.attempts = 0

    def call(self, method: str, path: str, body: bytes | None = None, ctype: str = "application/json"):
        return request(self.d.sock, method, path, body, {"Content-Type": ctype}, timeout=60)

    def timed(self, send: Callable[[], object]) -> float:
        """Run the operation once without a fault; its duration bounds the random kill instants."""
        start = time.monotonic()
        status = send()[0]
        assert status < 300, status
        return time.monotonic() - start

    def crash(
        self,
        send: Callable[[], object],
        *,
        step: str = "",
        delay: float | None = None,
        when: Callable[[], bool] | None = None,
    ) -> str:
        """Start `send` and kill the daemon: at intent step `step` ("op:N"), after `delay` seconds, or
        as soon as `when()` holds. Then restart it. Returns how it died, for messages."""
        self.attempts += 1
        if step:
            self._restart({CRASH_ENV: step})
        worker = threading.Thread(target=self._quietly, args=(send,), daemon=True)
        worker.start()
        if step:
            self.d.proc.wait(30)
            assert self.d.proc.returncode == -9, f"the hook {step} did not fire:\n{self.d.log()}"
            how = f"hook {step}"
        else:
            if delay is not None:
                time.sleep(delay)  # the random kill instant itself, not a wait for a condition
                how = f"after {delay:.3f}s (seed {SEED})"
            else:
                assert wait_for(when, timeout=30, interval=0.0005), "the watched instant never came"
                how = "at the watched instant"
            self.d.proc.kill()
            self.d.proc.wait(10)
        worker.join(30)
        self._restart({})
        return how

    def check_store(self, how: str) -> None:
        """Kill the restarted daemon (what it recovered is on disk by now; a kill, not a stop, so that
        no shutdown tidies rules or mounts away before the checker looks), check, start it again."""
        self.d.kill()
        result = subprocess.run(
            docker_cmd() + ["-d", "--check", "-g", self.d.root, "-p", self.d.pidfile],
            capture_output=True,
            text=True,
            env=our_env(),
            timeout=60,
        )
        assert result.returncode == 0, f"killed {how}: checker found\n{result.stdout}{result.stderr}"
        self._restart({})

    def _restart(self, env: dict[str, str]) -> None:
        if self.d.proc is not None and self.d.proc.poll() is None:
            self.d.stop()
        old = os.environ.pop(CRASH_ENV, None)
        os.environ.update(env)
        started = self._starts()
        try:
            self.d.start()
        finally:
            os.environ.pop(CRASH_ENV, None)
            if old is not None:
                os.environ[CRASH_ENV] = old
        # It answers before it has restarted the containers that ran (-r); a kill in between would be
        # a fault in `start`, not in the operation under test.
        assert wait_for(lambda: self._starts() > started, timeout=30), self.d.log()

    def _starts(self) -> int:
        try:
            with open(self.d.log_path, errors="replace") as f:
                return f.read().count("INFO lxc_docker: daemon started:")
        except FileNotFoundError:
            return 0

    @staticmethod
    def _quietly(send: Callable[[], object]) -> None:
        try:
            send()
        except (OSError, http.client.HTTPException):
            pass  # the daemon died under the request: expected

    def random_delays(self, duration: float) -> list[float]:
        return [self.rng.uniform(0, duration) for _ in range(KILLS)]

    def image_ids(self) -> set[str]:
        return set(self.d.out("images", "-a", "-q", "--no-trunc").split())

    def tag_of(self, name: str) -> str | None:
        status, _, body = self.call("GET", f"/v1.9/images/{name}/json")
        return json.loads(body)["id"] if status == 200 else None


@pytest.fixture
def make_faults(daemon_factory, busybox_tar, request):
    made: list[Faults] = []

    def make(*daemon_args: str) -> Faults:
        made.append(Faults(daemon_factory(*daemon_args), busybox_tar, request.node.name))
        return made[-1]

    yield make
    for f in made:
        # A test that failed with its daemon killed: a start removes what the crash left (rules,
        # mounts), then daemon_factory stops it.
        if f.d.proc is not None and f.d.proc.poll() is not None:
            f.d.start()


@pytest.fixture
def faults(make_faults):
    return make_faults()


# -- rm -v ------------------------------------------------------------------------------------------


def test_rm_v_removes_the_container_and_its_volume_or_neither(faults):
    d = faults.d

    def container_with_volume() -> tuple[str, str]:
        # Many files in its layer make the removal long enough to be caught in the middle.
        cid = d.out(
            "run", "-d", "-v", "/data", "busybox", "sh", "-c",
            "i=0; while [ $i -lt 800 ]; do : > /f$i; i=$((i+1)); done; echo kept > /data/x",
        ).strip()  # fmt: skip
        d.out("wait", cid)
        volume = json.loads(d.out("inspect", cid))[0]["Volumes"]["/data"]
        assert os.path.isfile(os.path.join(volume, "x"))
        return cid, volume

    def rm(cid: str) -> Callable[[], object]:
        return lambda: faults.call("DELETE", f"/v1.9/containers/{cid}?v=1")

    def outcome(cid: str, volume: str, how: str) -> None:
        exists = d.cli("inspect", cid).returncode == 0
        assert exists == os.path.isdir(volume), (
            f"killed {how}: container {'kept' if exists else 'gone'} but its volume "
            f"{'gone' if exists else 'left behind, unreachable'}"
        )
        if exists:
            d.out("rm", "-v", cid)
        assert not os.path.exists(volume)

    cid, volume = container_with_volume()
    container_dir = os.path.join(d.root, "containers", cid)
    how = faults.crash(rm(cid), when=lambda: not os.path.exists(container_dir))
    outcome(cid, volume, how)
    faults.check_store(how)

    cid, volume = container_with_volume()
    duration = faults.timed(rm(cid))
    kills = [{"step": f"rm:{n}"} for n in range(3)] + [{"delay": t} for t in faults.random_delays(duration)]
    for kill in kills:
        cid, volume = container_with_volume()
        how = faults.crash(rm(cid), **kill)
        outcome(cid, volume, how)
        faults.check_store(how)

    # A plain rm keeps the volume on purpose (Docker 0.9): not a leak for the checker.
    cid, volume = container_with_volume()
    d.out("rm", cid)
    assert os.path.isdir(volume)
    faults.check_store("nowhere (a plain rm)")


def test_rm_f_of_a_running_container_with_a_port_leaves_no_rule(make_faults, test_bridge):
    faults = make_faults("-b", test_bridge)
    d = faults.d

    def running() -> str:
        # It leaves on SIGTERM (a plain sleep as PID 1 ignores it), so restarts take no stop timeout.
        command = "trap 'exit 0' TERM; sleep 600 & wait"
        return d.out("run", "-d", "-p", "80", "busybox", "sh", "-c", command).strip()

    def rm(cid: str) -> Callable[[], object]:
        return lambda: faults.call("DELETE", f"/v1.9/containers/{cid}?v=1&force=1")

    # The rules go when the container dies, before rm's own steps (covered above): random instants.
    duration = faults.timed(rm(running()))
    kills = [{"delay": t} for t in faults.random_delays(duration)]
    for kill in kills:
        cid = running()
        how = faults.crash(rm(cid), **kill)
        # The checker sees the rules of what still runs as live, and any other rule as stale.
        faults.check_store(how)
        if d.cli("inspect", cid).returncode == 0:
            d.out("rm", "-f", cid)
    faults.check_store("after the last rm -f")


# -- commit and import --------------------------------------------------------------------------------


def _tagged_or_nothing(faults: Faults, name: str, before: set[str], how: str) -> None:
    after = faults.image_ids()
    image = faults.tag_of(name)
    if image is None:
        assert after == before, f"killed {how}: no tag {name} but new images {after - before}"
    else:
        assert after - before == {image}, f"killed {how}: {name} is {image}, new images {after - before}"


def test_commit_makes_image_and_tag_or_neither(faults):
    d = faults.d
    cid = d.out("run", "-d", "busybox", "sh", "-c", "echo committed > /c").strip()
    d.out("wait", cid)

    def commit(n: int) -> Callable[[], object]:
        return lambda: faults.call("POST", f"/v1.9/commit?container={cid}&repo=crash/commit&tag=a{n}")

    duration = faults.timed(commit(0))
    kills = [{"step": f"commit:{n}"} for n in range(3)] + [
        {"delay": t} for t in faults.random_delays(duration)
    ]
    for n, kill in enumerate(kills, 1):
        before = faults.image_ids()
        how = faults.crash(commit(n), **kill)
        _tagged_or_nothing(faults, f"crash/commit:a{n}", before, how)
        faults.check_store(how)


def test_import_makes_image_and_tag_or_neither(faults, busybox_tar):
    payload = open(busybox_tar, "rb").read()

    def imp(n: int) -> Callable[[], object]:
        path = f"/v1.9/images/create?fromSrc=-&repo=crash/import&tag=a{n}"
        return lambda: faults.call("POST", path, payload, "application/x-tar")

    duration = faults.timed(imp(0))
    # import shares commit's steps (ImageService.create_tagged): the one between image and tag here.
    kills = [{"step": "import:1"}] + [{"delay": t} for t in faults.random_delays(duration)]
    for n, kill in enumerate(kills, 1):
        before = faults.image_ids()
        how = faults.crash(imp(n), **kill)
        _tagged_or_nothing(faults, f"crash/import:a{n}", before, how)
        faults.check_store(how)


# -- load, rmi, tag ---------------------------------------------------------------------------------


def test_load_and_rmi_are_all_or_nothing(faults):
    d = faults.d
    # Two images above busybox, the top one tagged: what load brings and what rmi takes away.
    first = d.out("run", "-d", "busybox", "sh", "-c", "echo 1 > /one").strip()
    d.out("wait", first)
    d.out("commit", first, "crash/mid")
    second = d.out("run", "-d", "crash/mid", "sh", "-c", "echo 2 > /two").strip()
    d.out("wait", second)
    d.out("commit", second, "crash/load")
    chain = {faults.tag_of("crash/mid"), faults.tag_of("crash/load")}
    archive = d.cli("save", "crash/load", check=True).stdout
    d.out("rm", first, second)
    d.out("rmi", "crash/mid")  # untag only: crash/load still needs it

    def load() -> tuple[int, dict, bytes]:
        return faults.call("POST", "/v1.9/images/load", archive, "application/x-tar")

    def rmi() -> tuple[int, dict, bytes]:
        return faults.call("DELETE", "/v1.9/images/crash/load")

    def whole_or_none(how: str) -> bool:
        present = chain & faults.image_ids()
        tagged = faults.tag_of("crash/load") is not None
        assert present in (set(), chain), f"killed {how}: only {present} of the chain {chain}"
        assert tagged == (present == chain), f"killed {how}: tag {tagged}, images {present}"
        return tagged

    rmi_duration = faults.timed(rmi)
    load_duration = faults.timed(load)
    kills = (
        [("load", {"step": f"load:{n}"}) for n in range(4)]
        + [("rmi", {"step": f"rmi:{n}"}) for n in range(4)]
        + [("load", {"delay": t}) for t in faults.random_delays(load_duration)]
        + [("rmi", {"delay": t}) for t in faults.random_delays(rmi_duration)]
    )
    for op, kill in kills:
        # Each attempt starts from the state its operation changes: loaded for rmi, absent for load.
        if whole_or_none("before") != (op == "rmi"):
            assert (load if op == "rmi" else rmi)()[0] == 200
        how = faults.crash(load if op == "load" else rmi, **kill)
        whole_or_none(f"in {op} {how}")
        faults.check_store(how)

    # A tag is one atomic write of the tag store: there or not, never a torn file.
    image = faults.tag_of("busybox")
    for n, delay in enumerate(faults.random_delays(0.05)[:1]):
        how = faults.crash(
            lambda n=n: faults.call("POST", f"/v1.9/images/busybox/tag?repo=crash/tag&tag=a{n}"), delay=delay
        )
        assert faults.tag_of(f"crash/tag:a{n}") in (None, image), how
        faults.check_store(how)


# -- build ------------------------------------------------------------------------------------------


def _context(n: int) -> bytes:
    # A line of its own first, so no step comes from the cache; VOLUME gives each RUN container a
    # volume, which --rm must take with it.
    dockerfile = (
        f"FROM busybox\nRUN echo {n} > /attempt\nVOLUME /vol\nRUN echo one > /one\nRUN echo two > /two\n"
    ).encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(dockerfile)
        tar.addfile(info, io.BytesIO(dockerfile))
    return buf.getvalue()


def test_build_leaves_a_whole_image_or_none(faults):
    d = faults.d

    def build(n: int) -> Callable[[], object]:
        path = f"/v1.9/build?t=crash/build:a{n}&rm=1"
        return lambda: faults.call("POST", path, _context(n), "application/x-tar")

    duration = faults.timed(build(0))
    # A RUN container's volume made but the container not registered yet, and an intermediate
    # container half removed by --rm (the other steps are rm -v's and commit's, covered above).
    kills = [{"step": s} for s in ("create:1", "rm:1")]
    kills += [{"delay": t} for t in faults.random_delays(duration)]
    for n, kill in enumerate(kills, 1):
        how = faults.crash(build(n), **kill)
        image = faults.tag_of(f"crash/build:a{n}")
        if image is not None:
            # Tagged means finished: every step's layer is in the image.
            out = d.out("run", "--rm", f"crash/build:a{n}", "cat", "/attempt", "/one", "/two")
            assert out.split() == [str(n), "one", "two"], how
        faults.check_store(how)


def test_check_refuses_while_a_daemon_runs_on_the_root(daemon_factory):
    d = daemon_factory().start()
    command = docker_cmd() + ["-d", "--check", "-g", d.root, "-p", d.pidfile]
    running = subprocess.run(command, capture_output=True, text=True, env=our_env(), timeout=60)
    assert running.returncode == 2, running
    assert "a daemon is running on this root" in running.stderr
    d.stop()
    stopped = subprocess.run(command, capture_output=True, text=True, env=our_env(), timeout=60)
    assert (stopped.returncode, stopped.stdout) == (0, f"{d.root}: clean\n"), stopped
