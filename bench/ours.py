"""What the benchmarks run as "ours": by default the zipapp get.sh installs as /usr/local/bin/docker
(packaging/dist/docker-VERSION.pyz, the same file), for our daemon and our CLI alike; with `--dev` (or
BENCH_DEV=1) this checkout instead (.venv/bin/docker for the CLI, `python -m lxc_docker` with
PYTHONPATH=app for tests/lib/daemon.py's Daemon), for quick iteration between builds.

The zipapp is built with `packaging/build.sh artifacts` when it is missing or older than the sources
it is made of, or always with `--build`. Benchmarks reach this module through bench/common.py
(docker_entry(), start_daemon()); each prints `describe()` in its header.
"""

from __future__ import annotations

import argparse
import atexit
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEV_ENV = "BENCH_DEV"
# What the zipapp is made of (packaging/build.sh): a newer file here means the zipapp is stale.
SOURCES = ("app", "packaging/zipapp", "packaging/build.sh", "packaging/requirements.txt", "pyproject.toml")


@dataclass(frozen=True)
class Ours:
    kind: str  # "zipapp" or "dev"
    cli: list[str]  # our CLI, argv before the command
    daemon: list[str] | None  # our daemon, argv before `-d`; None: Daemon's default (this checkout)
    version: str  # what `docker -v` printed
    env: dict[str, str] = field(default_factory=dict)  # set in os.environ for every process of ours

    def describe(self) -> str:
        if self.kind == "zipapp":
            return f"ours: zipapp {self.cli[0]} (what get.sh installs), daemon and CLI; {self.version}"
        daemon = " ".join(self.daemon or [sys.executable, "-m", "lxc_docker"])
        return f"ours: this checkout (--dev): CLI {' '.join(self.cli)}, daemon {daemon}; {self.version}"


_wanted = {"dev": os.environ.get(DEV_ENV, "") not in ("", "0"), "build": False}
_chosen: Ours | None = None


def add_options(ap: argparse.ArgumentParser) -> None:
    """--dev and --build for a benchmark that parses its options with argparse; then use_options()."""
    ap.add_argument("--dev", action="store_true", help=f"run this checkout, not the zipapp (or {DEV_ENV}=1)")
    ap.add_argument("--build", action="store_true", help="run packaging/build.sh artifacts first")


def use_options(opts: argparse.Namespace) -> None:
    _wanted["dev"] = _wanted["dev"] or opts.dev
    _wanted["build"] = opts.build


def take_options(argv: list[str]) -> list[str]:
    """For a benchmark that reads sys.argv itself: records --dev/--build, returns the other arguments."""
    _wanted["dev"] = _wanted["dev"] or "--dev" in argv
    _wanted["build"] = "--build" in argv
    return [a for a in argv if a not in ("--dev", "--build")]


def flags() -> str:
    """The options chosen, as a command line shows them."""
    return " --dev" if _wanted["dev"] else ""


def ours() -> Ours:
    """The chosen entry, built first if need be; the same for the whole run."""
    global _chosen
    if _chosen is None:
        _chosen = _dev() if _wanted["dev"] else _zipapp(_wanted["build"])
        os.environ.update(_chosen.env)
    return _chosen


def version_of_checkout() -> str:
    with open(os.path.join(REPO, "app", "lxc_docker", "__init__.py")) as f:
        return f.read().split('__version__ = "', 1)[1].split('"', 1)[0]


def zipapp_path() -> str:
    return os.path.join(REPO, "packaging", "dist", f"docker-{version_of_checkout()}.pyz")


def stale_reason(zipapp: str) -> str | None:
    """Why the zipapp must be built again, or None."""
    if not os.access(zipapp, os.X_OK):
        return f"no {zipapp}"
    built = os.path.getmtime(zipapp)
    for source in SOURCES:
        path = os.path.join(REPO, source)
        walk = (
            os.walk(path) if os.path.isdir(path) else [(os.path.dirname(path), [], [os.path.basename(path)])]
        )
        for top, dirs, files in walk:
            dirs[:] = [d for d in dirs if d != "__pycache__" and not d.endswith(".egg-info")]
            for name in files:
                if os.path.getmtime(os.path.join(top, name)) > built:
                    return f"{os.path.relpath(os.path.join(top, name), REPO)} is newer than {zipapp}"
    return None


def _zipapp(build: bool) -> Ours:
    zipapp = zipapp_path()
    reason = "--build" if build else stale_reason(zipapp)
    if reason:
        print(f"building the zipapp ({reason}): packaging/build.sh artifacts", file=sys.stderr)
        # Its progress goes to stderr: stdout holds the figures.
        subprocess.run(
            [os.path.join(REPO, "packaging", "build.sh"), "artifacts"], stdout=sys.stderr, check=True
        )
    env = {}
    if "SHIV_ROOT" not in os.environ:
        # The daemon goes through shiv's bootstrap, which extracts the libraries into SHIV_ROOT
        # (~/.shiv by default): a scratch one, removed when the benchmark ends.
        env["SHIV_ROOT"] = tempfile.mkdtemp(prefix="ldb-shiv-", dir="/var/tmp")
        atexit.register(shutil.rmtree, env["SHIV_ROOT"], True)
    version = _version([zipapp], env)
    return Ours("zipapp", [zipapp], [zipapp], version, env)


def _dev() -> Ours:
    # The launcher scripts/setup-dev.sh installs runs the venv's Python, which has the libraries; the
    # interpreter running this script may not (Daemon's default is sys.executable -m lxc_docker).
    launcher = os.path.join(REPO, ".venv", "bin", "docker")
    if os.path.exists(launcher):
        return Ours("dev", [launcher], [launcher], _version([launcher], {}))
    cli = [sys.executable, "-m", "lxc_docker"]
    return Ours("dev", cli, None, _version(cli, {"PYTHONPATH": os.path.join(REPO, "app")}))


def _version(cli: list[str], env: dict[str, str]) -> str:
    out = subprocess.run([*cli, "-v"], env={**os.environ, **env}, capture_output=True, text=True, check=True)
    return out.stdout.strip()


def header(script: str, *args: object, networking: str) -> None:
    """The command line that makes these figures (with --dev when chosen), the networking of our
    daemon, and what ran as ours."""
    line = " ".join(str(a) for a in args)
    print(f"command: sudo python3 bench/{script} {line}{flags()}   (networking: {networking})")
    print(ours().describe())
