"""What the daemon's start path imports: until the first request other than /_ping and the other system
routes, no other handler module and none of what only they need (issue 14: boot time under emulation)."""

from __future__ import annotations

import os
import subprocess
import sys

APP = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "app")

LAZY = [
    "lxc_docker.api.handlers.attach",
    "lxc_docker.api.handlers.build",
    "lxc_docker.api.handlers.containers",
    "lxc_docker.api.handlers.images",
    "lxc_docker.api.websocket",
    "lxc_docker.builder.parser",
    "lxc_docker.daemon.commitchanges",
    "lxc_docker.template",
    "platform",
    "hashlib",  # OpenSSL's load: secrets, hashlib
]


def test_the_start_path_loads_handlers_at_the_first_request_that_needs_them():
    code = (
        "import sys\n"
        "from unittest import mock\n"
        "from lxc_docker import engine\n"
        "from lxc_docker.api.routes import build_router\n"
        "from lxc_docker.api.server import ApiServer\n"
        "from lxc_docker.daemon.daemon import Daemon\n"
        "r = build_router(mock.MagicMock())\n"
        "r.match('GET', '/_ping'); r.match('GET', '/version')\n"
        f"lazy = {LAZY!r}\n"
        "assert not [m for m in lazy if m in sys.modules], [m for m in lazy if m in sys.modules]\n"
        "r.match('GET', '/images/json')\n"
        "assert all(m in sys.modules for m in lazy[:4]), [m for m in lazy if m in sys.modules]\n"
    )
    subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": APP}, check=True)
