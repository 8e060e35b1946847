"""Every package and init file passes its ecosystem's checker (packaging/check.sh), and the checkers
catch what they are there for."""

from __future__ import annotations

import subprocess
import sys

import e2e_support as e2e
import pytest

CHECK = str(e2e.PACKAGING / "check.sh")
UPSTART_LINT = str(e2e.PACKAGING / "checks" / "upstart_lint.py")

# The Docker 0.9 documentation's examples of running a container under a process manager
# (section "Using Supervisor / upstart / systemd"), as printed there.
DOCS_UPSTART_JOB = """\
description "Redis container"
author "Me"
start on filesystem and started docker
stop on runlevel [!2345]
respawn
script
  # Wait for docker to finish starting up first.
  FILE=/var/run/docker.sock
  while [ ! -e $FILE ] ; do
    inotifywait -t 2 -e create $(dirname $FILE)
  done
  /usr/bin/docker start -a 0a7e070b698b
end script
"""
DOCS_SYSTEMD_UNIT = """\
[Unit]
Description=Redis container
Author=Me
After=docker.service

[Service]
Restart=always
ExecStart=/usr/bin/docker start -a 0a7e070b698b
ExecStop=/usr/bin/docker stop -t 2 0a7e070b698b

[Install]
WantedBy=local.target
"""


def run_check(name: str) -> subprocess.CompletedProcess:
    return subprocess.run([CHECK, name], capture_output=True, text=True, timeout=900)


@pytest.mark.parametrize("check", ["shell", "systemd", "upstart", "deb", "rpm", "arch", "gentoo"])
def test_checker_passes(dist, check):
    result = run_check(check)
    assert result.returncode == 0, f"check.sh {check}:\n{result.stdout}\n{result.stderr}"


def test_rpm_scriptlets_have_no_unexpanded_macros(dist):
    for rpm in ("docker-io-{v}-1.x86_64.rpm", "lxc-docker-{v}-1.x86_64.rpm"):
        path = dist / rpm.format(v=e2e.version())
        scripts = subprocess.run(
            ["rpm", "-qp", "--scripts", str(path)], capture_output=True, text=True
        ).stdout
        assert "systemctl" in scripts, f"{rpm}: the service macros expanded to nothing:\n{scripts}"
        assert "%" not in scripts, f"{rpm}: an unexpanded macro:\n{scripts}"


def test_upstart_checker_catches_mistakes(tmp_path):
    bad = tmp_path / "bad.conf"
    bad.write_text(
        "start on started dockr\nrespawn limit 10\nlimit nofile lots 5\nexpect forks\nfrobnicate\n"
        "pre-start script\n  echo $undefined_thing\n"
    )
    docker = e2e.REPO / "distro" / "upstart" / "docker.conf"
    result = subprocess.run(
        [sys.executable, UPSTART_LINT, "--known-jobs-only", str(bad), str(docker)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    for expected in (
        "no 'end script'",
        "'respawn' takes",
        "'limit' values",
        "'expect' takes",
        "unknown stanza 'frobnicate'",
        "'started dockr': no such job",
        "SC2154",
    ):
        assert expected in result.stdout, f"missing {expected!r} in:\n{result.stdout}"


def test_docs_upstart_example_waits_for_our_job(tmp_path):
    """`start on ... started docker` in the documentation's job names our upstart job."""
    job = tmp_path / "redis.conf"
    job.write_text(DOCS_UPSTART_JOB)
    docker = e2e.REPO / "distro" / "upstart" / "docker.conf"
    # The example itself is not shellcheck-clean (unquoted $FILE); its stanzas are what must fit ours.
    result = subprocess.run(
        [sys.executable, UPSTART_LINT, "--no-shellcheck", "--known-jobs-only", str(job), str(docker)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_docs_systemd_example_orders_after_our_unit(tmp_path):
    """The documentation's unit verifies beside ours: only its own `Author=` key draws a remark."""
    root = tmp_path / "root"
    units = root / "usr/lib/systemd/system"
    units.mkdir(parents=True)
    subprocess.run(["cp", "-a", "/lib/systemd/system/.", str(units)], check=True)
    for name in ("docker.service", "docker.socket"):
        (units / name).write_text((e2e.REPO / "distro" / "systemd" / name).read_text())
    (units / "redis.service").write_text(DOCS_SYSTEMD_UNIT)
    (root / "usr/bin").mkdir(parents=True)
    (root / "usr/bin/docker").write_text("#!/bin/sh\n")
    (root / "usr/bin/docker").chmod(0o755)
    result = subprocess.run(
        ["systemd-analyze", "verify", f"--root={root}", "--man=no", "redis.service", "docker.service"],
        capture_output=True,
        text=True,
    )
    remarks = [line for line in result.stderr.splitlines() if line.strip()]
    assert all("Author" in line for line in remarks), result.stderr
    assert result.returncode == 0, result.stderr
