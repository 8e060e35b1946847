"""The event log behind `docker events`: a bounded history plus live subscribers.

Publishing never blocks: each subscriber has its own unbounded queue, so a slow `/events` client
cannot stall the daemon or other clients.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

HISTORY = 1024
# Labels remembered per container or image id, so that the event of its removal still carries them.
KNOWN_LABELS = 4096

LabelSource = Callable[[str, str], "Mapping[str, str] | None"]


@dataclass(frozen=True)
class Event:
    action: str
    id: str
    type: str = "container"  # "container" or "image"
    from_: str = ""
    time_ns: int = field(default_factory=time.time_ns)
    attributes: tuple[tuple[str, str], ...] = ()

    @property
    def time(self) -> int:
        return self.time_ns // 1_000_000_000


class Subscription:
    def __init__(self, bus: EventBus) -> None:
        self._bus = bus
        self.queue: queue.SimpleQueue[Event | None] = queue.SimpleQueue()

    def get(self, timeout: float | None = None) -> Event | None:
        try:
            return self.queue.get(timeout=timeout)
        except queue.Empty:
            return None

    def close(self) -> None:
        self._bus._unsubscribe(self)
        self.queue.put(None)


class EventBus:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._history: deque[Event] = deque(maxlen=HISTORY)
        self._subscribers: list[Subscription] = []
        # (type, id) -> the labels of that container or image; the daemon sets it once it is wired.
        self.labels_of: LabelSource | None = None
        self._known: OrderedDict[str, dict[str, str]] = OrderedDict()

    def publish(
        self, action: str, id: str, *, type: str = "container", from_: str = "", **attributes: str
    ) -> Event:
        # Docker copies the labels into the attributes (its own keys, name and image, win), so that
        # `events --filter label=x` follows a container from create to destroy.
        attrs = {**self._labels(type, id), **attributes}
        event = Event(action, id, type, from_, attributes=tuple(sorted(attrs.items())))
        with self._lock:
            self._history.append(event)
            subscribers = list(self._subscribers)
        for sub in subscribers:
            sub.queue.put(event)
        return event

    def _labels(self, type: str, id: str) -> dict[str, str]:
        labels = None
        if self.labels_of is not None:
            try:
                labels = self.labels_of(type, id)
            except Exception:  # a lookup must never stop an event
                labels = None
        with self._lock:
            if labels is not None:
                self._known[id] = dict(labels)
                self._known.move_to_end(id)
                while len(self._known) > KNOWN_LABELS:
                    self._known.popitem(last=False)
            return dict(self._known.get(id, {}))

    def subscribe(self, since_ns: int | None = None) -> tuple[list[Event], Subscription]:
        """Past events at or after `since_ns` and a subscription to the ones that follow, with no gap."""
        sub = Subscription(self)
        with self._lock:
            past = [e for e in self._history if since_ns is not None and e.time_ns >= since_ns]
            self._subscribers.append(sub)
        return past, sub

    def history(self, since_ns: int) -> list[Event]:
        with self._lock:
            return [e for e in self._history if e.time_ns >= since_ns]

    def _unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            if sub in self._subscribers:
                self._subscribers.remove(sub)

    @property
    def listeners(self) -> int:
        with self._lock:
            return len(self._subscribers)

    def close_all(self) -> None:
        with self._lock:
            subs, self._subscribers = self._subscribers, []
        for sub in subs:
            sub.queue.put(None)


def label_source(containers: Any, graph: Any) -> LabelSource:
    """Labels of a live container (`containers.all()`) or a stored image (`graph.get`), or None."""

    def labels_of(type: str, id: str) -> Mapping[str, str] | None:
        if type == "container":
            for c in containers.all():
                if c.id == id:
                    return c.config.get("Labels") or {}
            return None
        if type == "image" and graph.exists(id):
            return (graph.get(id).config or {}).get("Labels") or {}
        return None

    return labels_of
