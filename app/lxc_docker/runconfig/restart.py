"""Restart policies and healthchecks: the `--restart` and `--health-*` flags, and the checks the
API applies to HostConfig.RestartPolicy and Config.Healthcheck (client and server share them)."""

from __future__ import annotations

import re
from typing import Any

POLICIES = ("", "no", "always", "on-failure", "unless-stopped")
_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNIT_NS = {"ns": 1, "us": 1000, "µs": 1000, "ms": 10**6, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9}


class PolicyError(ValueError):
    pass


def check_restart_policy(policy: Any) -> dict[str, Any]:
    """A RestartPolicy object, checked as Docker checks it at create and update."""
    if not isinstance(policy, dict):
        raise PolicyError("RestartPolicy must be a JSON object")
    name = policy.get("Name") or ""
    count = policy.get("MaximumRetryCount") or 0
    if not isinstance(name, str) or name not in POLICIES:
        raise PolicyError(f"invalid restart policy {name}")
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        raise PolicyError("maximum retry count cannot be negative")
    if count and name != "on-failure":
        raise PolicyError(f"maximum retry count cannot be used with restart policy '{name}'")
    return {"Name": name or "no", "MaximumRetryCount": count}


def parse_restart(text: str) -> dict[str, Any]:
    """`--restart no|always|on-failure[:N]|unless-stopped` as a RestartPolicy."""
    name, colon, count = text.partition(":")
    if colon and name != "on-failure":
        raise PolicyError(f"maximum retry count cannot be used with restart policy '{name}'")
    if colon and not count.isdigit():
        raise PolicyError(f"maximum retry count must be an integer: {count}")
    return check_restart_policy({"Name": name, "MaximumRetryCount": int(count) if colon else 0})


def parse_duration(text: str) -> int:
    """A Go duration (`1m30s`, `500ms`, `0`) in nanoseconds."""
    if text in ("0", ""):
        return 0
    pos, total = 0, 0.0
    for m in _DURATION.finditer(text):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNIT_NS[m.group(2)]
        pos = m.end()
    if pos != len(text) or pos == 0:
        raise PolicyError(f"time: invalid duration {text}")
    return int(total)


def healthcheck_from_flags(
    cmd: str, interval: str, timeout: str, retries: int, disabled: bool
) -> dict[str, Any] | None:
    """Config.Healthcheck from `--health-cmd`, `--health-interval`, `--health-timeout`,
    `--health-retries` and `--no-healthcheck` (None when none was given)."""
    given = bool(cmd or interval or timeout or retries)
    if disabled:
        if given:
            raise PolicyError("--no-healthcheck conflicts with --health-* options")
        return {"Test": ["NONE"]}
    if not given:
        return None
    check: dict[str, Any] = {"Test": ["CMD-SHELL", cmd] if cmd else None}
    for key, value in (("Interval", interval), ("Timeout", timeout)):
        ns = parse_duration(value) if value else 0
        if ns < 0:
            raise PolicyError(f"--health-{key.lower()} cannot be negative")
        check[key] = ns
    if retries < 0:
        raise PolicyError("--health-retries cannot be negative")
    check["Retries"] = retries
    return check


def check_healthcheck(value: Any) -> dict[str, Any] | None:
    """Config.Healthcheck as the API accepts it."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise PolicyError("Healthcheck must be a JSON object")
    test = value.get("Test")
    if test is not None and (not isinstance(test, list) or not all(isinstance(t, str) for t in test)):
        raise PolicyError("Healthcheck.Test must be a list of strings")
    if test and test[0] not in ("NONE", "CMD", "CMD-SHELL"):
        raise PolicyError(f"unknown healthcheck type {test[0]!r}")
    for key in ("Interval", "Timeout", "Retries", "StartPeriod"):
        number = value.get(key) or 0
        if not isinstance(number, int) or isinstance(number, bool) or number < 0:
            raise PolicyError(f"Healthcheck.{key} must be a non-negative integer")
    for key in ("Interval", "Timeout"):
        if 0 < (value.get(key) or 0) < 10**6:
            raise PolicyError(f"Healthcheck.{key} must be at least 1ms")
    return value
