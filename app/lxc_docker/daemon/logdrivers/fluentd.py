"""The fluentd driver: each line a forward-protocol event `[tag, time, record]` in MessagePack over
TCP (or a unix socket) to `fluentd-address`, tag `docker.{{.ID}}` unless `tag` says otherwise, record
`container_id`, `container_name`, `source`, `log` plus the `labels`/`env` it names.

As Docker: the start fails when the endpoint refuses the connection, unless `fluentd-async-connect`;
events wait in a buffer of `fluentd-buffer-limit` bytes while it is away, and are dropped past that.
"""

from __future__ import annotations

import socket

from ...runconfig import logopts
from . import msgpack
from .base import AsyncSender, LogInfo, dial_tcp

CONNECT_TIMEOUT = 5.0


class FluentdDriver:
    name = "fluentd"

    def __init__(self, info: LogInfo) -> None:
        config = info.config
        self.address = logopts.fluentd_address(config.get("fluentd-address", ""))
        settings = logopts.fluentd_settings(config)
        self.tag = info.tag("docker.{{.ID}}")
        self._base = {"container_id": info.container_id, "container_name": info.name}
        self._extra = info.extra()
        self._sock: socket.socket | None = None
        if not settings.async_connect:
            self._connect()
        self._sender = AsyncSender(
            f"fluentd {info.container_id[:12]}",
            self._send,
            limit_bytes=settings.buffer_limit,
            reconnect=self._connect,
            retry_wait=settings.retry_wait,
            max_retries=settings.max_retries,
        )

    def _connect(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        a = self.address
        if a.proto == "unix":
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
            try:
                sock.settimeout(CONNECT_TIMEOUT)
                sock.connect(a.path)
            except OSError:
                sock.close()
                raise
        else:
            sock = dial_tcp(a.host, a.port, CONNECT_TIMEOUT)
        sock.settimeout(None)
        self._sock = sock

    def event(self, stream: str, line: bytes, when_ns: int) -> bytes:
        record = dict(self._base, source=stream, log=line.decode("utf-8", "replace"))
        record.update(self._extra)
        return msgpack.pack([self.tag, when_ns // 1_000_000_000, record])

    def log(self, stream: str, line: bytes, when_ns: int, partial: bool = False) -> None:
        self._sender.put(self.event(stream, line, when_ns))

    def _send(self, payload: bytes) -> None:
        if self._sock is None:
            self._connect()
        assert self._sock is not None
        try:
            self._sock.sendall(payload)
        except OSError:
            self._sock.close()
            self._sock = None
            raise

    def close(self) -> None:
        self._sender.close()
        if self._sock is not None:
            self._sock.close()
            self._sock = None
