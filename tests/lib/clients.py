"""Clients we did not write, as fixtures against a test's daemon: `real_cli`, the docker CLI 28
(/usr/local/bin/docker, run with a clean environment and a config directory of its own), and `sdk`,
a client of the docker SDK for Python at the version it negotiates. Both need a `daemon` fixture;
tests/integration/conftest.py makes them available to every integration test.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator

import pytest

from lib.require import require, require_module

DOCKER_CLI = "/usr/local/bin/docker"
CLI_CONFIG = "/tmp/lxc-docker-test-cli-config"  # never the user's ~/.docker

CliRunner = Callable[..., subprocess.CompletedProcess]


def cli28(host: str, text: bool = False) -> CliRunner:
    """A runner of the docker CLI 28 against `host`: run(*args, input=None, check=True); with check,
    a non-zero exit fails the test with the command's output. `text`: output as str."""
    require(shutil.which(DOCKER_CLI), "the docker CLI 28 is not installed at /usr/local/bin/docker")

    def run(*args: str, input: bytes | None = None, check: bool = True) -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
        env.update({"DOCKER_HOST": host, "DOCKER_CONFIG": CLI_CONFIG})
        result = subprocess.run(
            [DOCKER_CLI, *args], input=input, capture_output=True, env=env, timeout=120, text=text
        )
        if check:
            assert result.returncode == 0, (args, result.stdout, result.stderr)
        return result

    return run


@pytest.fixture
def real_cli(daemon) -> CliRunner:
    return cli28(daemon.host)


@pytest.fixture
def sdk(daemon) -> Iterator:
    docker = require_module("docker", "pip install docker; scripts/setup-dev.sh installs it")
    client = docker.DockerClient(base_url=daemon.host, version="auto", timeout=60)
    yield client
    client.close()
