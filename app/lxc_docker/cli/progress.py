"""Shows the daemon's JSON progress streams (import, insert, load) the way Docker 0.9's CLI did."""

from __future__ import annotations

from .main import CommandError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any


def display(messages: Iterable[dict[str, Any]], out: Any) -> dict[str, Any] | None:
    """Print each message; raise CommandError on an `error` message; return the last one."""
    last = None
    tty = hasattr(out, "isatty") and out.isatty()
    for msg in messages:
        last = msg
        if msg.get("error"):
            detail = msg.get("errorDetail") or {}
            raise CommandError(str(detail.get("message") or msg["error"]))
        if "stream" in msg:
            out.write(msg["stream"])
            continue
        status = msg.get("status", "")
        prefix = f"{msg['id']}: " if msg.get("id") else ""
        if msg.get("progress") and tty:
            out.write(f"\r{prefix}{status} {msg['progress']}\x1b[K")
        elif msg.get("progress") or msg.get("progressDetail"):
            continue  # progress bars only make sense on a terminal
        else:
            out.write(f"{prefix}{status}\n")
        out.flush()
    return last
