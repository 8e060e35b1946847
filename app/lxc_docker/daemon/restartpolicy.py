"""Restart policies (`--restart no|always|on-failure[:N]|unless-stopped`), as Docker 1.12 applies them.

When a container exits (its `die` event, whichever path saw the exit: a run, a live-restored one
after a daemon crash, an adopted ghost), the policy decides whether it starts again, after Docker's
back-off: 100 ms, doubling after each exit, back to 100 ms when the run lasted 10 s or more. A
`docker stop` or `kill` marks the container manually stopped, which ends its restarts. When the
daemon starts, `always` containers start again, and `unless-stopped` ones unless a user stopped
them; the daemon's own `-r` keeps Docker 0.9's meaning for containers without a policy.
"""

from __future__ import annotations

import logging
import threading

from .. import timeutil
from ..errors import DockerError
from .container import Container
from .containers import ContainerService
from .restartrules import should_restart

log = logging.getLogger(__name__)

FIRST_DELAY = 0.1
MAX_DELAY = 60.0
RESET_AFTER = 10.0


class RestartManager:
    def __init__(self, containers: ContainerService) -> None:
        self.containers = containers
        self._delays: dict[str, float] = {}
        # Exits seen before the daemon finished starting wait for it (the network is not up yet).
        self._ready = threading.Event()
        _, self._sub = containers.events.subscribe()
        threading.Thread(target=self._loop, name="restart-policies", daemon=True).start()

    def ready(self) -> None:
        self._ready.set()

    def close(self) -> None:
        self._sub.close()

    def _loop(self) -> None:
        self._ready.wait()
        while True:
            event = self._sub.get()
            if event is None:  # the bus closed at shutdown
                return
            if event.type != "container" or event.action != "die":
                continue
            try:
                c = self.containers.get(event.id)
            except DockerError:
                continue  # removed since
            code = int(dict(event.attributes).get("exitCode") or c.state.exit_code or 0)
            self._exited(c, code)

    def _exited(self, c: Container, code: int) -> None:
        # A start that failed (State.Error) is not an exit: Docker's restart manager never sees it.
        if self.containers.stopping or c.state.running or c.state.error or not should_restart(c, code):
            self._delays.pop(c.id, None)
            with c.lock:
                if c.state.restarting and not c.state.running:  # marked at the exit, now not restarted
                    c.state.restarting = False
                    c.save()
            return
        ran = 0.0
        if not c.state.started_at.startswith("0001-") and not c.state.finished_at.startswith("0001-"):
            ran = timeutil.parse_rfc3339(c.state.finished_at) - timeutil.parse_rfc3339(c.state.started_at)
        previous = self._delays.get(c.id)
        delay = FIRST_DELAY if previous is None or ran >= RESET_AFTER else min(previous * 2, MAX_DELAY)
        self._delays[c.id] = delay
        with c.lock:
            c.state.restarting = True
            c.save()
        threading.Timer(delay, self._restart, args=(c,)).start()

    def _restart(self, c: Container) -> None:
        with c.lock:
            # A `docker stop` during the back-off, a removal or the daemon's shutdown cancel it.
            if not c.state.restarting or self.containers.stopping or c.state.manually_stopped:
                c.state.restarting = False
                return
            if c.id not in {x.id for x in self.containers.all()}:
                return
            c.state.restart_count += 1
            try:
                self.containers.start(c)
            except DockerError as e:
                log.warning("restart policy could not start %s: %s", c.id[:12], e)
                c.state.restarting = False
                c.save()
