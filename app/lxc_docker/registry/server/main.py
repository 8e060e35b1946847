"""`docker registry [OPTIONS]`: serve the v1 and v2 registry APIs (and the Index API with --index)
from a directory, on every -H address, until SIGINT or SIGTERM."""

from __future__ import annotations

import os
import signal
import sys
import threading

from ... import hosts, mflag
from ...sysutil.pidfile import Pidfile, PidfileBusy
from .httpd import Listeners, Request, Response, make_handler_class
from .store import Store
from .v1 import V1
from .v2 import V2, error
from .v2auth import V2Auth

DEFAULT_ROOT = "/var/lib/lxc-docker-registry"
DEFAULT_PORT = 5000


class Registry:
    """The request router: /v1/ to V1, /v2/ to V2."""

    def __init__(self, root: str, index: bool) -> None:
        os.makedirs(root, mode=0o700, exist_ok=True)
        self.v1 = V1(root, index)
        # Standalone: v2 is open, like a private registry on a trusted network. With --index the
        # index's users guard writes through Docker's token flow (v2auth.py).
        self.auth = V2Auth(self.v1.accounts, self.v1.accounts.secret) if index else None
        self.v2 = V2(Store(root), self.auth.authorize if self.auth else None)

    def __call__(self, req: Request) -> Response:
        if self.auth and req.path == "/v2/token" and req.method == "GET":
            return self.auth.token_endpoint(req)
        if req.path.startswith("/v2"):
            return self.v2(req)
        if req.path.startswith("/v1/"):
            return self.v1(req)
        return error(404, "NOT_FOUND", "no such endpoint", req.path)


def _flags() -> mflag.FlagSet:
    fs = mflag.FlagSet(
        "registry",
        "[OPTIONS]",
        "Serve a Docker registry (v1, v2 and optionally the Index API)",
    )
    fs.list(["H", "-host"], "tcp://host:port or unix:///path to bind to (repeatable)", dest="hosts")
    fs.string(["g", "-graph"], DEFAULT_ROOT, "Path of the registry's storage", dest="root")
    fs.bool(["-index"], False, "Also serve the Index API (users, tokens, search)", dest="index")
    fs.string(["p", "-pidfile"], "", "Path to write the registry's pid to", dest="pidfile")
    fs.bool(["D", "-debug"], False, "Log every request to stderr", dest="debug")
    return fs


def main(args: list[str]) -> int:
    fs = _flags()
    try:
        opts, rest = fs.parse(args)
    except mflag.HelpRequested:
        sys.stdout.write(fs.usage())
        return 0
    except mflag.FlagError as e:
        sys.stderr.write(f"{e}\n")
        return 2
    if rest:
        sys.stderr.write(f"Error: extra arguments: {' '.join(rest)}\n")
        return 2
    try:
        addresses = [
            hosts.parse_host(h, default_port=DEFAULT_PORT)
            for h in opts.hosts or [f"tcp://127.0.0.1:{DEFAULT_PORT}"]
        ]
    except ValueError as e:
        sys.stderr.write(f"Error: {e}\n")
        return 2
    for host in addresses:  # refused before anything touches the disk
        if host.proto not in ("tcp", "unix"):
            sys.stderr.write(f"Error: the registry listens on tcp:// or unix:// only, not {host.proto}://\n")
            return 2
    root = os.path.abspath(opts.root)
    os.makedirs(root, mode=0o700, exist_ok=True)
    # One registry per root: start-up empties the upload area, which must be nobody else's.
    locks = [Pidfile(os.path.join(root, "registry.pid"))] + ([Pidfile(opts.pidfile)] if opts.pidfile else [])
    try:
        for lock in locks:
            lock.acquire()
    except PidfileBusy as e:
        sys.stderr.write(f"Error: {e}\n")
        return 1
    try:
        return _serve(root, opts, addresses, locks)
    finally:
        for lock in locks:
            lock.release()


def _serve(root: str, opts: mflag.Options, addresses: list[hosts.Host], locks: list[Pidfile]) -> int:
    registry = Registry(root, opts.index)
    handler = make_handler_class(registry, opts.debug)
    listeners = Listeners()
    try:
        for host in addresses:
            if host.proto == "tcp":
                listeners.add_tcp(host.host, host.port, handler)
            elif host.proto == "unix":
                listeners.add_unix(host.path, handler)
            else:
                raise OSError(f"unsupported address for the registry: {host.proto}://{host.address}")
    except OSError as e:
        sys.stderr.write(f"Error: cannot listen: {e}\n")
        listeners.shutdown()
        return 1
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    listeners.serve()
    for lock in locks:
        lock.write_pid()
    mode = "registry and index" if opts.index else "standalone registry"
    sys.stderr.write(
        f"docker registry: {mode} on {', '.join(h.address for h in addresses)}, storage {opts.root}\n"
    )
    stop.wait()
    listeners.shutdown()
    return 0
