"""lxc-docker: the Docker 0.9 engine, daemon and client in one program."""

__version__ = "0.9.1"
API_VERSION = "1.9"
# What /_ping and /version advertise so that today's clients (docker CLI 28, docker SDK 7) talk to us.
ADVERTISED_API_VERSION = "1.24"
