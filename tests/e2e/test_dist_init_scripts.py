"""The sysvinit (Debian, Red Hat) and OpenRC scripts start the daemon, report its status (3 when
stopped) and stop it, inside fresh Debian roots; the daemon runs with the documentation's `-r=false`."""

from __future__ import annotations

import shutil

import e2e_support as e2e
import pytest

OPTIONS = f'DOCKER_OPTS="-r=false {e2e.QUIET_DAEMON_OPTS}"\n'

# Debian has no /etc/rc.d/init.d/functions (Red Hat's initscripts). A stand-in with the behaviour
# the script relies on, as initscripts documents it: status -p gives 0 running, 1 dead with a pidfile,
# 3 stopped; killproc -p sends TERM, waits up to -d seconds, then KILL.
RH_FUNCTIONS = r"""
success() { printf '[  OK  ]'; return 0; }
failure() { printf '[FAILED]'; return 1; }
__pid_of() { [ -s "$1" ] && read -r p < "$1" && [ -n "$p" ] && kill -0 "$p" 2>/dev/null && echo "$p"; }
status() {
	[ "$1" = -p ] || return 4
	pidfile=$2 base=$3
	if p=$(__pid_of "$pidfile"); then echo "$base (pid $p) is running..."; return 0; fi
	if [ -f "$pidfile" ]; then echo "$base dead but pid file exists"; return 1; fi
	echo "$base is stopped"; return 3
}
killproc() {
	pidfile= delay=3
	while [ $# -gt 1 ]; do
		case "$1" in -p) pidfile=$2; shift 2 ;; -d) delay=$2; shift 2 ;; *) break ;; esac
	done
	p=$(__pid_of "$pidfile") || { failure; return 7; }
	kill -TERM "$p"
	i=0
	while kill -0 "$p" 2>/dev/null && [ "$i" -lt $((delay * 10)) ]; do sleep 0.1; i=$((i + 1)); done
	kill -0 "$p" 2>/dev/null && kill -KILL "$p"
	rm -f "$pidfile"
	success
}
"""


def install_program(root: e2e.Root, kind: str) -> None:
    shutil.copy(e2e.artifact(kind), root.file("/usr/bin/docker"))
    root.file("/usr/bin/docker").chmod(0o755)


def pid_of(root: e2e.Root, pidfile: str) -> int:
    return int(root.file(pidfile).read_text().strip())


def assert_lifecycle(
    root: e2e.Root,
    script: str,
    pidfile: str,
    start: str = "start",
    stop: str = "stop",
    status: str = "status",
) -> None:
    assert root.sh(f"{script} {status}", check=False).returncode == 3, "status before start"
    root.sh(f"{script} {start}")
    # The scripts wait for the daemon's pidfile: status is right at once, and the API answers.
    assert root.sh(f"{script} {status}", check=False).returncode == 0
    pid = pid_of(root, pidfile)
    assert pid in root.processes()
    out = root.sh("docker version").stdout
    assert f"Server version: {e2e.version()}" in out
    root.sh(f"{script} {start}")  # starting a running service is no error, and starts nothing new
    assert pid_of(root, pidfile) == pid
    root.sh(f"{script} {stop}")
    assert root.sh(f"{script} {status}", check=False).returncode == 3, "status after stop"
    assert pid not in root.processes(), "the daemon outlived stop"
    assert not root.file(pidfile).exists()
    root.sh(f"{script} {stop}")  # stopping a stopped service is no error either


@pytest.mark.parametrize("kind", ["zipapp", "binary"])
def test_sysvinit_debian(fresh_root, dist, kind):
    root = fresh_root()
    install_program(root, kind)
    shutil.copy(e2e.REPO / "distro/sysvinit-debian/docker", root.file("/etc/init.d/docker"))
    root.file("/etc/default/docker").write_text(OPTIONS)
    assert_lifecycle(root, "/etc/init.d/docker", "/var/run/docker.pid")
    root.sh("/etc/init.d/docker start && /etc/init.d/docker restart")
    assert root.sh("/etc/init.d/docker status", check=False).returncode == 0
    root.sh("/etc/init.d/docker stop")
    log = root.file("/var/log/docker.log").read_text()
    assert log, "the daemon's output did not reach /var/log/docker.log"


def test_sysvinit_redhat(fresh_root, dist):
    root = fresh_root()
    install_program(root, "zipapp")
    root.file("/etc/rc.d/init.d").mkdir(parents=True)
    root.file("/etc/rc.d/init.d/functions").write_text(RH_FUNCTIONS)
    shutil.copy(e2e.REPO / "distro/sysvinit-redhat/docker", root.file("/etc/rc.d/init.d/docker"))
    root.file("/etc/sysconfig").mkdir()
    root.file("/etc/sysconfig/docker").write_text(OPTIONS)
    assert_lifecycle(root, "/etc/rc.d/init.d/docker", "/var/run/docker.pid")
    assert root.file("/var/log/docker").read_text()
    assert not root.file("/var/lock/subsys/docker").exists()


@pytest.mark.parametrize("kind", ["zipapp", "binary"])
def test_openrc(fresh_root, dist, kind):
    root = fresh_root()
    debs = e2e.openrc_debs()
    assert debs, "the OpenRC packages are missing from the cache"
    root.file("/tmp/openrc").mkdir()
    for deb in debs:
        shutil.copy(deb, root.file(f"/tmp/openrc/{deb.name}"))
    root.sh("dpkg -i /tmp/openrc/*.deb >/dev/null")
    # OpenRC did not boot this root: its run directory tells openrc-run that it may run services.
    root.sh("mkdir -p /run/openrc && touch /run/openrc/softlevel")
    install_program(root, kind)
    shutil.copy(e2e.REPO / "distro/openrc/docker.initd", root.file("/etc/init.d/docker"))
    root.file("/etc/init.d/docker").chmod(0o755)
    confd = (e2e.REPO / "distro/openrc/docker.confd").read_text()
    root.file("/etc/conf.d").mkdir(exist_ok=True)
    root.file("/etc/conf.d/docker").write_text(confd.replace('DOCKER_OPTS=""', OPTIONS.strip()))
    # --nodeps: the services docker.initd depends on (localmount, net) are the host's business here.
    assert_lifecycle(root, "/etc/init.d/docker --nodeps", "/run/docker.pid")
    assert root.file("/var/log/docker.log").read_text(), "the daemon's output did not reach its log"
