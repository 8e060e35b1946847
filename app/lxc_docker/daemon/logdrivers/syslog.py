"""The syslog driver: each line a syslog message to the local syslog (/dev/log) or to `syslog-address`
(unix, unixgram, udp, tcp, tcp+tls), at `syslog-facility` with severity info (stdout) or err
(stderr), in Docker 1.12's formats: its default (the local `<PRI>Mmm dd hh:mm:ss TAG[PID]: MSG`),
`rfc3164` (adds the hostname), `rfc5424` and `rfc5424micro` (APP-NAME and MSGID the tag).
"""

from __future__ import annotations

import os
import socket
import ssl
import time

from ...runconfig import logopts
from .base import AsyncSender, LogInfo, dial_tcp

LOCAL_SOCKETS = ("/dev/log", "/var/run/syslog", "/var/run/log")
SEVERITY = {"stdout": 6, "stderr": 3}  # LOG_INFO, LOG_ERR
CONNECT_TIMEOUT = 5.0


class SyslogDriver:
    name = "syslog"

    def __init__(self, info: LogInfo) -> None:
        config = info.config
        self.address = logopts.syslog_address(config.get("syslog-address", ""))
        self.facility = logopts.syslog_facility(config.get("syslog-facility", ""))
        self.format = config.get("syslog-format", "")
        self.tag = info.tag("{{.ID}}")
        self.hostname = socket.gethostname()
        self.pid = os.getpid()
        self._tls = _tls_context(config) if self.address and self.address.proto == "tcp+tls" else None
        self._sock: socket.socket | None = None
        self._stream = False
        # Docker fails the start when the endpoint cannot be reached (dial errors, tcp refused).
        self._connect()
        self._sender = AsyncSender(f"syslog {info.container_id[:12]}", self._send, reconnect=self._connect)

    def _connect(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        a = self.address
        if a is None:
            self._sock, self._stream = _local()
            return
        if a.proto in ("unix", "unixgram"):
            kinds = [socket.SOCK_DGRAM] if a.proto == "unixgram" else [socket.SOCK_STREAM, socket.SOCK_DGRAM]
            self._sock, self._stream = _unix(a.path, kinds)
            return
        if a.proto == "udp":
            sock = socket.socket(_family(a.host), socket.SOCK_DGRAM)
            sock.connect((a.host, a.port))
            self._sock, self._stream = sock, False
            return
        sock = dial_tcp(a.host, a.port, CONNECT_TIMEOUT)
        if self._tls is not None:
            sock = self._tls.wrap_socket(sock, server_hostname=a.host)
        sock.settimeout(None)
        self._sock, self._stream = sock, True

    def log(self, stream: str, line: bytes, when_ns: int, partial: bool = False) -> None:
        self._sender.put(self.format_message(SEVERITY.get(stream, 6), line, when_ns))

    def format_message(self, severity: int, line: bytes, when_ns: int) -> bytes:
        pri = self.facility * 8 + severity
        msg = line.decode("utf-8", "replace")
        secs = when_ns / 1e9
        if self.format in ("rfc5424", "rfc5424micro"):
            stamp = _rfc3339(secs, micro=self.format == "rfc5424micro")
            text = f"<{pri}>1 {stamp} {self.hostname} {self.tag} {self.pid} {self.tag} - {msg}"
        elif self.format == "rfc3164":
            text = f"<{pri}>{_stamp(secs)} {self.hostname} {self.tag}[{self.pid}]: {msg}"
        else:
            text = f"<{pri}>{_stamp(secs)} {self.tag}[{self.pid}]: {msg}"
        data = text.encode()
        tls = self.address is not None and self.address.proto == "tcp+tls"
        if tls and "rfc5424" in self.format:
            return f"{len(data)} ".encode() + data  # RFC 5425 octet counting
        return data + b"\n" if self._stream else data

    def _send(self, payload: bytes) -> None:
        if self._sock is None:
            raise OSError("not connected")
        if self._stream:
            self._sock.sendall(payload)
        else:
            self._sock.send(payload)

    def close(self) -> None:
        self._sender.close()
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def _local() -> tuple[socket.socket, bool]:
    errors = []
    for path in LOCAL_SOCKETS:
        if os.path.exists(path):
            try:
                return _unix(path, [socket.SOCK_DGRAM, socket.SOCK_STREAM])
            except OSError as e:
                errors.append(str(e))
    raise OSError("Unix syslog delivery error" + (f": {'; '.join(errors)}" if errors else ""))


def _unix(path: str, kinds: list[int]) -> tuple[socket.socket, bool]:
    last: OSError | None = None
    for kind in kinds:
        sock = socket.socket(socket.AF_UNIX, kind | socket.SOCK_CLOEXEC)
        try:
            sock.connect(path)
            return sock, kind == socket.SOCK_STREAM
        except OSError as e:  # EPROTOTYPE: the socket is of the other kind
            sock.close()
            last = e
    raise OSError(f"dial unix {path}: {last.strerror if last else 'failed'}")


def _family(host: str) -> int:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def _tls_context(config: dict[str, str]) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=config.get("syslog-tls-ca-cert") or None)
    if config.get("syslog-tls-cert"):
        ctx.load_cert_chain(config["syslog-tls-cert"], config.get("syslog-tls-key") or None)
    if logopts.parse_bool(config.get("syslog-tls-skip-verify", "") or "false"):
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _stamp(secs: float) -> str:
    """Go's time.Stamp ("Jan _2 15:04:05") in local time, as syslog(3) writes it."""
    t = time.localtime(secs)
    return time.strftime("%b ", t) + f"{t.tm_mday:2d}" + time.strftime(" %H:%M:%S", t)


def _rfc3339(secs: float, micro: bool) -> str:
    t = time.localtime(secs)
    offset = t.tm_gmtoff or 0
    sign, offset = ("+" if offset >= 0 else "-"), abs(offset)
    zone = "Z" if offset == 0 else f"{sign}{offset // 3600:02d}:{offset % 3600 // 60:02d}"
    frac = f".{int(secs * 1e6) % 1_000_000:06d}" if micro else ""
    return time.strftime("%Y-%m-%dT%H:%M:%S", t) + frac + zone
