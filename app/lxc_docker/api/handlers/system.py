"""`/_ping`, `/version`, `/info`, `/events`, and `/swarm` answered as by an engine outside any swarm."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Protocol

from ...daemon import filtering
from ...errors import InvalidParameter, Unavailable
from .. import filters, serializers
from ..http import Request
from ..router import Route

if TYPE_CHECKING:
    from ...daemon.events import Event, EventBus
    from ..response import Response


class SystemBackend(Protocol):
    """What these endpoints need of the daemon."""

    events: EventBus
    stopping: bool

    def version(self) -> dict[str, Any]: ...

    def info(self) -> dict[str, Any]: ...


def ping(backend: SystemBackend, req: Request, res: Response) -> None:
    res.text("OK")


def version(backend: SystemBackend, req: Request, res: Response) -> None:
    res.json(backend.version())


def info(backend: SystemBackend, req: Request, res: Response) -> None:
    res.json(backend.info())


def not_in_a_swarm(backend: SystemBackend, req: Request, res: Response) -> None:
    # Swarm mode is out of scope: answer as Docker does on a node that is not part of a swarm (503),
    # which clients such as the docker SDK's `leave_swarm(force=True)` take as "nothing to leave".
    raise Unavailable("This node is not part of a swarm")


def events(backend: SystemBackend, req: Request, res: Response) -> None:
    since = _time_param(req, "since")
    until = _time_param(req, "until")
    match = filtering.event_matcher(filters.from_request(req))
    past, sub = backend.events.subscribe(since)
    try:
        writer = res.stream()
        for event in past:
            if (until is None or event.time_ns <= until) and match(event):
                writer.write_json(_event_json(event, req))
        while True:
            timeout = None
            if until is not None:
                timeout = (until - time.time_ns()) / 1e9
                if timeout <= 0:
                    break
            event = sub.get(timeout=timeout)
            if event is None:
                if until is not None and time.time_ns() >= until:
                    break
                if backend.stopping:
                    break
                continue
            if match(event):
                writer.write_json(_event_json(event, req))
    finally:
        sub.close()


ROUTES = [
    Route("GET", "/_ping", ping),
    Route("GET", "/version", version),
    Route("GET", "/info", info),
    Route("GET", "/events", events),
    Route("GET", "/swarm", not_in_a_swarm),
    Route("POST", "/swarm/leave", not_in_a_swarm),
]


def _time_param(req: Request, name: str) -> int | None:
    raw = req.q(name)
    if not raw:
        return None
    try:
        return int(float(raw) * 1_000_000_000)
    except ValueError:
        from ...timeutil import parse_rfc3339

        try:
            return int(parse_rfc3339(raw) * 1_000_000_000)
        except ValueError:
            raise InvalidParameter(f"invalid value for {name}: {raw!r}")


def _event_json(e: Event, req: Request) -> dict[str, Any]:
    doc: dict[str, Any] = {"status": e.action, "id": e.id}
    if e.from_:
        doc["from"] = e.from_
    doc["time"] = e.time
    if req.at_least(1, 22):
        attrs = dict(e.attributes)
        if e.from_:
            attrs.setdefault("image", e.from_)
        actor = e.id
        if e.type == "image":
            # Docker 1.10+ names the image of an image event by its digest id.
            actor = doc["id"] = serializers.image_id(e.id, req.version)
        doc.update(
            {
                "Type": e.type,
                "Action": e.action,
                "Actor": {"ID": actor, "Attributes": attrs},
                "scope": "local",
                "timeNano": e.time_ns,
            }
        )
    return doc
