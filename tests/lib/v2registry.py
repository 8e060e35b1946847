"""Debian's `docker-registry` (distribution 2.8, a v2 registry we did not write) for tests and
benchmarks: its own config, a filesystem root in a temporary directory, 127.0.0.1 on a free port,
no systemd. With `users`, htpasswd basic auth (bcrypt entries made by apache2-utils' `htpasswd -B`).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time

BINARY = "/usr/bin/docker-registry"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Registry:
    def __init__(self, users: dict[str, str] | None = None) -> None:
        self.dir = tempfile.mkdtemp(prefix="ldt-reg-", dir="/tmp")
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.users = users or {}
        self.proc: subprocess.Popen | None = None

    def config(self) -> str:
        lines = [
            "version: 0.1",
            "log: {level: warn}",
            "storage:",
            f"  filesystem: {{rootdirectory: {self.dir}/data}}",
            "  delete: {enabled: true}",
            "http:",
            f"  addr: {self.host}",
            # Foreign layers (`urls`) are accepted for loopback only: tests check the client refuses them.
            "validation:",
            "  manifests:",
            "    urls:",
            "      allow: ['^http://127\\.0\\.0\\.1[:/]']",
        ]
        if self.users:
            htpasswd = os.path.join(self.dir, "htpasswd")
            with open(htpasswd, "w") as f:
                for user, password in self.users.items():
                    out = subprocess.run(
                        ["htpasswd", "-Bbn", user, password], capture_output=True, check=True
                    ).stdout.decode()
                    f.write(out.strip() + "\n")
            lines += ["auth:", "  htpasswd:", "    realm: test-realm", f"    path: {htpasswd}"]
        return "\n".join(lines) + "\n"

    def start(self, timeout: float = 20.0) -> Registry:
        path = os.path.join(self.dir, "config.yml")
        with open(path, "w") as f:
            f.write(self.config())
        log = open(os.path.join(self.dir, "registry.log"), "wb")
        self.proc = subprocess.Popen([BINARY, "serve", path], stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"docker-registry exited: {self.log()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), 0.2):
                    return self
            except OSError:
                time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"docker-registry did not listen within {timeout}s: {self.log()}")

    def log(self) -> str:
        try:
            with open(os.path.join(self.dir, "registry.log"), errors="replace") as f:
                return f.read()[-3000:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)
