"""Name resolution files for containers: /etc/hosts (hostname, localhost, links) and /etc/resolv.conf."""

from __future__ import annotations

import ipaddress

# Docker's fallback when the host only knows resolvers that a container cannot reach.
DEFAULT_DNS = ("8.8.8.8", "8.8.4.4")

_HOSTS_DEFAULTS = (
    ("127.0.0.1", "localhost"),
    ("::1", "localhost ip6-localhost ip6-loopback"),
    ("fe00::0", "ip6-localnet"),
    ("ff00::0", "ip6-mcastprefix"),
    ("ff02::1", "ip6-allnodes"),
    ("ff02::2", "ip6-allrouters"),
)


def hosts_file(hostname: str, ip: str, links: list[tuple[str, str]]) -> str:
    """Content of a container's /etc/hosts.

    `hostname` may be fully qualified ("web.example.org"), then the short name is listed too;
    `ip` is the container's address ("" without networking, then the name goes on 127.0.0.1 so it
    still resolves); `links` are (alias, child IP) pairs.
    """
    short = hostname.split(".", 1)[0]
    names = f"{hostname} {short}" if short and short != hostname else hostname
    lines = []
    if ip:
        lines.append(f"{ip}\t{names}")
    for address, entry in _HOSTS_DEFAULTS:
        if not ip and address == "127.0.0.1" and hostname:
            entry = f"{entry} {names}"
        lines.append(f"{address}\t{entry}")
    for alias, child_ip in links:
        if child_ip:
            lines.append(f"{child_ip}\t{alias}")
    return "\n".join(lines) + "\n"


def _is_local(server: str) -> bool:
    try:
        return ipaddress.ip_address(server.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def nameservers(resolv_text: str) -> list[str]:
    """The nameserver addresses listed in a resolv.conf text, in order."""
    servers = []
    for line in resolv_text.splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[0] == "nameserver":
            servers.append(fields[1])
    return servers


def resolv_conf(host_resolv_text: str, dns: list[str]) -> str:
    """Content of a container's /etc/resolv.conf.

    With `dns` (the container's --dns, else the daemon's) its servers replace the host's. Without,
    the host's file is kept minus loopback resolvers (127.0.0.53 of systemd-resolved, dnsmasq on
    127.0.1.1, ::1), which are unreachable from the container's own network namespace; if none is
    left, Docker's public defaults are used. search, domain and options lines are kept either way.
    """
    kept: list[str] = []
    remote: list[str] = []
    for line in host_resolv_text.splitlines():
        fields = line.split()
        if fields and fields[0] == "nameserver":
            if len(fields) >= 2 and not dns and not _is_local(fields[1]):
                remote.append(fields[1])
                kept.append(line)
            continue
        kept.append(line)
    if dns:
        servers = list(dns)
    elif remote:
        return "\n".join(kept) + "\n"
    else:
        servers = list(DEFAULT_DNS)
    # Comments and blank lines stay where they were; the new servers go after them.
    return "\n".join([*kept, *(f"nameserver {s}" for s in servers)]) + "\n"
