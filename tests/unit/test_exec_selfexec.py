"""Tests of how the program re-runs itself as the container init, and of what that init imports."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile

import pytest

from lxc_docker.sysutil import selfexec


@pytest.fixture(autouse=True)
def fresh_cache(monkeypatch):
    monkeypatch.setattr(selfexec, "_cache", [])


def test_frozen_binary_runs_itself(monkeypatch):
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", "/usr/bin/docker")
    assert selfexec.init_argv() == ["/usr/bin/docker", "init"]


def test_checkout_is_imported_by_path_with_a_lean_interpreter():
    argv = selfexec.init_argv()
    assert argv[0] == sys.executable
    assert argv[1:3] == ["-I", "-S"]
    assert argv[-1] == "init"
    app_dir = os.path.dirname(os.path.dirname(os.path.abspath(selfexec.__file__)))
    assert repr(os.path.dirname(app_dir)) in argv[-2]


def test_argv_is_a_fresh_list_each_time():
    first = selfexec.init_argv()
    first.append("5")
    assert selfexec.init_argv()[-1] == "init"


def test_zipapp_is_found_from_the_modules_path(monkeypatch, tmp_path):
    archive = tmp_path / "docker.pyz"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("__main__.py", "")
    monkeypatch.setattr(selfexec, "__file__", str(archive / "lxc_docker" / "sysutil" / "selfexec.py"))
    assert selfexec.zipapp_path(str(archive / "lxc_docker")) == str(archive)
    assert selfexec.init_argv() == [sys.executable, str(archive), "init"]


def test_an_extracted_package_is_run_by_path(monkeypatch, tmp_path):
    # shiv extracts the package to a cache directory: no archive in the module's path.
    site = tmp_path / "shiv" / "docker_abc" / "site-packages"
    monkeypatch.setattr(selfexec, "__file__", str(site / "lxc_docker" / "sysutil" / "selfexec.py"))
    argv = selfexec.init_argv()
    assert argv[:3] == [sys.executable, "-I", "-S"]
    assert repr(str(site)) in argv[-2]


def test_no_zipapp_in_a_checkout():
    package_dir = os.path.dirname(os.path.dirname(os.path.abspath(selfexec.__file__)))
    assert selfexec.zipapp_path(package_dir) is None


def test_init_usage_error_without_a_descriptor():
    result = subprocess.run(selfexec.init_argv(), capture_output=True, text=True)
    assert result.returncode == 2
    assert "execution driver" in result.stderr


def test_init_path_imports_stay_minimal():
    # Every module the init loads costs start-up time on each `docker run`.
    code = (
        "import sys\n"
        "from lxc_docker.execution.native import init, capabilities, lookpath, mounts, netconf, user\n"
        "from lxc_docker.execution.native import seccomp\n"
        "print(' '.join(sorted(sys.modules)))\n"
    )
    argv = selfexec.init_argv()
    argv = argv[:-2] + [argv[-2].split("from lxc_docker")[0] + code]
    modules = set(subprocess.run(argv, capture_output=True, text=True, check=True).stdout.split())
    assert "lxc_docker.execution.native.init" in modules
    heavy = {"typing", "json", "enum", "signal", "subprocess", "socket", "re", "functools", "dataclasses"}
    assert not modules & heavy
    assert not any(
        m.startswith(("lxc_docker.cli", "lxc_docker.daemon", "lxc_docker.execution.base")) for m in modules
    )
