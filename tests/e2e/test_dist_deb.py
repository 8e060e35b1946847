"""The deb installs with dpkg into a fresh Debian 12 root, creates the group, starts the daemon
through its init script, upgrades in place, and removes and purges cleanly."""

from __future__ import annotations

import shutil

import e2e_support as e2e

OPTIONS = f'DOCKER_OPTS="-r=false {e2e.QUIET_DAEMON_OPTS}"\n'


def test_deb_install_upgrade_remove_purge(fresh_root, dist):
    root = fresh_root()
    deb = f"lxc-docker_{e2e.version()}_amd64.deb"
    shutil.copy(dist / deb, root.file(f"/tmp/{deb}"))
    # A chroot has no init, and invoke-rc.d starts nothing there unless policy-rc.d allows it.
    root.file("/usr/sbin/policy-rc.d").write_text("#!/bin/sh\nexit 0\n")
    root.file("/usr/sbin/policy-rc.d").chmod(0o755)
    root.file("/etc/default/docker").write_text(OPTIONS)
    assert root.sh("getent group docker", check=False).returncode == 2

    root.sh(f"dpkg -i --force-confold /tmp/{deb}")
    root.sh("getent group docker")
    assert root.file("/usr/bin/docker").read_bytes() == e2e.artifact("zipapp").read_bytes()
    assert root.sh("boot2docker --version").stdout == f"boot2docker, version {e2e.version()}\n"
    assert root.sh("ls /etc/rc2.d/ | grep -q '^S..docker$'", check=False).returncode == 0, "not enabled"
    pid = int(
        e2e.deadline_poll(
            lambda: (
                root.file("/var/run/docker.pid").exists()
                and root.file("/var/run/docker.pid").read_text().strip()
            ),
            30,
            what="the daemon the postinst started",
        )
    )
    assert f"Server version: {e2e.version()}" in root.sh("docker version").stdout

    # The same package again: prerm stops the old daemon, postinst starts the new one.
    root.sh(f"dpkg -i --force-confold /tmp/{deb}")
    assert pid not in root.processes()
    assert f"Server version: {e2e.version()}" in root.sh("docker version").stdout

    root.sh("dpkg -r lxc-docker")
    assert not root.processes(), "a daemon outlived dpkg -r"
    assert not root.file("/usr/bin/docker").exists()
    assert not root.file("/usr/bin/boot2docker").exists()
    assert root.file("/etc/default/docker").read_text() == OPTIONS, "remove must keep the conffiles"
    root.sh("getent group docker")

    root.sh("dpkg -P lxc-docker")
    assert not root.file("/etc/default/docker").exists()
    assert not root.file("/etc/init.d/docker").exists()
    assert not root.file("/var/lib/lxc-docker").exists()
    assert root.sh("ls /etc/rc2.d/ | grep -q docker", check=False).returncode == 1, "rc links left"
    assert root.sh("dpkg-query -W lxc-docker", check=False).returncode != 0
    # Debian's policy: a package's system group stays, as files may still belong to it.
    root.sh("getent group docker")
