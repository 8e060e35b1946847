"""Container networking on a Linux bridge: addresses, veth pairs, published ports, links, name files.

The daemon uses `NetworkManager` and the pure helpers below; netlink and iptables stay in this package.
"""

from .linkenv import link_env
from .manager import NetworkManager, disabled_settings
from .portallocator import PortAlreadyAllocated
from .resolvconf import DEFAULT_DNS, hosts_file, resolv_conf

__all__ = [
    "DEFAULT_DNS",
    "NetworkManager",
    "PortAlreadyAllocated",
    "disabled_settings",
    "hosts_file",
    "link_env",
    "resolv_conf",
]
