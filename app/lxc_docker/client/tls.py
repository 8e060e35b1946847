"""The client's TLS settings (`--tls`, `--tlsverify`, `--tlscacert`, `--tlscert`, `--tlskey`) and the
address they travel with. `ssl` is imported only when a TLS connection is made: the plain client's
start path stays as light as it was."""

from __future__ import annotations

import os

from lxc_docker.hosts import Host

TYPE_CHECKING = False
if TYPE_CHECKING:
    import ssl


class TLSOptions:
    """As Docker 0.10's client: with `verify` the daemon's certificate must be signed by `ca` and
    name the host; without it the connection is encrypted but the daemon is not checked. The client
    certificate is sent whenever `cert` and `key` exist."""

    def __init__(self, verify: bool, ca: str, cert: str, key: str) -> None:
        self.verify = verify
        self.ca = ca
        self.cert = cert
        self.key = key
        self._context: ssl.SSLContext | None = None

    def context(self) -> ssl.SSLContext:
        if self._context is None:
            self._context = self._make()
        return self._context

    def _make(self) -> ssl.SSLContext:
        import ssl

        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        if self.verify:
            try:
                ctx.load_verify_locations(cafile=self.ca)
            except (OSError, ssl.SSLError) as e:
                raise TLSConfigError(f"Couldn't read CA certificate {self.ca}: {_why(e)}") from e
        else:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        if os.path.exists(self.cert) and os.path.exists(self.key):
            try:
                ctx.load_cert_chain(self.cert, self.key)
            except (OSError, ssl.SSLError) as e:
                raise TLSConfigError(
                    f"Couldn't load X509 key pair ({self.cert}, {self.key}): {_why(e)}"
                ) from e
        return ctx


class TLSConfigError(ValueError):
    """A certificate or key file named by the TLS flags cannot be used."""


class Endpoint:
    """A tcp daemon address with the TLS settings to reach it; reads like the `Host` it wraps."""

    def __init__(self, host: Host, tls: TLSOptions) -> None:
        self._host = host
        self.tls = tls

    proto = property(lambda self: self._host.proto)
    address = property(lambda self: self._host.address)
    host = property(lambda self: self._host.host)
    port = property(lambda self: self._host.port)
    path = property(lambda self: self._host.path)

    @property
    def url(self) -> str:
        return self._host.url

    def __str__(self) -> str:
        return self._host.url

    def __repr__(self) -> str:
        return f"Endpoint({self._host.url!r}, tls)"


def _why(error: Exception) -> str:
    return getattr(error, "strerror", None) or getattr(error, "reason", None) or str(error)
