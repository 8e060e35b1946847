"""`docker -d`: wire the daemon to the API server, serve until SIGTERM/SIGINT, then shut down cleanly.

Start-up sits above both `api` and `daemon`, so neither needs to import the other's start-up.
"""

from __future__ import annotations

import gc
import logging
import signal
import sys
import threading
from typing import Any

from .daemon.config import DaemonConfig
from .errors import DockerError
from .sysutil.pidfile import Pidfile, PidfileBusy

log = logging.getLogger("lxc_docker")


def config_from_flags(opts: Any) -> DaemonConfig:
    return DaemonConfig(
        hosts=list(opts.host) or ["unix:///var/run/docker.sock"],
        debug=opts.debug,
        api_enable_cors=opts.api_enable_cors,
        bridge=opts.bridge,
        bridge_ip=opts.bip,
        dns=list(opts.dns),
        root=opts.graph,
        icc=opts.icc,
        default_ip=opts.ip,
        iptables=opts.iptables,
        pidfile=opts.pidfile,
        restart=opts.restart,
        storage_driver=opts.storage_driver,
        mtu=opts.mtu,
        exec_driver=opts.exec_driver,
        oci_runtime=opts.oci_runtime,
        group=opts.group,
        tls=opts.tls,
        tls_verify=opts.tlsverify,
        tls_ca=opts.tlscacert,
        tls_cert=opts.tlscert,
        tls_key=opts.tlskey,
        insecure_registries=list(opts.insecure_registry),
        log_driver=getattr(opts, "log_driver", "json-file"),
        log_opts=list(getattr(opts, "log_opt", [])),
    )


def _warn_exposed(config: DaemonConfig) -> None:
    for url in config.exposed_hosts():
        # Later Docker's warning: whoever reaches this port is root on the host.
        for line in (
            f"Binding to {url} without --tlsverify is insecure and gives root access on this machine "
            "to everyone who has access to your network.",
            "Use --tlsverify with --tlscacert, --tlscert and --tlskey (see docs/security.md, "
            "'TLS on tcp'), or listen on 127.0.0.1 or a unix socket.",
        ):
            log.warning("!!! %s", line)


def _raise_fd_limit() -> None:
    """Each idle client connection holds a descriptor: allow as many as the hard limit does."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 1 << 20), hard))
        except (ValueError, OSError):
            log.debug("could not raise the open-file limit from %s", soft)


def _check(config: DaemonConfig, pidfile: Pidfile) -> int:
    """`docker -d --check`: the store's findings on stdout; 0 clean, 1 findings. Holding the pidfile
    lock keeps a daemon from starting on the root meanwhile (2, earlier, when one runs)."""
    from .daemon.check import check_store

    try:
        findings = check_store(config.root, config.storage_driver)
    finally:
        pidfile.release()
    for finding in findings:
        sys.stdout.write(f"{finding}\n")
    sys.stdout.write(
        f"{len(findings)} finding(s) in {config.root}\n" if findings else f"{config.root}: clean\n"
    )
    return 1 if findings else 0


def run_daemon(opts: Any) -> int:
    logging.basicConfig(
        level=logging.DEBUG if opts.debug else logging.INFO,
        format="[%(asctime)s] %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    config = config_from_flags(opts)
    try:
        config.validate()
    except DockerError as e:
        sys.stderr.write(f"Error: {e}\n")
        return 1
    import os

    if os.geteuid() != 0:
        sys.stderr.write("Error: docker -d must be run as root\n")
        return 1
    pidfile = Pidfile(config.pidfile)
    try:
        pidfile.acquire()
    except PidfileBusy as e:
        if getattr(opts, "check", False):
            sys.stderr.write(f"Error: a daemon is running on this root; --check needs it stopped ({e})\n")
            return 2
        sys.stderr.write(f"Error: {e}\n")
        return 1
    if getattr(opts, "check", False):
        return _check(config, pidfile)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGQUIT, lambda *_: stop.set())
    daemon = server = None
    try:
        from .api.routes import build_router
        from .api.server import ApiServer
        from .daemon.daemon import Daemon

        tls = None
        if config.tls:
            from .api.tls import server_context

            tls = server_context(config.tls_cert, config.tls_key, config.tls_ca, config.tls_verify)
        _raise_fd_limit()
        _warn_exposed(config)
        daemon = Daemon(config)
        server = ApiServer(build_router(daemon), cors=config.api_enable_cors, group=config.group, tls=tls)
        for host in config.hosts:
            server.listen(host)
        # Restarted before the first request is served, as Docker does: a client right after the start
        # must not see a container that is about to run again as stopped.
        daemon.start_restored()
        server.serve()
        # main.py turned the cyclic collector off for the start; what the start made lives as long as
        # the daemon, so it goes to the permanent generation, out of every later collection's way.
        gc.freeze()
        gc.enable()
        pidfile.write_pid()
        log.info(
            "daemon started: %s (root %s, storage driver %s)",
            ", ".join(config.hosts),
            config.root,
            daemon.driver.name,
        )
        while not stop.wait(3600):
            pass
        log.info("received signal, shutting down")
        return 0
    except DockerError as e:
        sys.stderr.write(f"Error: {e}\n")
        return 1
    except OSError as e:
        sys.stderr.write(f"Error: {e}\n")
        if config.debug:
            raise
        return 1
    finally:
        if daemon is not None:
            daemon.stopping = True
            daemon.events.close_all()
        if server is not None:
            server.close()
        if daemon is not None:
            daemon.shutdown()
        pidfile.release()
