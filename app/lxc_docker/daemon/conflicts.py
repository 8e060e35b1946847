"""The conflicts (HTTP 409) of a container in the wrong state for a verb: `stop`, `kill`, `pause`...
of one that is not running, `start` of one that is. Their own module so that every part of the
container service (containers.py and its mixins) and the verbs can raise and catch them."""

from __future__ import annotations

from ..errors import Conflict


class NotRunning(Conflict):
    pass


class AlreadyRunning(Conflict):
    pass
