"""Tests of the program lookup that gives Docker's "executable file not found in $PATH"."""

from __future__ import annotations

import errno
import os

import pytest

from lxc_docker.execution.native.lookpath import ExecError, exec_failure, look_path, path_of


@pytest.fixture
def bins(tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    (first / "plain").write_text("not executable")
    (second / "plain").write_text("#!/bin/sh\n")
    os.chmod(second / "plain", 0o755)
    (first / "tool").write_text("#!/bin/sh\n")
    os.chmod(first / "tool", 0o755)
    (second / "tool").write_text("#!/bin/sh\n")
    os.chmod(second / "tool", 0o755)
    (first / "adir").mkdir(mode=0o755)
    return first, second


def test_first_executable_in_path_order_wins(bins):
    first, second = bins
    assert look_path("tool", f"{first}:{second}") == str(first / "tool")
    assert look_path("plain", f"{first}:{second}") == str(second / "plain")


def test_directories_are_not_programs(bins):
    first, _ = bins
    with pytest.raises(ExecError) as info:
        look_path("adir", str(first))
    assert info.value.exit_code == 127


def test_not_found_message_and_code(bins):
    first, second = bins
    with pytest.raises(ExecError) as info:
        look_path("nosuchcmd", f"{first}:{second}")
    assert str(info.value) == 'exec: "nosuchcmd": executable file not found in $PATH'
    assert info.value.exit_code == 127


def test_empty_program_name_is_not_found():
    with pytest.raises(ExecError) as info:
        look_path("", "/bin")
    assert info.value.exit_code == 127


def test_paths_with_a_slash_are_not_looked_up(bins):
    first, _ = bins
    assert look_path(str(first / "tool"), "") == str(first / "tool")
    with pytest.raises(ExecError) as info:
        look_path(str(first / "missing"), "/bin")
    assert info.value.exit_code == 127
    assert "no such file or directory" in str(info.value)
    with pytest.raises(ExecError) as info:
        look_path(str(first / "plain"), "/bin")
    assert info.value.exit_code == 126
    assert str(info.value) == f'exec: "{first / "plain"}": permission denied'


def test_no_path_variable_uses_dockers_default():
    assert path_of(["HOME=/", "PATH=/x:/y"]) == "/x:/y"
    assert path_of(["HOME=/"]) is None
    assert look_path("sh", None).endswith("/sh")


def test_exec_failures_map_to_shell_codes():
    assert exec_failure("x", OSError(errno.ENOENT, "No such file or directory")).exit_code == 127
    failure = exec_failure("x", OSError(errno.ENOEXEC, "Exec format error"))
    assert failure.exit_code == 126
    assert str(failure) == 'exec: "x": exec format error'
    assert exec_failure("x", OSError(errno.EACCES, "Permission denied")).exit_code == 126
