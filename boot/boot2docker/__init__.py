"""boot2docker: runs lxc-docker's daemon in a small Linux VM (QEMU or VirtualBox) for macOS and Windows
hosts, with the ports forwarded to 127.0.0.1 and the user's home shared at the same path."""

from lxc_docker import __version__  # one version for the whole distribution

__all__ = ["__version__"]
