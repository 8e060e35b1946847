"""Starts a real lxc-docker daemon for integration tests: its own graph root, socket and pidfile."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
APP = os.path.join(REPO, "app")


def our_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = APP + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.pop("DOCKER_HOST", None)
    # Names without a registry host would go to Docker Hub: tests never reach it (a closed loopback port).
    env.setdefault("LXC_DOCKER_DEFAULT_REGISTRY", "127.0.0.1:1")
    env.update(extra or {})
    return env


def docker_cmd() -> list[str]:
    return [sys.executable, "-m", "lxc_docker"]


def ping(sock_path: str, timeout: float = 0.5) -> bool:
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(sock_path)
        s.sendall(b"GET /_ping HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n")
        data = s.recv(64)
        s.close()
        return data.startswith(b"HTTP/1.1 200")
    except OSError:
        return False


@dataclass
class Daemon:
    base: str
    extra_args: list[str] = field(default_factory=list)
    proc: subprocess.Popen | None = None
    # The program run as `docker` for the daemon and cli(); None: this checkout (docker_cmd()). The
    # benchmarks pass the zipapp packaging/build.sh makes, which is what users get.
    entry: list[str] | None = None
    debug: bool = True  # -D

    @property
    def sock(self) -> str:
        return os.path.join(self.base, "docker.sock")

    @property
    def host(self) -> str:
        return "unix://" + self.sock

    @property
    def root(self) -> str:
        return os.path.join(self.base, "root")

    @property
    def pidfile(self) -> str:
        return os.path.join(self.base, "docker.pid")

    @property
    def log_path(self) -> str:
        return os.path.join(self.base, "daemon.log")

    def args(self) -> list[str]:
        # Never the host's docker0: without a test bridge (-b) the daemon runs without networking.
        bridge = (
            []
            if any(a in ("-b", "--bridge") or a.startswith(("-b=", "--bridge=")) for a in self.extra_args)
            else ["-b", "none"]
        )
        return (self.entry or docker_cmd()) + [
            "-d",
            *(["-D"] if self.debug else []),
            "-H",
            self.host,
            "-g",
            self.root,
            "-p",
            self.pidfile,
            *bridge,
            *self.extra_args,
        ]

    def start(self, timeout: float = 20.0) -> Daemon:
        os.makedirs(self.base, exist_ok=True)
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            self.args(), stdout=log, stderr=subprocess.STDOUT, env=our_env(), start_new_session=True
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"daemon exited with {self.proc.returncode}:\n{self.log()}")
            if ping(self.sock):
                return self
            time.sleep(0.02)
        self.kill()
        raise RuntimeError(f"daemon did not answer within {timeout}s:\n{self.log()}")

    def log(self) -> str:
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()[-5000:]
        except OSError:
            return ""

    def stop(self, timeout: float = 30.0) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def keeper_pids(self) -> list[int]:
        """Pids of the native driver's keeper processes serving this daemon's root."""
        return _pids_with_argv(["keeper", self.root])

    def kill_keeper(self) -> None:
        """SIGKILL the keeper that outlives a killed daemon (live restore) and the containers it holds:
        a test that never restarts its daemon must not leave them running."""
        for pid in self.keeper_pids():
            for child in _children(pid):
                _sigkill(child)
            _sigkill(pid)

    def cli(
        self,
        *args: str,
        input: bytes | None = None,
        timeout: float = 60,
        env: dict[str, str] | None = None,
        check: bool = False,
    ) -> subprocess.CompletedProcess:
        result = subprocess.run(
            (self.entry or docker_cmd()) + ["-H", self.host, *args],
            input=input,
            capture_output=True,
            timeout=timeout,
            env=our_env(env),
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"docker {' '.join(args)} exited {result.returncode}\nstdout: {result.stdout!r}\n"
                f"stderr: {result.stderr!r}"
            )
        return result

    def out(self, *args: str, input: bytes | None = None) -> str:
        return self.cli(*args, input=input, check=True).stdout.decode()

    def import_busybox(self, busybox_tar: str) -> Daemon:
        """`docker import` the test image as `busybox` (tests/lib/busybox.py builds the tar)."""
        with open(busybox_tar, "rb") as f:
            self.cli("import", "-", "busybox", input=f.read(), check=True)
        return self


def remove_base(base: str) -> None:
    """Unmount what a daemon (a crashed one too) left mounted under `base`, then delete it."""
    with open("/proc/self/mounts") as f:
        mounts = [line.split()[1] for line in f if line.split()[1].startswith(base + "/")]
    for mnt in sorted(mounts, reverse=True):
        subprocess.run(["umount", "-l", mnt], check=False)
    shutil.rmtree(base, ignore_errors=True)


@contextmanager
def own_daemon(busybox_tar: str, args: Sequence[str] = (), prefix: str = "ldt-") -> Iterator[Daemon]:
    """A daemon with `args` on a base of its own under /tmp (short: socket paths are limited to
    108 bytes), with the busybox image; afterwards stopped (killed if it will not stop), its keeper
    and containers killed, its mounts and base removed. For fixtures that outlive one test
    (module-scoped, parametrized by driver), where daemon_factory cannot serve."""
    daemon = Daemon(tempfile.mkdtemp(prefix=prefix, dir="/tmp"), list(args)).start()
    try:
        yield daemon.import_busybox(busybox_tar)
    finally:
        try:
            daemon.stop()
        finally:
            daemon.kill()
            daemon.kill_keeper()
            remove_base(daemon.base)


def _pids_with_argv(words: list[str]) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv = f.read().decode(errors="replace").split("\0")
        except OSError:
            continue
        if all(w in argv for w in words):
            found.append(int(entry))
    return found


def _children(pid: int) -> list[int]:
    kids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            kids.append(int(entry))
    return kids


def _sigkill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
