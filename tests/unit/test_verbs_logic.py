"""The pure parts of the container verbs: restart-policy and healthcheck flags, the policy's
decisions, rename in the name registry, the stats table's arithmetic, the healthcheck's argv."""

from __future__ import annotations

import pytest

from lxc_docker.cli.commands.stats import bytes_size, cpu_percent, row
from lxc_docker.daemon.container import Container
from lxc_docker.daemon.health import probe_args
from lxc_docker.daemon.names import NameRegistry
from lxc_docker.daemon.restartrules import should_restart, start_at_daemon_start
from lxc_docker.errors import Conflict
from lxc_docker.runconfig.restart import (
    PolicyError,
    check_healthcheck,
    healthcheck_from_flags,
    parse_duration,
    parse_restart,
)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("no", {"Name": "no", "MaximumRetryCount": 0}),
        ("always", {"Name": "always", "MaximumRetryCount": 0}),
        ("unless-stopped", {"Name": "unless-stopped", "MaximumRetryCount": 0}),
        ("on-failure", {"Name": "on-failure", "MaximumRetryCount": 0}),
        ("on-failure:5", {"Name": "on-failure", "MaximumRetryCount": 5}),
    ],
)
def test_parse_restart(text, expected):
    assert parse_restart(text) == expected


@pytest.mark.parametrize("text", ["sometimes", "always:2", "on-failure:x", "on-failure:-1"])
def test_parse_restart_refuses(text):
    with pytest.raises(PolicyError):
        parse_restart(text)


def test_parse_duration():
    assert parse_duration("1m30s") == 90 * 10**9
    assert parse_duration("500ms") == 5 * 10**8
    assert parse_duration("1.5s") == 15 * 10**8
    assert parse_duration("0") == 0
    for bad in ("10", "1x", "s", "1s2"):
        with pytest.raises(PolicyError):
            parse_duration(bad)


def test_healthcheck_from_flags():
    assert healthcheck_from_flags("", "", "", 0, False) is None
    assert healthcheck_from_flags("", "", "", 0, True) == {"Test": ["NONE"]}
    check = healthcheck_from_flags("curl -f x", "5s", "2s", 4, False)
    assert check == {
        "Test": ["CMD-SHELL", "curl -f x"],
        "Interval": 5 * 10**9,
        "Timeout": 2 * 10**9,
        "Retries": 4,
    }
    with pytest.raises(PolicyError):
        healthcheck_from_flags("true", "", "", 0, True)
    with pytest.raises(PolicyError):
        check_healthcheck({"Test": ["CMD", "true"], "Interval": 5})


def test_probe_args():
    assert probe_args({"Test": ["CMD-SHELL", "echo hi"]}) == ["/bin/sh", "-c", "echo hi"]
    assert probe_args({"Test": ["CMD", "cat", "/f"]}) == ["cat", "/f"]
    assert probe_args({"Test": ["NONE"]}) is None
    assert probe_args(None) is None


def _container(policy: str, count: int = 0, restarts: int = 0, manual: bool = False) -> Container:
    c = Container("/nonexistent", "a" * 64)
    c.host_config = {"RestartPolicy": {"Name": policy, "MaximumRetryCount": count}}
    c.state.restart_count = restarts
    c.state.manually_stopped = manual
    return c


def test_restart_decisions():
    assert not should_restart(_container("no"), 1)
    assert should_restart(_container("always"), 0)
    assert should_restart(_container("unless-stopped"), 0)
    assert not should_restart(_container("always", manual=True), 1)
    assert should_restart(_container("on-failure"), 1)
    assert not should_restart(_container("on-failure"), 0)
    assert should_restart(_container("on-failure", 2, restarts=1), 1)
    assert not should_restart(_container("on-failure", 2, restarts=2), 1)


def test_daemon_start_decisions():
    assert start_at_daemon_start(_container("always", manual=True))
    assert start_at_daemon_start(_container("unless-stopped"))
    assert not start_at_daemon_start(_container("unless-stopped", manual=True))
    assert not start_at_daemon_start(_container("on-failure"))
    assert not start_at_daemon_start(_container("no"))


def test_rename_moves_link_names_and_refuses_a_taken_name():
    names = NameRegistry()
    names.reserve("/web", "w")
    names.reserve("/db", "d")
    names.reserve("/web/db", "d")
    names.rename("/web", "/front", "w")
    assert names.get("front") == "w" and names.get("web") is None
    assert names.get("/front/db") == "d" and names.get("/web/db") is None
    with pytest.raises(Conflict):
        names.rename("/front", "/db", "w")
    assert names.get("front") == "w" and names.get("db") == "d"


def test_stats_arithmetic():
    assert bytes_size(0) == "0 B"
    assert bytes_size(32 * 1024 * 1024) == "32 MiB"
    assert bytes_size(1536) == "1.5 KiB"
    doc = {
        "cpu_stats": {"cpu_usage": {"total_usage": 300, "percpu_usage": [1, 2]}, "system_cpu_usage": 2000},
        "precpu_stats": {"cpu_usage": {"total_usage": 100}, "system_cpu_usage": 1000},
        "memory_stats": {"usage": 8 * 1024 * 1024, "limit": 32 * 1024 * 1024},
        "networks": {"eth0": {"rx_bytes": 1000, "tx_bytes": 2000}},
        "blkio_stats": {
            "io_service_bytes_recursive": [{"op": "Read", "value": 4096}, {"op": "Write", "value": 0}]
        },
        "pids_stats": {"current": 3},
    }
    assert cpu_percent(doc) == pytest.approx(40.0)  # 200 / 1000 of the host, on 2 CPUs
    line = row("web", doc)
    assert line.split("\t") == [
        "web",
        "40.00%",
        "8 MiB / 32 MiB",
        "25.00%",
        "1 kB / 2 kB",
        "4.096 kB / 0 B",
        "3\n",
    ]
