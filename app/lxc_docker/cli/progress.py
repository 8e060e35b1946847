"""Shows the daemon's JSON progress streams (pull, push, import, insert, load) as Docker's CLI does.

On a terminal every message with an `id` (a layer) owns one line, redrawn in place (cursor up, erase,
write, cursor down, as Docker's jsonmessage does), so a pull shows live per-layer bars. Elsewhere
each status is one plain line and the bars are left out.
"""

from __future__ import annotations

from .main import CommandError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any


def _line(msg: dict[str, Any], with_bar: bool) -> str:
    prefix = f"{msg['id']}: " if msg.get("id") else ""
    bar = f" {msg['progress']}" if with_bar and msg.get("progress") else ""
    return f"{prefix}{msg.get('status', '')}{bar}"


def display(messages: Iterable[dict[str, Any]], out: Any) -> dict[str, Any] | None:
    """Print each message; raise CommandError on an `error` message; return the last one."""
    last = None
    tty = hasattr(out, "isatty") and out.isatty()
    lines: dict[str, int] = {}  # layer id -> its line, counted from the first layer line
    for msg in messages:
        last = msg
        if msg.get("error"):
            detail = msg.get("errorDetail") or {}
            raise CommandError(str(detail.get("message") or msg["error"]))
        if "stream" in msg:
            out.write(msg["stream"])
            lines.clear()
            continue
        if "status" not in msg:
            continue  # `aux` messages carry data for API clients, nothing to show
        if tty and msg.get("id"):
            ident = msg["id"]
            if ident not in lines:
                lines[ident] = len(lines)
                out.write(_line(msg, True) + "\n")
            else:
                up = len(lines) - lines[ident]
                out.write(f"\x1b[{up}A\r\x1b[2K{_line(msg, True)}\x1b[{up}B\r")
        elif tty:
            lines.clear()
            out.write(_line(msg, True) + "\n")
        elif msg.get("progress") or msg.get("progressDetail"):
            continue  # progress bars only make sense on a terminal
        else:
            out.write(_line(msg, False) + "\n")
        out.flush()
    return last
