"""get.sh against a release served on 127.0.0.1, installing into fresh Debian 12 roots."""

from __future__ import annotations

import shutil
import subprocess

import e2e_support as e2e
import pytest

GET_SH = e2e.REPO / "get.sh"
PACKAGES = (".deb", ".rpm", ".pkg.tar.zst", ".tar.gz")
OPTIONS = f'DOCKER_OPTS="-r=false {e2e.QUIET_DAEMON_OPTS}"\n'


def get_sh(root: e2e.Root, url: str, *args: str, check: bool = True, env: dict[str, str] | None = None):
    """Runs get.sh in the root the way `curl URL | sh` does: the script on standard input."""
    return root.sh(
        "sh -s -- " + " ".join(args),
        input=GET_SH.read_text(),
        check=check,
        timeout=600,
        env={"LXC_DOCKER_URL": url, **(env or {})},
    )


def quiet_options(root: e2e.Root) -> None:
    """An /etc/default/docker of our own, which get.sh keeps: no bridge or iptables rules on the host."""
    root.file("/etc/default").mkdir(parents=True, exist_ok=True)
    root.file("/etc/default/docker").write_text(OPTIONS)


def daemon_pid(root: e2e.Root) -> int:
    return int(root.file("/var/run/docker.pid").read_text().strip())


def server_version(root: e2e.Root) -> str:
    out = root.sh("docker version").stdout
    assert f"Server version: {e2e.version()}" in out, out
    return out


# --- the script itself --------------------------------------------------------------------------


@pytest.mark.parametrize("shell", ["dash", "bash"])
def test_truncated_script_runs_nothing(tmp_path, shell):
    """Cut anywhere, get.sh defines functions or fails to parse: no command ever runs (`sh -x` is silent)."""
    script = GET_SH.read_bytes()
    cuts = set(range(1, len(script), 29))
    cuts |= {i + 1 for i, byte in enumerate(script) if byte == ord("\n")}
    cuts |= set(range(len(script) - 40, len(script)))
    # Whole, or all but the final newline: the last line is complete, and runs.
    cuts -= {len(script), len(script) - 1}
    part = tmp_path / "get.sh"
    for cut in sorted(cuts):
        part.write_bytes(script[:cut])
        result = subprocess.run(
            [shell, "-x", str(part)],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env={"PATH": "/usr/bin:/bin", "LXC_DOCKER_URL": "http://127.0.0.1:9"},
        )
        traced = [line for line in result.stderr.splitlines() if line.startswith("+")]
        assert not traced, f"cut at byte {cut} of {len(script)} ran: {traced[:3]}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["get.sh"]


def test_whole_script_runs(tmp_path):
    result = subprocess.run(["sh", str(GET_SH), "--help"], capture_output=True, text=True)
    assert result.returncode == 0
    assert "--dry-run" in result.stdout and "LXC_DOCKER_URL" in result.stdout


# --- installing ---------------------------------------------------------------------------------


def test_installs_the_zipapp_and_starts_the_daemon(fresh_root, release):
    root = fresh_root()
    server = release(sums_text=e2e.sums_without(PACKAGES))
    quiet_options(root)
    result = get_sh(root, server.url)
    assert f"installing docker-{e2e.version()}.pyz (zipapp)" in result.stdout
    assert root.file("/usr/local/bin/docker").read_bytes() == e2e.artifact("zipapp").read_bytes()
    server_version(root)
    assert root.sh("/etc/init.d/docker status", check=False).returncode == 0
    assert root.file("/etc/default/docker").read_text() == OPTIONS, "get.sh replaced the options file"
    root.sh("getent group docker")
    # The documentation's process-manager examples call /usr/bin/docker.
    assert root.sh("readlink /usr/bin/docker").stdout.strip() == "/usr/local/bin/docker"
    assert root.file("/var/run/docker.sock").is_socket()
    assert "group docker may use the daemon" in result.stdout


def test_no_start_lays_out_every_file(fresh_root, release):
    root = fresh_root()
    server = release(sums_text=e2e.sums_without(PACKAGES))
    get_sh(root, server.url, "--no-start")
    init = root.file("/etc/init.d/docker").read_text()
    assert "DOCKER=/usr/local/bin/docker" in init, "the init script does not name the installed program"
    assert root.file("/etc/default/docker").read_text() == (e2e.REPO / "distro/default/docker").read_text()
    marker = root.file("/var/lib/lxc-docker/installed-by-get.sh").read_text()
    assert "method=zipapp" in marker and "init=sysvinit" in marker
    assert root.file("/var/lib/lxc-docker/shiv").is_dir()
    root.sh("getent group docker")
    assert not root.file("/var/run/docker.pid").exists()


def test_without_python_installs_the_binary(fresh_root, release):
    """No python3 on the host: the one-file binary, which needs none, and it runs the daemon."""
    root = fresh_root()
    root.sh("rm -f /usr/bin/python3 /usr/bin/python3.11")
    server = release(sums_text=e2e.sums_without(PACKAGES))
    quiet_options(root)
    result = get_sh(root, server.url)
    assert f"installing docker-{e2e.version()}-x86_64 (binary)" in result.stdout
    assert root.file("/usr/local/bin/docker").read_bytes() == e2e.artifact("binary").read_bytes()
    server_version(root)


def test_installs_the_published_deb_on_debian(fresh_root, release):
    root = fresh_root()
    server = release()
    quiet_options(root)
    result = get_sh(root, server.url)
    assert f"installing lxc-docker_{e2e.version()}_amd64.deb (package)" in result.stdout
    assert root.sh("dpkg-query -W -f='${Status}' lxc-docker").stdout == "install ok installed"
    root.sh("getent group docker")
    # The package's postinst started the service; get.sh waited for nothing of its own.
    e2e.deadline_poll(lambda: root.file("/var/run/docker.sock").exists(), 60, what="the daemon's socket")
    server_version(root)
    assert root.file("/etc/default/docker").read_text() == OPTIONS


@pytest.mark.parametrize("tampered", ["artifact", "init file"])
def test_tampered_download_installs_nothing(fresh_root, release, tampered):
    root = fresh_root()
    name = f"docker-{e2e.version()}.pyz" if tampered == "artifact" else "init/sysvinit-debian/docker"
    data = bytearray((e2e.DIST / name).read_bytes())
    data[len(data) // 2] ^= 0xFF
    server = release(sums_text=e2e.sums_without(PACKAGES), replace={name: bytes(data)})
    before = root.snapshot()
    result = get_sh(root, server.url, check=False)
    assert result.returncode != 0
    assert f"checksum mismatch for {name}" in result.stderr
    assert "nothing was installed" in result.stderr
    assert root.snapshot() == before, "a refused download changed the root"


def test_second_run_upgrades(fresh_root, release):
    """Again, switching to the binary: the daemon is stopped, the program replaced, the daemon restarted."""
    root = fresh_root()
    server = release(sums_text=e2e.sums_without(PACKAGES))
    quiet_options(root)
    get_sh(root, server.url)
    first = daemon_pid(root)
    result = get_sh(root, server.url, "--method=binary")
    assert "upgrading the lxc-docker in /usr/local/bin/docker" in result.stdout
    second = daemon_pid(root)
    assert second != first
    assert first not in root.processes(), "the old daemon still runs"
    assert root.file("/usr/local/bin/docker").read_bytes() == e2e.artifact("binary").read_bytes()
    assert "method=binary" in root.file("/var/lib/lxc-docker/installed-by-get.sh").read_text()
    server_version(root)
    # And once more as it was: idempotent.
    get_sh(root, server.url)
    server_version(root)
    assert root.file("/usr/local/bin/docker").read_bytes() == e2e.artifact("zipapp").read_bytes()


def test_refuses_to_replace_a_docker_it_did_not_install(fresh_root, release):
    root = fresh_root()
    root.file("/usr/local/bin").mkdir(parents=True, exist_ok=True)
    root.file("/usr/local/bin/docker").write_text("#!/bin/sh\necho someone else's docker\n")
    server = release(sums_text=e2e.sums_without(PACKAGES))
    result = get_sh(root, server.url, check=False)
    assert result.returncode != 0 and "was not installed by get.sh" in result.stderr
    assert "someone else's" in root.file("/usr/local/bin/docker").read_text()


def test_dry_run_changes_nothing(fresh_root, release):
    root = fresh_root()
    server = release(sums_text=e2e.sums_without(PACKAGES))
    before = root.snapshot()
    result = get_sh(root, server.url, "--dry-run")
    assert "would run: install -m 0755" in result.stdout
    assert "dry run done: nothing was changed" in result.stdout
    assert root.snapshot() == before
    # Nor on a host where it is installed and running (the upgrade path).
    quiet_options(root)
    get_sh(root, server.url)
    pid = daemon_pid(root)
    before = root.snapshot()
    result = get_sh(root, server.url, "--dry-run", "--method=binary")
    assert "would run: /etc/init.d/docker stop" in result.stdout
    assert root.snapshot() == before
    assert daemon_pid(root) == pid and pid in root.processes()


def test_wrong_architecture_is_refused(fresh_root, release):
    root = fresh_root()
    root.file("/fakebin").mkdir()
    root.file("/fakebin/uname").write_text("#!/bin/sh\necho aarch64\n")
    root.file("/fakebin/uname").chmod(0o755)
    result = root.sh(
        "sh -s", input=GET_SH.read_text(), check=False, env={"PATH": "/fakebin:" + e2e.CHROOT_ENV["PATH"]}
    )
    assert result.returncode != 0
    assert "built for x86_64 only, and this machine is aarch64" in result.stderr


def test_from_checkout_builds_and_installs(fresh_root):
    """The README's quick start: `sudo sh get.sh --from-checkout` in a checkout, here copied into a root."""
    root = fresh_root()
    src = root.file("/src")
    src.mkdir()
    for name in ("app", "boot", "distro", "packaging"):
        shutil.copytree(
            e2e.REPO / name, src / name, ignore=shutil.ignore_patterns("build", "dist", "__pycache__")
        )
    for name in ("pyproject.toml", "README.md", "get.sh"):
        if (e2e.REPO / name).exists():
            shutil.copy(e2e.REPO / name, src / name)
    quiet_options(root)
    # The build fetches the pinned wheels from PyPI: trust what the host trusts (where traffic goes
    # through an inspecting proxy, its CA is only in the host's bundle).
    shutil.copy("/etc/ssl/certs/ca-certificates.crt", root.file("/etc/ssl/certs/ca-certificates.crt"))
    result = root.sh("sh /src/get.sh --from-checkout", timeout=900)
    assert "building from /src" in result.stdout
    assert f"installing docker-{e2e.version()}.pyz (zipapp)" in result.stdout
    server_version(root)


# --- what the daemon needs, per distribution family ----------------------------------------------

FAMILIES = {
    # os-release ID: (package manager to stub, the command get.sh runs, the hint it prints)
    "fedora": ("dnf", "dnf install -y iptables iproute", "dnf install iptables iproute"),
    "opensuse-leap": (
        "zypper",
        "zypper --non-interactive install iptables iproute2",
        "zypper install iptables iproute2",
    ),
    "arch": ("pacman", "pacman -S --needed --noconfirm iptables iproute2", "pacman -S iptables iproute2"),
    "alpine": ("apk", "apk add iptables iproute2", "apk add iptables iproute2"),
    "gentoo": (None, None, "emerge --ask --noreplace net-firewall/iptables sys-apps/iproute2"),
}


@pytest.mark.parametrize("distro", sorted(FAMILIES))
def test_installs_the_daemons_needs_with_each_package_manager(fresh_root, release, distro):
    """iptables and ip missing: get.sh asks the family's package manager for them (here a stub that
    installs nothing), then stops, naming the command, before anything of lxc-docker is installed."""
    manager, command, hint = FAMILIES[distro]
    root = fresh_root()
    root.sh("rm -f /usr/sbin/iptables /usr/sbin/iptables-nft /usr/sbin/iptables-legacy /usr/*bin/ip")
    assert root.sh("command -v iptables || command -v ip", check=False).returncode != 0
    root.file("/etc/os-release").unlink()
    root.file("/etc/os-release").write_text(f"ID={distro}\nVERSION_ID=1\n")
    if manager:
        stub = root.file(f"/usr/local/bin/{manager}")
        stub.parent.mkdir(parents=True, exist_ok=True)
        stub.write_text(f'#!/bin/sh\necho "{manager} $*" >> /tmp/package-manager.log\n')
        stub.chmod(0o755)
    server = release(sums_text=e2e.sums_without(PACKAGES))
    result = get_sh(root, server.url, check=False)
    assert result.returncode != 0
    logged = root.file("/tmp/package-manager.log")
    if command:
        assert logged.read_text() == command + "\n"
    else:
        assert not logged.exists()
        assert f"get.sh does not run emerge (it builds from source): {hint}" in result.stdout
    assert f"lxc-docker needs what this host lacks: iptables ip. Install it ({hint})" in result.stderr
    assert not root.file("/usr/local/bin/docker").exists() and not root.file("/etc/init.d/docker").exists()
