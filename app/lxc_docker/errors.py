"""Typed errors shared by the daemon and the API layer; each class carries its HTTP status."""

from __future__ import annotations


class DockerError(Exception):
    """Base of every error a user can cause; the API answers with `status`."""

    status = 500

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class InvalidParameter(DockerError):
    status = 400


class NotFound(DockerError):
    status = 404


class Conflict(DockerError):
    status = 409


class NotModified(DockerError):
    status = 304


class Forbidden(DockerError):
    status = 403


class Unavailable(DockerError):
    status = 503


class ArchiveError(InvalidParameter):
    """A corrupt, truncated or malicious archive (layer, import, load, build context)."""


class DriverNotSupported(DockerError):
    """A storage or execution driver cannot work on this host."""


class SystemError_(DockerError):
    """An operating system call failed in a way the user cannot fix by changing the request."""

    status = 500
