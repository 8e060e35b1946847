"""The README's quick start, as a new user runs it, on nothing more than a minimal Debian 12.

The root is `debootstrap --variant=minbase` with no extra package (no python3, iptables, iproute2,
git, procps or ca-certificates): `sh scripts/quickstart.sh` must install what it needs, build, start
the daemon and end with `hello world` printed by a container. It runs in a network namespace of its
own (see netns_proxy.py), so the daemon's docker0 and iptables rules never touch the host's.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import e2e_support as e2e
import pytest
from netns_proxy import NetnsWithProxy

from lib.require import require_module, require_tools


def package_index_hosts() -> set[str]:
    """The hosts pip downloads the build's tools from: its configured indexes, else PyPI's index and
    file hosts as pip itself names them."""
    from pip._internal.configuration import Configuration
    from pip._internal.models.index import PyPI

    config = Configuration(isolated=False)
    config.load()
    urls = [value for key, value in config.items() if key.endswith(("index-url", "extra-index-url"))]
    hosts = {urlsplit(u).hostname or "" for text in urls for u in text.split()} - {""}
    return hosts or {PyPI.netloc, PyPI.file_storage_domain}


# The mirror of the roots and the package index (the build's tools and wheels): nothing else is
# reachable from the quick start's namespace.
ALLOWED = {urlsplit(e2e.MIRROR).hostname or ""} | package_index_hosts()
CLI28 = "/usr/local/bin/docker"
CHECKOUT = ["app", "boot", "distro", "packaging", "scripts", "pyproject.toml", "README.md", "get.sh"]
HOST_CA = "/etc/lxc-docker-e2e-host-ca.pem"


def copy_checkout(root: e2e.Root) -> None:
    src = root.file("/src")
    src.mkdir()
    ignore = shutil.ignore_patterns("build", "dist", "__pycache__", "*.pyc")
    for name in CHECKOUT:
        path = e2e.REPO / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=ignore)
        else:
            shutil.copy(path, src / name)
    # The quick start makes its busybox image with tests/lib/busybox.py.
    shutil.copytree(e2e.REPO / "tests" / "lib", src / "tests" / "lib", ignore=ignore)


def host_bridge_state() -> str:
    """The host's docker0 as `ip` shows it (or its absence), and its iptables rules."""
    link = subprocess.run(["ip", "-o", "link", "show", "docker0"], capture_output=True, text=True)
    rules = [
        line
        for table in ("filter", "nat")
        for line in subprocess.run(
            ["iptables", "-w", "-t", table, "-S"], capture_output=True, text=True
        ).stdout.splitlines()
        if "docker0" in line
    ]
    return link.stdout.split(" state ")[0] + "\n".join(rules)


@pytest.fixture
def isolated_minimal_root():
    require_tools("debootstrap", "chroot", "nsenter", "ip", "iptables")
    tree = e2e.minimal_root()
    netns = NetnsWithProxy(f"lxcd-e2e-{secrets.token_hex(4)}", ALLOWED)
    root = None
    try:
        root = e2e.Root(tree, Path(tempfile.mkdtemp(prefix="e2e-root-", dir="/tmp")), netns=netns.name)
        yield root, netns
    finally:
        if root is not None:
            root.close()
        netns.close()
    # Nothing of the quick start outlives it: no mount under the root, and the namespace, with the
    # daemon's bridge and iptables chains in it, is gone.
    if root is not None:
        with open("/proc/self/mounts") as f:
            left = [line.split()[1] for line in f if line.split()[1].startswith(str(root.workdir))]
        assert not left, f"mounts left behind: {left}"
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert netns.name not in listed, "the network namespace is still there"


def test_readme_quick_start_on_a_minimal_debian(isolated_minimal_root):
    root, netns = isolated_minimal_root
    host_before = host_bridge_state()
    for tool in ("python3", "iptables", "ip", "git", "ps"):
        assert root.sh(f"command -v {tool}", check=False).returncode != 0, f"{tool} is in the minimal root"
    copy_checkout(root)
    # Where traffic goes through an inspecting proxy, its CA is only in the host's bundle. Put aside
    # from the standard path, so that the root still lacks a CA bundle of its own until get.sh
    # installs ca-certificates; pip, which fetches the build's tools, is pointed at it.
    shutil.copy("/etc/ssl/certs/ca-certificates.crt", root.file(HOST_CA))
    env = {"http_proxy": netns.url, "https_proxy": netns.url, "PIP_CERT": HOST_CA}

    result = root.sh("cd /src && sh scripts/quickstart.sh", env=env, timeout=1800)
    assert result.stdout.splitlines()[-1] == "hello world", result.stdout[-3000:]
    assert "get.sh: installing what lxc-docker needs: python3 python3-venv ca-certificates" in result.stdout
    assert "get.sh: installing what lxc-docker needs: iptables iproute2 git" in result.stdout
    assert "warning" not in result.stderr, result.stderr
    assert not netns.refused, f"the quick start tried to reach {netns.refused}"

    # The daemon made its bridge and rules in the root's namespace, and the host's are as they were.
    inside = subprocess.run(["ip", "-n", netns.name, "-o", "link", "show", "docker0"], capture_output=True)
    assert inside.returncode == 0, "the daemon made no docker0 in the root's namespace"
    assert host_bridge_state() == host_before

    # `docker top` reads /proc: the root has no ps.
    cid = root.sh("docker run -d busybox sleep 300").stdout.strip()
    top = root.sh(f"docker top {cid}").stdout
    assert top.split()[:8] == ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"], top
    assert "sleep 300" in top, top
    root.sh(f"docker kill {cid}")

    # Today's clients drive the same daemon through its socket: the docker CLI 28 and the SDK.
    require_tools(CLI28, hint="the official docker CLI of these machines")
    docker_sdk = require_module("docker", hint="pip install docker (the test extras)")
    sock = "unix://" + str(root.file("/var/run/docker.sock"))
    with tempfile.TemporaryDirectory() as home:
        cli = subprocess.run(
            [CLI28, "-H", sock, "run", "--rm", "busybox", "echo", "hello from the docker CLI"],
            capture_output=True,
            text=True,
            timeout=120,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": home},
        )
    assert cli.returncode == 0 and cli.stdout == "hello from the docker CLI\n", cli
    client = docker_sdk.DockerClient(base_url=sock, timeout=120)
    try:
        out = client.containers.run("busybox", ["echo", "hello from the SDK"], remove=True)
        assert out == b"hello from the SDK\n"
    finally:
        client.close()

    # Stopped through its init script as a user would; nothing of it stays running.
    daemon = int(root.file("/var/run/docker.pid").read_text())
    root.sh("/etc/init.d/docker stop")
    e2e.deadline_poll(lambda: not os.path.exists(f"/proc/{daemon}"), 30, what="the daemon to exit")


def test_no_deps_stops_before_installing_anything(fresh_root, release):
    """With --no-deps and iptables missing, get.sh names what is missing and changes nothing."""
    root = fresh_root()
    root.sh("rm -f /usr/sbin/iptables /usr/sbin/iptables-nft /usr/sbin/iptables-legacy")
    server = release(sums_text=e2e.sums_without((".deb", ".rpm", ".pkg.tar.zst", ".tar.gz")))
    before = root.snapshot()
    script, env = (e2e.REPO / "get.sh").read_text(), {"LXC_DOCKER_URL": server.url}
    result = root.sh("sh -s -- --no-deps", input=script, check=False, env=env)
    assert result.returncode != 0
    assert "lxc-docker needs what this host lacks: iptables" in result.stderr
    assert "apt-get install iptables" in result.stderr
    assert "nothing of lxc-docker was installed" in result.stderr
    assert root.snapshot() == before, "get.sh changed the root before stopping"
    dry = root.sh("sh -s -- --dry-run", input=script, env=env).stdout
    assert "would run: env DEBIAN_FRONTEND=noninteractive apt-get install -y -q" in dry
    assert "--no-install-recommends iptables\n" in dry
    assert root.snapshot() == before
