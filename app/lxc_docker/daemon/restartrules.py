"""What a restart policy decides for one container: pure rules, shared by the exit path of
ContainerService (which marks a container restarting the moment it exits) and the RestartManager
(which starts it again after the back-off)."""

from __future__ import annotations

from typing import Any

from .container import Container


def policy_of(c: Container) -> tuple[str, int]:
    policy: Any = c.host_config.get("RestartPolicy") or {}
    if not isinstance(policy, dict):
        return "no", 0
    return (policy.get("Name") or "no"), int(policy.get("MaximumRetryCount") or 0)


def should_restart(c: Container, exit_code: int) -> bool:
    """Whether the policy starts `c` again after it exited with `exit_code` on its own."""
    if c.state.manually_stopped:
        return False
    name, maximum = policy_of(c)
    if name in ("always", "unless-stopped"):
        return True
    if name == "on-failure":
        return exit_code != 0 and (maximum == 0 or c.state.restart_count < maximum)
    return False


def start_at_daemon_start(c: Container) -> bool:
    """Whether a container that is not running when the daemon starts is started by its policy."""
    name, _ = policy_of(c)
    return name == "always" or (name == "unless-stopped" and not c.state.manually_stopped)
