"""The event bus: history, since, live delivery, subscribers never block publishers."""

import threading

from lxc_docker.daemon.events import EventBus


def test_since_returns_history_and_then_live_events():
    bus = EventBus()
    first = bus.publish("create", "c1", from_="busybox")
    bus.publish("start", "c1", from_="busybox")
    past, sub = bus.subscribe(since_ns=first.time_ns)
    assert [e.action for e in past] == ["create", "start"]
    bus.publish("die", "c1")
    assert sub.get(timeout=5).action == "die"
    sub.close()
    assert bus.listeners == 0


def test_no_since_means_only_new_events():
    bus = EventBus()
    bus.publish("old", "x")
    past, sub = bus.subscribe(None)
    assert past == []
    sub.close()


def test_slow_subscriber_does_not_block_publisher():
    bus = EventBus()
    _, slow = bus.subscribe(None)
    done = threading.Event()

    def publish_many():
        for i in range(10000):
            bus.publish("tag", str(i), type="image")
        done.set()

    t = threading.Thread(target=publish_many)
    t.start()
    assert done.wait(10)
    t.join()
    assert slow.get(timeout=1).id == "0"
    slow.close()


def test_close_all_wakes_subscribers():
    bus = EventBus()
    _, sub = bus.subscribe(None)
    bus.close_all()
    assert sub.get(timeout=5) is None
