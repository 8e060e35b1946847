"""Link environment variables, /etc/hosts and /etc/resolv.conf content."""

from __future__ import annotations

from lxc_docker.network import DEFAULT_DNS, hosts_file, link_env, resolv_conf
from lxc_docker.network.resolvconf import nameservers


def test_link_env_matches_the_documented_example():
    env = link_env(
        "db", "/webapp/db", "172.17.0.8", ["6379/tcp"], ["PATH=/usr/bin", "HOME=/", "REDIS_VERSION=2.8"]
    )
    assert env == [
        "DB_PORT=tcp://172.17.0.8:6379",
        "DB_PORT_6379_TCP=tcp://172.17.0.8:6379",
        "DB_PORT_6379_TCP_ADDR=172.17.0.8",
        "DB_PORT_6379_TCP_PORT=6379",
        "DB_PORT_6379_TCP_PROTO=tcp",
        "DB_NAME=/webapp/db",
        "DB_ENV_REDIS_VERSION=2.8",
    ]


def test_link_env_alias_upper_cased_and_punctuation_kept():
    env = link_env("linked-server", "/client/linked-server", "172.17.0.8", ["80"], [])
    assert "LINKED-SERVER_PORT=tcp://172.17.0.8:80" in env
    assert "LINKED-SERVER_PORT_80_TCP_PROTO=tcp" in env
    env = link_env("redis_alias", "/distracted_wright/redis", "172.17.0.32", ["6379/tcp"], [])
    assert "REDIS_ALIAS_NAME=/distracted_wright/redis" in env


def test_link_env_default_port_is_lowest_and_tcp_first():
    env = link_env("x", "/p/x", "10.0.0.2", ["8080/tcp", "53/udp", "53/tcp", "443/tcp"], [])
    assert env[0] == "X_PORT=tcp://10.0.0.2:53"
    order = [e.split("=")[0] for e in env if e.endswith("_PROTO=tcp") or e.endswith("_PROTO=udp")]
    assert order == [
        "X_PORT_53_TCP_PROTO",
        "X_PORT_53_UDP_PROTO",
        "X_PORT_443_TCP_PROTO",
        "X_PORT_8080_TCP_PROTO",
    ]
    assert "X_PORT_53_UDP=udp://10.0.0.2:53" in env


def test_link_env_without_ports_and_odd_child_env():
    env = link_env("db", "/web/db", "10.0.0.2", [], ["NOVALUE", "=x", "A=b=c", "EMPTY="])
    assert env == ["DB_NAME=/web/db", "DB_ENV_A=b=c", "DB_ENV_EMPTY="]


def test_hosts_file_layout():
    text = hosts_file("4c01db0b339c", "172.17.0.9", [("db", "172.17.0.8"), ("cache", "172.17.0.7")])
    lines = text.splitlines()
    assert lines[0] == "172.17.0.9\t4c01db0b339c"
    assert "127.0.0.1\tlocalhost" in lines
    assert "::1\tlocalhost ip6-localhost ip6-loopback" in lines
    assert lines[-2:] == ["172.17.0.8\tdb", "172.17.0.7\tcache"]
    assert text.endswith("\n")


def test_hosts_file_fqdn_and_no_network():
    assert hosts_file("web.sven.dev.org", "10.0.0.2", []).startswith("10.0.0.2\tweb.sven.dev.org web\n")
    text = hosts_file("box", "", [])
    assert text.splitlines()[0] == "127.0.0.1\tlocalhost box"


def test_resolv_conf_keeps_a_remote_host_resolver():
    host = "# generated\nsearch example.org\nnameserver 10.255.255.53\noptions edns0\n"
    assert resolv_conf(host, []) == host


def test_resolv_conf_only_local_resolvers_fall_back_to_public_defaults():
    host = "nameserver 127.0.0.53\noptions edns0 trust-ad\nsearch lan\n"
    out = resolv_conf(host, [])
    assert nameservers(out) == list(DEFAULT_DNS) == ["8.8.8.8", "8.8.4.4"]
    assert "127.0.0.53" not in out and "search lan" in out and "options edns0 trust-ad" in out
    assert nameservers(resolv_conf("nameserver 127.0.1.1\nnameserver ::1\n", [])) == list(DEFAULT_DNS)
    assert nameservers(resolv_conf("", [])) == list(DEFAULT_DNS)


def test_resolv_conf_drops_local_keeps_remote():
    out = resolv_conf("nameserver 127.0.0.1\nnameserver 192.168.1.1\n", [])
    assert nameservers(out) == ["192.168.1.1"]


def test_resolv_conf_dns_flag_replaces_servers():
    host = "search corp\nnameserver 10.0.0.1\nnameserver 10.0.0.2\n"
    out = resolv_conf(host, ["1.1.1.1", "9.9.9.9"])
    assert nameservers(out) == ["1.1.1.1", "9.9.9.9"]
    assert "search corp" in out
