"""What the client writes: API paths with their query, the request head, and a body cut into pieces.

Each value that ends up in the head is checked here, so no caller can smuggle a line break into it.
"""

from __future__ import annotations

from lxc_docker import __version__

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping
    from typing import BinaryIO

    from lxc_docker.hosts import Host

USER_AGENT = f"Docker-Client/{__version__}"

_PIECE_SIZE = 65536
_FRAMING = frozenset(("content-length", "transfer-encoding"))
_TOKEN = frozenset(b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def quote(text: str, safe: str = "") -> str:
    """Percent-encode UTF-8 text for a URL; unreserved characters and those in `safe` stay as they are."""
    keep = _UNRESERVED | frozenset(safe.encode("ascii"))
    return "".join(chr(b) if b in keep else f"%{b:02X}" for b in text.encode("utf-8"))


def api_path(version: str | None, path: str, query: Mapping[str, object] | None = None) -> str:
    """`/v1.9/images/json?all=1`: version prefix, path as given, query percent-encoded.

    Query values: None is left out, True/False become 1/0, a list or tuple repeats the key; dicts
    (filters) must be JSON-encoded by the caller. Quote names placed in `path` with `quote(name, "/")`.
    """
    if not path.startswith("/"):
        path = "/" + path
    if version:
        path = f"/v{version.removeprefix('v')}{path}"
    parts = []
    for key, value in (query or {}).items():
        for item in value if isinstance(value, list | tuple) else (value,):
            if item is None:
                continue
            if isinstance(item, dict):
                raise TypeError(f"query parameter {key!r}: encode dicts as JSON first")
            if isinstance(item, bool):
                item = int(item)
            parts.append(f"{quote(str(key))}={quote(str(item))}")
    return f"{path}?{'&'.join(parts)}" if parts else path


def body_pieces(body: Iterable[bytes] | BinaryIO) -> Iterator[bytes]:
    # read1 hands over what a pipe has now instead of waiting to fill the piece, so `tar c | docker
    # load` uploads as the archive is produced.
    read = getattr(body, "read1", None) or getattr(body, "read", None)
    if read is None:
        source: Iterable[bytes] = body  # type: ignore[assignment]
    else:
        source = iter(lambda: read(_PIECE_SIZE), b"")
    for piece in source:
        if isinstance(piece, str):
            raise TypeError("request body must yield bytes, not str (open the file in binary mode)")
        yield piece


def request_head(
    host: Host, method: str, path: str, headers: Mapping[str, str] | None, framing: list[str]
) -> bytes:
    if not method or not all(b in _TOKEN for b in method.encode("latin-1", "replace")):
        raise ValueError(f"invalid HTTP method {method!r}")
    if not path.startswith("/") or any(c <= " " or c == "\x7f" for c in path):
        raise ValueError(f"invalid request path {path!r}")
    lines = [f"{method} {path} HTTP/1.1"]
    given = set()
    for name, value in (headers or {}).items():
        lowered = name.lower()
        if not name or not all(b in _TOKEN for b in name.encode("latin-1", "replace")):
            raise ValueError(f"invalid header name {name!r}")
        if "\r" in value or "\n" in value or "\0" in value:
            raise ValueError(f"invalid value for header {name}: line breaks are not allowed")
        if lowered in _FRAMING:
            raise ValueError(f"{name} is set by the transport from the body")
        lines.append(f"{name}: {value}")
        given.add(lowered)
    if "host" not in given:
        # A unix socket has no host name; Docker's own client sends a placeholder too.
        lines.append("Host: " + ("docker" if host.proto == "unix" else host.address))
    if "user-agent" not in given:
        lines.append("User-Agent: " + USER_AGENT)
    if "connection" not in given:
        # One request per connection: the CLI makes few, and a closed connection is the only
        # unambiguous end for a body without length.
        lines.append("Connection: close")
    lines.extend(framing)
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")
