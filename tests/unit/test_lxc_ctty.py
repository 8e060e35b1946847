"""The shell step that gives a -t container's PID 1 its controlling terminal under LXC."""

from __future__ import annotations

import os
import subprocess

from lxc_docker.execution.base import Command
from lxc_docker.execution.lxc import ctty


def _command(tmp_path, tty: bool, shell: bool = True, env: list[str] | None = None) -> Command:
    os.makedirs(tmp_path, exist_ok=True)
    if shell:
        os.makedirs(tmp_path / "bin", exist_ok=True)
        (tmp_path / "bin" / "sh").write_text("#!fake\n")
        os.chmod(tmp_path / "bin" / "sh", 0o755)
    return Command(id="c" * 64, rootfs=str(tmp_path), entrypoint="top", args=["-b"], env=env or [], tty=tty)


def test_without_a_tty_or_a_shell_the_command_runs_as_it_is(tmp_path):
    assert ctty.argv(_command(tmp_path, tty=False)) == ["top", "-b"]
    assert ctty.argv(_command(tmp_path / "noshell", tty=True, shell=False)) == ["top", "-b"]


def test_with_a_tty_the_shell_execs_the_command(tmp_path):
    argv = ctty.argv(_command(tmp_path, tty=True))
    assert argv[:2] == ["/bin/sh", "-c"] and argv[3:] == ["sh", "top", "-b"]


def test_the_script_leaves_the_environment_as_given():
    script = ctty.script(["SHLVL=it's 7", "PATH=/bin"])
    env = {"SHLVL": "it's 7", "PWD": "/somewhere-else", "PATH": "/bin:/usr/bin"}
    out = subprocess.run(
        ["sh", "-c", script.replace("exec 3<>/dev/console 3>&-", "true"), "sh", "env"],
        env=env, capture_output=True, text=True, cwd="/", check=True,
    ).stdout  # fmt: skip
    lines = set(out.splitlines())
    assert "SHLVL=it's 7" in lines and not any(line.startswith("PWD=") for line in lines)
