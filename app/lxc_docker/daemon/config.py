"""The daemon's settings, from `docker -d` flags, validated before anything starts."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field

from ..errors import InvalidParameter
from ..hosts import DEFAULT_TCP_PORT, DEFAULT_TLS_PORT, parse_host

DEFAULT_ROOT = "/var/lib/docker"
DEFAULT_PIDFILE = "/var/run/docker.pid"
DEFAULT_SOCKET = "unix:///var/run/docker.sock"
EXEC_DRIVERS = ("native", "lxc", "oci")


@dataclass
class DaemonConfig:
    hosts: list[str] = field(default_factory=lambda: [DEFAULT_SOCKET])
    debug: bool = False
    api_enable_cors: bool = False
    bridge: str = ""
    bridge_ip: str = ""
    dns: list[str] = field(default_factory=list)
    root: str = DEFAULT_ROOT
    icc: bool = True
    default_ip: str = "0.0.0.0"
    iptables: bool = True
    pidfile: str = DEFAULT_PIDFILE
    restart: bool = True
    storage_driver: str = ""
    mtu: int = 0
    exec_driver: str = "native"
    oci_runtime: str = "runc"  # -e oci: the runtime's name in PATH, or its path
    group: str = "docker"
    # TLS on the tcp listeners (Docker 0.10): --tls serves TLS, --tlsverify also requires client
    # certificates signed by tls_ca.
    tls: bool = False
    tls_verify: bool = False
    tls_ca: str = ""
    tls_cert: str = ""
    tls_key: str = ""
    insecure_registries: list[str] = field(default_factory=list)  # --insecure-registry (issue 10)
    # Containers' default logging driver and its options (later Docker's --log-driver/--log-opt).
    log_driver: str = "json-file"
    log_opts: list[str] = field(default_factory=list)

    @property
    def default_port(self) -> int:
        return DEFAULT_TLS_PORT if self.tls or self.tls_verify else DEFAULT_TCP_PORT

    def exposed_hosts(self) -> list[str]:
        """The tcp addresses that reach beyond this host without client verification (to warn of)."""
        exposed = []
        for spec in self.hosts:
            host = parse_host(spec, default_port=self.default_port)
            if host.proto != "tcp" or self.tls_verify:
                continue
            name = (host.host or "").lower()
            if name == "localhost":
                continue
            try:
                if ipaddress.ip_address(name.split("%")[0]).is_loopback:
                    continue
            except ValueError:
                pass  # a host name: it may resolve to anything
            exposed.append(host.url)
        return exposed

    def validate(self) -> None:
        """Raise InvalidParameter naming the bad flag; later issues use these values."""
        if not self.hosts:
            self.hosts = [DEFAULT_SOCKET]
        for host in self.hosts:
            try:
                parse_host(host, default_port=self.default_port)
            except ValueError as e:
                raise InvalidParameter(str(e))
        if self.tls_verify:
            self.tls = True
        self.log_config()
        if self.tls:
            files = [("--tlscert", self.tls_cert), ("--tlskey", self.tls_key)]
            if self.tls_verify:
                files.insert(0, ("--tlscacert", self.tls_ca))
            for flag, path in files:
                if not path or not os.path.isfile(path):
                    raise InvalidParameter(f"{flag} {path or '(empty)'}: no such file (TLS needs it)")
        if self.bridge and self.bridge_ip:
            raise InvalidParameter(
                "You specified -b & --bip, mutually exclusive options. Please specify only one."
            )
        if self.bridge_ip:
            try:
                ipaddress.IPv4Interface(self.bridge_ip)
            except ValueError:
                raise InvalidParameter(
                    f"Invalid --bip address {self.bridge_ip!r}: expected CIDR like 172.17.42.1/16"
                )
            if "/" not in self.bridge_ip:
                raise InvalidParameter(
                    f"Invalid --bip address {self.bridge_ip!r}: expected CIDR like 172.17.42.1/16"
                )
        if not self.icc and not self.iptables:
            raise InvalidParameter(
                "You specified --iptables=false with --icc=false. ICC uses iptables to function."
            )
        from ..registry.insecure import parse as parse_insecure

        for spec in self.insecure_registries:
            try:
                parse_insecure(spec)
            except ValueError as e:
                raise InvalidParameter(f"--insecure-registry: {e}") from None
        for server in self.dns:
            try:
                ipaddress.ip_address(server)
            except ValueError:
                raise InvalidParameter(f"Invalid --dns address {server!r}")
        try:
            ipaddress.ip_address(self.default_ip)
        except ValueError:
            raise InvalidParameter(f"Invalid --ip address {self.default_ip!r}")
        if self.mtu < 0 or (self.mtu and self.mtu < 68):
            raise InvalidParameter(f"Invalid --mtu {self.mtu}: must be at least 68")
        if self.exec_driver not in EXEC_DRIVERS:
            raise InvalidParameter(
                f"unknown exec driver {self.exec_driver!r} (choose from: {', '.join(EXEC_DRIVERS)})"
            )
        if not self.root.startswith("/"):
            raise InvalidParameter(f"-g needs an absolute path, not {self.root!r}")

    def log_config(self) -> tuple[str, dict[str, str]]:
        """(driver, options) of --log-driver/--log-opt; InvalidParameter in Docker's words when bad."""
        from ..runconfig import logopts

        try:
            opts = logopts.parse_flag_opts(self.log_opts)
            logopts.check(self.log_driver or "json-file", opts, stat_sockets=False)
        except logopts.LogOptError as e:
            raise InvalidParameter(str(e)) from None
        return self.log_driver or "json-file", opts
