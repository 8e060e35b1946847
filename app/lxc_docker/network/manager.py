"""NetworkManager: the daemon's one entry point to container networking on a Linux bridge.

Lifecycle: `setup()` at daemon start, then `restore()` with the containers still running; per
container `allocate()` (address, published ports) → `configure()` once its process exists (veth,
eth0, routes) → `release()` when it stops; `shutdown()` when the daemon exits (the bridge stays).
"""

from __future__ import annotations

import ipaddress
import logging
import os
import threading
from dataclasses import dataclass, field

from ..errors import Conflict, DockerError, InvalidParameter, SystemError_
from . import bridge as br
from .hostrules import LOCK_DIR, HostClaim
from .ipallocator import IPAllocator
from .iptables import (
    Iptables,
    RuleBook,
    bridge_policy_rules,
    forward_jump_rules,
    link_rules,
    masquerade_rule,
    nat_jump_rules,
)
from .linkenv import split_port
from .netns import run_in_netns
from .portallocator import PortAllocator
from .portmapper import Mapping, PortMapper, plan_ports, port_key
from .proxy import UDP_IDLE_TIMEOUT, ProxyLoop
from .resolvconf import nameservers, resolv_conf

log = logging.getLogger(__name__)

CONTAINER_IFNAME = "eth0"
_IP_FORWARD = "/proc/sys/net/ipv4/ip_forward"
# --icc=false filters traffic between ports of one bridge, which iptables sees only through
# br_netfilter with this switch on (Docker 0.9's kernels had it built into the bridge module).
_BRIDGE_NF = "/proc/sys/net/bridge/bridge-nf-call-iptables"


@dataclass
class _Container:
    ip: str
    veth: str = ""
    mappings: list[Mapping] = field(default_factory=list)


def disabled_settings() -> dict:
    """NetworkSettings of a container without networking (-n=false, -b none)."""
    return {
        "IPAddress": "",
        "IPPrefixLen": 0,
        "Gateway": "",
        "Bridge": "",
        "MacAddress": "",
        "PortMapping": None,
        "Ports": None,
    }


class NetworkManager:
    """Bridge, addresses, published ports, links and iptables rules of one daemon.

    The keyword arguments are the daemon flags (-b, --bip, --icc, --iptables, --ip, --mtu, --dns);
    `chain` names the iptables chains, `state_path` a JSON file recording the chains this daemon
    created (so a restart after a crash still knows them), `default_bridge` the bridge created when no
    -b is given (tests use their own names), `lock_dir` where the host-wide bridge locks live.
    Other engines may share the host: see hostrules.py for how ours is told from theirs.
    """

    def __init__(
        self,
        *,
        bridge: str = "",
        bridge_ip: str = "",
        icc: bool = True,
        iptables: bool = True,
        default_ip: str = "0.0.0.0",
        mtu: int = 0,
        dns: list[str] | tuple[str, ...] = (),
        chain: str = "DOCKER",
        state_path: str | None = None,
        default_bridge: str = br.DEFAULT_BRIDGE,
        udp_idle_timeout: float = UDP_IDLE_TIMEOUT,
        lock_dir: str = LOCK_DIR,
    ) -> None:
        if bridge and bridge_ip:
            raise InvalidParameter(
                "You specified -b & --bip, mutually exclusive options. Please specify only one."
            )
        if not icc and not iptables:
            raise InvalidParameter(
                "You specified --iptables=false with --icc=false. ICC uses iptables to function. "
                "Please set --icc or --iptables to true."
            )
        try:
            if ipaddress.ip_address(default_ip).version != 4:
                raise ValueError
        except ValueError:
            raise InvalidParameter(f"Invalid --ip address {default_ip!r}: an IPv4 address is needed")
        self._bip: ipaddress.IPv4Interface | None = None
        if bridge_ip:
            try:
                self._bip = ipaddress.IPv4Interface(bridge_ip)
            except ValueError:
                raise InvalidParameter(
                    f"Invalid --bip address {bridge_ip!r}: expected CIDR like 172.17.42.1/16"
                )
        if len(chain) > 28 or not chain:
            raise InvalidParameter(f"Invalid iptables chain name {chain!r}")
        self.enabled = bridge != "none"
        self.bridge = (bridge or default_bridge) if self.enabled else ""
        # Only the default bridge is ours to create and tune; -b names one the administrator manages.
        self._own_bridge = not bridge
        self.icc, self.use_iptables = icc, iptables
        self.default_ip = default_ip
        self.dns = list(dns)
        self.chain = chain
        self.state_path = state_path
        self.mtu = mtu
        self.address: ipaddress.IPv4Interface | None = None
        self.ips: IPAllocator | None = None
        self.ports = PortAllocator()
        self.iptables = Iptables()
        self.rules = RuleBook(self.iptables) if iptables else None
        self._udp_idle_timeout = udp_idle_timeout
        self.proxy = ProxyLoop(udp_idle_timeout)
        self.mapper: PortMapper | None = None
        self._containers: dict[str, _Container] = {}
        self._links: dict[tuple[str, str, int, str], int] = {}
        self.host = HostClaim(
            self.iptables, self.bridge, chain, iptables=iptables, state_path=state_path, lock_dir=lock_dir
        )
        self._lock = threading.Lock()
        self._ready = False

    # -- daemon lifecycle ------------------------------------------------------------------------

    def setup(self) -> None:
        """Bridge, forwarding and base rules; idempotent, and never duplicates a rule."""
        if not self.enabled:
            return
        with self._lock:
            if self._ready:
                return
            # Claimed before anything is created or changed: a refusal leaves the host as it was.
            self.host.claim()
            try:
                self.address = self._setup_bridge()
                if not self.mtu:
                    self.mtu = br.default_route_mtu()
                if self._own_bridge:
                    br.set_up(self.bridge, self.mtu)
                self.ips = IPAllocator(self.address.network, self.address.ip)
                _write_sysctl(_IP_FORWARD, "1")
                if self.use_iptables:
                    self._setup_iptables()
            except BaseException:
                self.host.release()
                raise
            if self.proxy.closed:  # set up again after a shutdown
                self.proxy = ProxyLoop(self._udp_idle_timeout)
            self.mapper = PortMapper(self.ports, self.proxy, self.rules, self.chain, self.bridge)
            self._ready = True

    def _setup_bridge(self) -> ipaddress.IPv4Interface:
        current = br.interface_ipv4(self.bridge)
        if current is False:
            if not self._own_bridge:
                raise SystemError_(f"bridge {self.bridge} not found: create it first, or leave out -b")
            address = self._bip or br.choose_range(br.host_networks(), _host_nameservers())
            br.create_bridge(self.bridge, address, self.mtu or br.default_route_mtu())
            log.info("created bridge %s with address %s", self.bridge, address)
            return address
        if not br.is_bridge(self.bridge):
            raise SystemError_(f"network interface {self.bridge} is not a bridge")
        if current is None:
            raise SystemError_(f"bridge {self.bridge} has no IPv4 address: give it one, or use --bip")
        if self._bip is not None and self._bip.ip != current.ip:
            raise SystemError_(
                f"bridge ip ({current.ip}) does not match existing bridge configuration {self._bip.ip}"
            )
        return current

    def _setup_iptables(self) -> None:
        # Chains and rules in one iptables-restore run (one process, not one per rule).
        batch: dict[str, list[str]] = {}
        if self.rules is not None:
            self.rules.forget()
        for rule in bridge_policy_rules(self.chain, self.bridge, self.icc):
            batch.setdefault(rule.table, []).append(rule.restore_line("-A"))
        # Inserted at the top so that the host's own rules (a final REJECT, say) come after them.
        jumps = nat_jump_rules(self.chain, self.bridge) + forward_jump_rules(self.chain, self.bridge)
        for rule in [*jumps, masquerade_rule(str(self.address.network), self.bridge)]:
            batch.setdefault(rule.table, []).append(rule.restore_line("-I"))
        self.host.restore_with_chains(batch)
        if not self.icc and not _write_sysctl(_BRIDGE_NF, "1"):
            log.warning("--icc=false: cannot enable %s; containers may still reach each other", _BRIDGE_NF)

    def info(self) -> dict:
        with self._lock:
            count = len(self._containers)
        return {
            "Enabled": self.enabled,
            "Bridge": self.bridge,
            "Address": str(self.address) if self.address else "",
            "Gateway": str(self.address.ip) if self.address else "",
            "Network": str(self.address.network) if self.address else "",
            "MTU": self.mtu,
            "IPTables": self.use_iptables,
            "ICC": self.icc,
            "DefaultIP": self.default_ip,
            "Chain": self.chain if self.use_iptables else "",
            "DNS": list(self.dns),
            "Containers": count,
        }

    def shutdown(self) -> None:
        """Stop every proxy and remove the rules and chains this daemon added; the bridge and its
        addresses stay."""
        with self._lock:
            was_ready, self._ready = self._ready, False
            self._containers.clear()
            self._links.clear()
        self.proxy.close()
        # A later setup() starts from empty books; restore() fills them again.
        self.ports = PortAllocator()
        if not was_ready:
            return
        self.host.release()
        if self.rules is not None:
            self.rules.forget()

    # -- containers ------------------------------------------------------------------------------

    def _require_ready(self) -> None:
        if not self._ready:
            raise SystemError_("the network is not set up (NetworkManager.setup was not called)")

    def allocate(
        self, container_id: str, *, exposed: dict, port_bindings: dict, publish_all: bool, mac: str = ""
    ) -> dict:
        """Reserve an address and publish ports; returns NetworkSettings (eth0 gets `mac`, else one
        derived from the address). All or nothing."""
        if not self.enabled:
            return disabled_settings()
        self._require_ready()
        ports, requests = plan_ports(exposed, port_bindings, publish_all, self.default_ip)
        with self._lock:
            stale = self._containers.pop(container_id, None)
        if stale is not None:
            self._release_record(container_id, stale)
        ip = str(self.ips.allocate(container_id))
        record = _Container(ip=ip, veth=br.host_veth_name())
        try:
            for req in requests:
                mapping = self.mapper.map(
                    container_id, req.proto, req.host_ip, req.host_port, ip, req.container_port
                )
                record.mappings.append(mapping)
                ports[req.key].append({"HostIp": req.host_ip, "HostPort": str(mapping.host_port)})
        except BaseException:
            self._release_record(container_id, record)
            raise
        with self._lock:
            self._containers[container_id] = record
        return {
            "IPAddress": ip,
            "IPPrefixLen": self.address.network.prefixlen,
            "Gateway": str(self.address.ip),
            "Bridge": self.bridge,
            "MacAddress": mac or br.mac_for_ip(ip),
            "PortMapping": None,
            "Ports": ports,
            "_veth_host": record.veth,
            "_veth_peer": CONTAINER_IFNAME,
            "_mtu": self.mtu,
        }

    def configure(self, settings: dict, pid: int) -> None:
        """Give process `pid`'s network namespace its eth0 (address, MTU, default route) and bring up lo."""
        host = settings.get("_veth_host") or ""
        if not host or not settings.get("IPAddress"):
            run_in_netns(pid, lambda: br.configure_container_side("", "", 0, ""))
            return
        peer = settings.get("_veth_peer") or CONTAINER_IFNAME
        fd = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        try:
            br.create_veth(
                host,
                settings.get("Bridge") or self.bridge,
                int(settings.get("_mtu") or self.mtu or br.DEFAULT_MTU),
                peer,
                settings.get("MacAddress") or br.mac_for_ip(settings["IPAddress"]),
                fd,
            )
        finally:
            os.close(fd)
        try:
            run_in_netns(
                pid,
                lambda: br.configure_container_side(
                    peer, settings["IPAddress"], int(settings["IPPrefixLen"]), settings["Gateway"]
                ),
            )
        except BaseException:
            br.delete_link(host)
            raise

    def release(self, container_id: str, settings: dict) -> None:
        """Undo allocate and configure: proxies, rules, ports, address, veth. Idempotent."""
        with self._lock:
            record = self._containers.pop(container_id, None)
        if record is not None:
            self._release_record(container_id, record)
            return
        # Not known to this manager (released already, or a daemon restart without restore): free
        # only what the books say this container holds, then make sure its veth is gone.
        if settings.get("IPAddress") and self.ips is not None:
            self.ips.release(settings["IPAddress"], container_id)
        for key, bindings in (settings.get("Ports") or {}).items():
            proto = port_key(key)[2]
            for b in bindings or []:
                if str(b.get("HostPort", "")).isdigit():
                    self.ports.release(
                        proto, b.get("HostIp") or self.default_ip, int(b["HostPort"]), container_id
                    )
        veth = settings.get("_veth_host")
        if veth and br.link_exists(veth):
            br.delete_link(veth)

    def _release_record(self, container_id: str, record: _Container) -> None:
        errors: list[BaseException] = []
        for mapping in reversed(record.mappings):
            try:
                self.mapper.unmap(container_id, mapping)
            except Exception as e:  # keep going: the rest must still be released
                errors.append(e)
        record.mappings.clear()
        self._drop_links_of(record.ip)
        if self.ips is not None:
            self.ips.release(record.ip, container_id)
        if record.veth and br.link_exists(record.veth):
            try:
                br.delete_link(record.veth)
            except Exception as e:
                errors.append(e)
        if errors:
            log.warning("releasing the network of %s: %s", container_id, "; ".join(map(str, errors)))

    # -- links -----------------------------------------------------------------------------------

    def link(self, parent_settings: dict, child_settings: dict, ports: list[str], enable: bool) -> None:
        """With --icc=false, let the parent reach the child's exposed `ports` ("6379/tcp"), or stop that."""
        if not self.enabled or self.icc or self.rules is None:
            return
        parent, child = parent_settings.get("IPAddress"), child_settings.get("IPAddress")
        if not parent or not child:
            return
        for key in ports:
            port, proto = split_port(key)
            link_key = (parent, child, port, proto)
            rules = link_rules(self.chain, self.bridge, parent, child, port, proto)
            with self._lock:
                count = self._links.get(link_key, 0)
                if enable:
                    self._links[link_key] = count + 1
                elif count <= 1:
                    self._links.pop(link_key, None)
                else:
                    self._links[link_key] = count - 1
            if enable:
                try:
                    self.rules.add(rules)
                except BaseException:
                    with self._lock:
                        self._links[link_key] -= 1
                        if not self._links[link_key]:
                            del self._links[link_key]
                    raise
            elif count:
                self.rules.remove(rules)

    def _drop_links_of(self, ip: str) -> None:
        if self.rules is None:
            return
        with self._lock:
            gone = {k: n for k, n in self._links.items() if ip in (k[0], k[1])}
            for k in gone:
                del self._links[k]
        for (parent, child, port, proto), count in gone.items():
            rules = link_rules(self.chain, self.bridge, parent, child, port, proto)
            for _ in range(count):
                self.rules.remove(rules)

    # -- restart ---------------------------------------------------------------------------------

    def restore(self, running: dict[str, dict]) -> None:
        """After a daemon restart: hold the addresses and ports of running containers again, and
        bring back their proxies and rules. Calling it twice adds nothing."""
        if not self.enabled:
            return
        self._require_ready()
        for container_id, settings in running.items():
            ip = settings.get("IPAddress")
            if not ip:
                continue
            with self._lock:
                if container_id in self._containers:
                    continue
            try:
                self.ips.reserve(ip, container_id)
            except (Conflict, ValueError) as e:
                log.warning("cannot restore the network of %s: %s", container_id, e)
                continue
            record = _Container(ip=ip, veth=settings.get("_veth_host") or "")
            for key, bindings in (settings.get("Ports") or {}).items():
                _, number, proto = port_key(key)
                for b in bindings or []:
                    try:
                        host_port = int(b["HostPort"])
                        host_ip = b.get("HostIp") or self.default_ip
                        record.mappings.append(
                            self.mapper.map(container_id, proto, host_ip, host_port, ip, number)
                        )
                    except (DockerError, KeyError, ValueError) as e:
                        log.warning("cannot restore port %s of %s: %s", key, container_id, e)
            with self._lock:
                self._containers[container_id] = record

    # -- name resolution -------------------------------------------------------------------------

    def container_resolv_conf(
        self, container_dns: list[str] | tuple[str, ...] = (), host_text: str | None = None
    ) -> str:
        """/etc/resolv.conf for a container: its --dns, else the daemon's --dns, else the host's file."""
        if host_text is None:
            host_text = _read_text("/etc/resolv.conf")
        return resolv_conf(host_text, list(container_dns) or self.dns)


def _read_text(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def _host_nameservers() -> list[str]:
    return nameservers(_read_text("/etc/resolv.conf"))


def _write_sysctl(path: str, value: str) -> bool:
    try:
        with open(path) as f:
            if f.read().strip() == value:
                return True
        with open(path, "w") as f:
            f.write(value + "\n")
        return True
    except OSError as e:
        log.warning("cannot set %s to %s: %s", path, value, e)
        return False
