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


def human_duration(seconds: float) -> str:
    """Docker's utils.HumanDuration, used as "19 hours ago" and "Up 3 seconds"."""
    whole = int(seconds)
    if whole < 1:
        return "Less than a second"
    if whole < 60:
        # Go prints "%d seconds" even for 1, and so does Docker 0.9.
        return f"{whole} seconds"
    minutes = int(seconds / 60)
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = int(seconds / 3600)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 3:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{seconds / 3600 / 24 / 365:f} years"
