"""Runs `docker registry` for tests: a free port on 127.0.0.1 and a unix socket, its own root."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile

import requests

from lib.daemon import docker_cmd, our_env
from lib.poll import poll


class Registry:
    def __init__(self, *extra: str) -> None:
        self.base = tempfile.mkdtemp(prefix="ldr-", dir="/tmp")
        self.root = os.path.join(self.base, "root")
        self.sock = os.path.join(self.base, "reg.sock")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.hostport = f"127.0.0.1:{self.port}"
        args = [
            "registry",
            "-H",
            f"tcp://{self.hostport}",
            "-H",
            f"unix://{self.sock}",
            "-g",
            self.root,
            *extra,
        ]
        self.proc = subprocess.Popen(docker_cmd() + args, env=our_env(), stderr=subprocess.PIPE, text=True)
        poll(self._up, timeout=20, what="the registry to answer")

    def _up(self) -> bool:
        assert self.proc.poll() is None, self.proc.stderr.read()
        try:
            return requests.get(self.url + "/v1/_ping", timeout=1).status_code == 200
        except requests.ConnectionError:
            return False

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        assert self.proc.wait(timeout=20) == 0
        assert not os.path.exists(self.sock)
        shutil.rmtree(self.base, ignore_errors=True)
