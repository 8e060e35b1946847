"""What the distribution tests share: the built release, fresh Debian roots, a release server, daemons.

A fresh root is an overlay on a cached `debootstrap --variant=minbase` tree (made once, about a
minute, kept under /var/cache/lxc-docker-e2e/ keyed by a hash of its package list): each test writes
only to its own upper directory, which is also the exact record of what it changed.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import http.server
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGING = REPO / "packaging"
DIST = PACKAGING / "dist"
CACHE = Path(os.environ.get("LXC_DOCKER_E2E_CACHE", "/var/cache/lxc-docker-e2e"))
SUITE = "bookworm"


def host_debian_mirror() -> str:
    """The Debian mirror this host's apt uses (its deb822 `.sources` or `sources.list`), so the roots
    come from the same registry as the host's own packages and no host name is written down here."""
    uris: list[str] = []
    for path in sorted(Path("/etc/apt/sources.list.d").glob("*.sources")):
        for line in path.read_text().splitlines():
            if line.startswith("URIs:"):
                uris += line.split()[1:]
    legacy = Path("/etc/apt/sources.list")
    if legacy.exists():
        for line in legacy.read_text().splitlines():
            words = [w for w in line.split() if not w.startswith("[")]
            if len(words) >= 3 and words[0] == "deb":
                uris.append(words[1])
    for uri in uris:
        if uri.rstrip("/").endswith("/debian"):
            return uri.rstrip("/")
    raise RuntimeError("no Debian mirror in /etc/apt sources; set LXC_DOCKER_E2E_MIRROR")


MIRROR = os.environ.get("LXC_DOCKER_E2E_MIRROR") or host_debian_mirror()
# What get.sh and the packages expect of a host: a downloader, python3 (for the zipapp and a build
# from a checkout), and the daemon's run-time dependencies, already there so that `dpkg -i` and
# `apt-get install ./x.deb` need nothing from the network.
BASE_PACKAGES = sorted(
    [
        "ca-certificates",
        "curl",
        "git",
        "iproute2",
        "iptables",
        "procps",
        "python3-seccomp",
        "python3",
        "python3-venv",
        "xz-utils",
    ]
)
# OpenRC conflicts with nothing in minbase, but update-rc.d changes behaviour when it is present, so
# it is not in the tree: its packages are kept beside it for the OpenRC test to install.
OPENRC_DEBS = ["openrc", "libeinfo1", "librc1", "insserv"]
CHROOT_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME": "/root",
    "LANG": "C.UTF-8",
    "TERM": "dumb",
}
# Keep the daemons of the tests off the host's network: no bridge, no iptables rules.
QUIET_DAEMON_OPTS = "-b none --iptables=false"


def deadline_poll(check, timeout: float, interval: float = 0.05, what: str = "condition"):
    """Calls check() until it returns a true value, which is returned; fails after `timeout` seconds."""
    end = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


# --- the release --------------------------------------------------------------------------------


def version() -> str:
    text = (REPO / "app" / "lxc_docker" / "__init__.py").read_text()
    return text.split('__version__ = "', 1)[1].split('"', 1)[0]


def _newest_source_mtime() -> float:
    newest = 0.0
    for top in (REPO / "app", REPO / "boot", REPO / "distro", PACKAGING, REPO / "pyproject.toml"):
        paths = [top] if top.is_file() else top.rglob("*")
        for p in paths:
            if any(part in ("build", "dist", "__pycache__") for part in p.relative_to(REPO).parts):
                continue
            if p.is_file():
                newest = max(newest, p.stat().st_mtime)
    return newest


def ensure_dist() -> Path:
    """packaging/dist as packaging/build.sh makes it, rebuilt when a source is newer than it."""
    sums = DIST / "SHA256SUMS"
    if not sums.exists() or sums.stat().st_mtime < _newest_source_mtime():
        subprocess.run([str(PACKAGING / "build.sh"), "all"], check=True)
    return DIST


def sums(dist: Path = DIST) -> dict[str, str]:
    out = {}
    for line in (dist / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split(None, 1)
        out[name.lstrip("*")] = digest
    return out


def artifact(kind: str) -> Path:
    names = {"zipapp": f"docker-{version()}.pyz", "binary": f"docker-{version()}-x86_64"}
    return DIST / names[kind]


class ReleaseServer:
    """Serves packaging/dist on 127.0.0.1 as a release; SHA256SUMS and any file can be replaced."""

    def __init__(self, root: Path, sums_text: str | None = None, replace: dict[str, bytes] | None = None):
        self.root = root
        self.overrides: dict[str, bytes] = dict(replace or {})
        if sums_text is not None:
            self.overrides["SHA256SUMS"] = sums_text.encode()
        self.requests: list[str] = []
        server = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, directory=str(server.root), **kwargs)

            def log_message(self, *args):
                pass

            def do_GET(self):
                name = self.path.lstrip("/")
                server.requests.append(name)
                if name in server.overrides:
                    body = server.overrides[name]
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                super().do_GET()

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def sums_without(patterns: tuple[str, ...], dist: Path = DIST) -> str:
    """SHA256SUMS minus the files whose names end with one of `patterns` (say, the packages)."""
    lines = (dist / "SHA256SUMS").read_text().splitlines()
    return "\n".join(line for line in lines if not line.split()[-1].endswith(patterns)) + "\n"


# --- Debian roots -------------------------------------------------------------------------------


def _cache_key(packages: list[str] | None = None, debs: list[str] | None = None) -> str:
    spec = {
        "suite": SUITE,
        "mirror": MIRROR,
        "variant": "minbase",
        "packages": BASE_PACKAGES if packages is None else packages,
        "openrc": OPENRC_DEBS if debs is None else debs,
        "layout": 1,
    }
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


def _current_keys() -> set[str]:
    return {_cache_key(), _cache_key([], [])}


def _tree(packages: list[str], debs: list[str]) -> Path:
    """A cached `debootstrap --variant=minbase` tree with `packages`, and `debs` downloaded beside it;
    made on first use, under a lock."""
    key = _cache_key(packages, debs)
    home = CACHE / key
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / f"{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (home / "complete").exists():
            return home / "root"
        shutil.rmtree(home, ignore_errors=True)
        home.mkdir()
        tmp = home / "root.tmp"
        include = ["--include=" + ",".join(packages)] if packages else []
        with open(home / "debootstrap.log", "w") as log:
            subprocess.run(
                ["debootstrap", "--variant=minbase", *include, SUITE, str(tmp), MIRROR],
                check=True,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        (home / "debs").mkdir()
        if debs:
            subprocess.run(["apt-get", "download", *debs], cwd=home / "debs", check=True, capture_output=True)
        tmp.rename(home / "root")
        (home / "complete").touch()
        # Trees made for an older package list are of no further use.
        keep = _current_keys()
        for other in CACHE.iterdir():
            if other.name.split(".")[0] not in keep:
                shutil.rmtree(other, ignore_errors=True) if other.is_dir() else other.unlink()
        return home / "root"


def base_root() -> Path:
    """The tree of most tests: minbase, the daemon's dependencies and python3 already in it, and the
    OpenRC debs beside it."""
    return _tree(BASE_PACKAGES, OPENRC_DEBS)


def minimal_root() -> Path:
    """Only what `debootstrap --variant=minbase` installs (less than Debian's smallest installation):
    no python3, iptables, iproute2, git, procps or ca-certificates. The README's quick start runs here."""
    return _tree([], [])


def openrc_debs() -> list[Path]:
    return sorted((CACHE / _cache_key() / "debs").glob("*.deb"))


def _mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True, capture_output=True)


class Root:
    """A fresh, writable Debian root on the cached tree, entered with chroot."""

    def __init__(self, base: Path, workdir: Path, netns: str | None = None) -> None:
        # netns: the name of a network namespace (ip netns) that every command of sh() runs in.
        self.netns = netns
        self.workdir = workdir
        self.upper = workdir / "upper"
        self.path = workdir / "root"
        for d in (self.upper, workdir / "work", self.path):
            d.mkdir(parents=True)
        _mount(
            "-t",
            "overlay",
            "overlay",
            "-o",
            f"lowerdir={base},upperdir={self.upper},workdir={workdir / 'work'}",
            str(self.path),
        )
        try:
            _mount("-t", "proc", "proc", str(self.path / "proc"))
            # rslave: unmounting our copies must never propagate back to the host's /dev and /sys.
            for src in ("/dev", "/sys"):
                _mount("--rbind", src, str(self.path / src.lstrip("/")))
                _mount("--make-rslave", str(self.path / src.lstrip("/")))
            # The daemon's graph root on tmpfs: overlayfs cannot stack on the overlay of this root.
            (self.path / "var/lib/docker").mkdir(parents=True, exist_ok=True)
            _mount("-t", "tmpfs", "tmpfs", str(self.path / "var/lib/docker"))
        except BaseException:
            self.close()
            raise
        self._baseline = self.changed_files()

    def sh(
        self,
        script: str,
        check: bool = True,
        timeout: float = 300,
        env: dict[str, str] | None = None,
        input: str | None = None,
    ) -> subprocess.CompletedProcess:
        enter = ["nsenter", f"--net=/run/netns/{self.netns}"] if self.netns else []
        result = subprocess.run(
            [*enter, "chroot", str(self.path), "/bin/sh", "-c", script],
            env={**CHROOT_ENV, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            input=input if input is not None else "",
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"in the root, `{script}` exited {result.returncode}\n"
                f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
            )
        return result

    def file(self, path: str) -> Path:
        """A path in the root, its symbolic links followed inside the root (/var/run is a link to /run)."""
        parts = [p for p in path.split("/") if p]
        current = self.path
        hops = 0
        while parts:
            part = parts.pop(0)
            candidate = current / part
            if candidate.is_symlink() and hops < 40:
                hops += 1
                target = os.readlink(candidate)
                parts = [p for p in target.split("/") if p] + parts
                current = self.path if target.startswith("/") else current
                continue
            current = candidate
        return current

    def changed_files(self) -> set[str]:
        """What this root's writes touched: every path in the overlay's upper directory."""
        out = set()
        for dirpath, dirnames, filenames in os.walk(self.upper):
            rel = os.path.relpath(dirpath, self.upper)
            for name in dirnames + filenames:
                out.add(os.path.normpath(os.path.join(rel, name)))
        return out

    def new_files(self) -> set[str]:
        return self.changed_files() - self._baseline

    def snapshot(self) -> dict[str, tuple[int, int, int]]:
        """Each path of the upper directory with its mode, size and mtime; /tmp left out."""
        out = {}
        for rel in self.changed_files():
            if rel == "tmp" or rel.startswith("tmp/"):
                continue
            st = os.lstat(self.upper / rel)
            out[rel] = (st.st_mode, st.st_size, st.st_mtime_ns)
        return out

    def processes(self) -> list[int]:
        pids = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                if os.readlink(f"/proc/{entry}/root") == str(self.path):
                    pids.append(int(entry))
            except OSError:
                continue
        return pids

    def kill_all(self, timeout: float = 15) -> None:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for pid in self.processes():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
            try:
                deadline_poll(lambda: not self.processes(), timeout, what="the root's processes to exit")
                return
            except AssertionError:
                continue

    def close(self) -> None:
        self.kill_all()
        subprocess.run(["umount", "-R", "-l", str(self.path)], capture_output=True)
        shutil.rmtree(self.workdir, ignore_errors=True)


# --- daemons from an artifact -------------------------------------------------------------------


def ping(sock_path: str, timeout: float = 0.5) -> bool:
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(sock_path)
            s.sendall(b"GET /_ping HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n")
            return s.recv(64).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def program(kind: str, shiv_root: str) -> tuple[list[str], dict[str, str]]:
    """The command that runs lxc-docker as `kind` (source, zipapp, binary), and its environment."""
    env = {k: v for k, v in os.environ.items() if k not in ("DOCKER_HOST", "PYTHONPATH")}
    env["SHIV_ROOT"] = shiv_root
    # The one-file program unpacks into a cache once; the tests' copy stays in their scratch space,
    # never in the host's /var/lib/lxc-docker.
    env["LXC_DOCKER_CACHE"] = os.path.join(shiv_root, "onefile-cache")
    if kind == "source":
        # The checkout's own environment (scripts/setup-dev.sh): the system python3 lacks the
        # dependencies (pyroute2), which only the artifacts bundle.
        env["PYTHONPATH"] = str(REPO / "app")
        return [str(REPO / ".venv" / "bin" / "python"), "-m", "lxc_docker"], env
    return [str(artifact(kind))], env


class ArtifactDaemon:
    """`docker -d` from one artifact, with its own socket, graph root and pidfile under `base`."""

    def __init__(self, kind: str, base: Path, shiv_root: str, extra: list[str] | None = None) -> None:
        self.cmd, self.env = program(kind, shiv_root)
        self.base = base
        self.sock = str(base / "docker.sock")
        self.extra = extra or []
        self.proc: subprocess.Popen | None = None
        self.log_path = base / "daemon.log"

    def start(self, timeout: float = 60) -> ArtifactDaemon:
        args = [
            *self.cmd,
            "-d",
            "-D",
            "-H",
            "unix://" + self.sock,
            "-g",
            str(self.base / "graph"),
            "-p",
            str(self.base / "docker.pid"),
            # Never the host's docker0: these daemons share the host's network namespace.
            *([] if "-b" in self.extra else ["-b", "none", "--iptables=false"]),
            *self.extra,
        ]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                args, stdout=log, stderr=subprocess.STDOUT, env=self.env, start_new_session=True
            )
        deadline_poll(lambda: self.proc.poll() is not None or ping(self.sock), timeout, what="the daemon")
        if self.proc.poll() is not None:
            raise AssertionError(f"the daemon exited with {self.proc.returncode}:\n{self.log()}")
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:] if self.log_path.exists() else ""

    def cli(
        self, *args: str, input: bytes | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*self.cmd, "-H", "unix://" + self.sock, *args],
            input=input,
            capture_output=True,
            timeout=timeout,
            env=self.env,
        )

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        # Every artifact execs the daemon itself (the one-file launcher too), so SIGTERM reaches it.
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        with open("/proc/self/mounts") as f:
            mounts = [line.split()[1] for line in f if line.split()[1].startswith(str(self.base) + "/")]
        for mnt in sorted(mounts, reverse=True):
            subprocess.run(["umount", "-l", mnt], capture_output=True)
