"""The daemon's TLS on tcp (`--tls`, `--tlsverify`), as Docker 0.10 added it: the server's certificate,
and with `--tlsverify` a client certificate signed by `--tlscacert` required of every client."""

from __future__ import annotations

import ssl

from ..errors import InvalidParameter


def server_context(cert: str, key: str, ca: str, verify: bool) -> ssl.SSLContext:
    """An SSL context for the tcp listeners; InvalidParameter naming the flag whose file is bad."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    # Docker's tlsconfig default: nothing older than TLS 1.2.
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as e:
        raise InvalidParameter(f"Could not load X509 key pair (--tlscert {cert}, --tlskey {key}): {_why(e)}")
    if verify:
        try:
            ctx.load_verify_locations(cafile=ca)
        except (OSError, ssl.SSLError) as e:
            raise InvalidParameter(f"Could not read CA certificate (--tlscacert {ca}): {_why(e)}")
        ctx.verify_mode = ssl.CERT_REQUIRED
    else:
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _why(error: Exception) -> str:
    return getattr(error, "strerror", None) or getattr(error, "reason", None) or str(error)
