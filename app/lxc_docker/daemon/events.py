"""The event log behind `docker events`: a bounded history plus live subscribers.

Publishing never blocks: each subscriber has its own unbounded queue, so a slow `/events` client
cannot stall the daemon or other clients.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from dataclasses import dataclass, field

HISTORY = 1024


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

    def publish(
        self, action: str, id: str, *, type: str = "container", from_: str = "", **attributes: str
    ) -> Event:
        event = Event(action, id, type, from_, attributes=tuple(sorted(attributes.items())))
        with self._lock:
            self._history.append(event)
            subscribers = list(self._subscribers)
        for sub in subscribers:
            sub.queue.put(event)
        return event

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
