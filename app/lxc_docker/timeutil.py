"""RFC 3339 timestamps as Docker writes them (Go's RFC3339Nano) and epoch conversions."""

from __future__ import annotations

import time


def now_rfc3339() -> str:
    return format_rfc3339(time.time_ns())


def format_rfc3339(ns: int) -> str:
    secs, frac = divmod(ns, 1_000_000_000)
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs))
    if frac:
        return f"{base}.{frac:09d}".rstrip("0") + "Z"
    return base + "Z"


def parse_rfc3339(text: str) -> float:
    """Epoch seconds of an RFC 3339 time with any number of fractional digits (Go writes up to 9)."""
    from datetime import datetime

    if not text:
        return 0.0
    s = text.strip()
    if s.endswith(("Z", "z")):
        s = s[:-1] + "+00:00"
    frac = 0.0
    dot = s.find(".")
    if dot != -1:
        end = dot + 1
        while end < len(s) and s[end].isdigit():
            end += 1
        frac = float("0" + s[dot:end])
        s = s[:dot] + s[end:]
    try:
        dt = datetime.fromisoformat(s)
    except ValueError as e:
        raise ValueError(f"invalid timestamp {text!r}") from e
    return dt.timestamp() + frac
