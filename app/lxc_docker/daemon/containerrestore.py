"""Restore: what the daemon does at start-up with the containers an earlier daemon left. A container
that ran then is taken back whole when the exec driver kept it (live restore, `_resume`), watched as
a ghost when it still runs but was not kept (`_adopt`), else recorded as stopped. A mixin of
`ContainerService` (containers.py), which supplies the store, the drivers and the exit tail.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import threading
from typing import TYPE_CHECKING

from ..errors import Conflict
from ..execution.base import Command
from ..sysutil import atomic
from .container import Container
from .runcommand import run_command
from .streams import Streams

if TYPE_CHECKING:
    from .containers import ContainerService

log = logging.getLogger(__name__)


class ContainerRestore:
    def restore(self: ContainerService) -> list[Container]:
        """Load every container; return those to start again (they ran when the daemon stopped).

        Containers taken back (`_resume`, `_adopt`) may turn out dead at once; their release waits
        for `restored` (set by the daemon once networking holds their ports again), or it would
        race the restore of their port rules and leave those behind."""
        self.restored.clear()
        base = os.path.join(self.root, "containers")
        to_start = []
        for name in sorted(os.listdir(base)):
            path = os.path.join(base, name)
            if atomic.is_temp_name(name):
                shutil.rmtree(path, ignore_errors=True)
                continue
            try:
                c = Container.load(self.root, name)
            except (OSError, ValueError) as e:
                log.warning("skipping unreadable container %s: %s", name, e)
                continue
            if not self.driver.exists(c.id):
                log.warning("container %s lost its layer; it cannot run again", c.id)
            c.streams = Streams(c.log_path, c.tty, self.loggers.opener(c))
            try:
                self.names.reserve(c.name, c.id)
            except Conflict:
                c.name = self.names.generate(c.id)
            with self._lock:
                self._containers[c.id] = c
            if c.state.running:
                if c.state.pid and self._resume(c):
                    pass  # kept whole by the exec driver while the daemon was down: live restore
                elif c.state.pid and self.exec.is_alive(c.id, c.state.pid):
                    self._adopt(c)
                else:
                    self.exec.cleanup(c.id)
                    code = c.state.exit_code
                    c.state.set_stopped(code)
                    c.save()
                    if self.restart_policy:
                        to_start.append(c)
        self.exec.resumed()
        return to_start

    def _resume(self: ContainerService, c: Container) -> bool:
        """Take back a container the exec driver kept (its stdio too); False if it was not kept."""
        command = self._taken_back(c)
        kept = self.exec.resume(command, c.state.pid)
        if kept is None:
            return False
        c.command = dataclasses.replace(command, rootfs=self.driver.get(c.id))
        try:
            c.streams.resume(kept, bool(c.config.get("OpenStdin")))
        except (OSError, ValueError) as e:  # it runs on, without its output
            log.warning("taking back the output of %s: %s", c.id[:12], e)

        def watch() -> None:  # as _monitor does after the exec driver's run()
            self._exited(c, self.exec.wait(c.id), after_restore=True)

        threading.Thread(target=watch, name=f"monitor-{c.id[:12]}", daemon=True).start()
        return True

    def _adopt(self: ContainerService, c: Container) -> None:
        # Its stdio went with the old daemon: Docker 0.9 calls such a container a ghost.
        c.state.ghost = True
        c.command = dataclasses.replace(self._taken_back(c), rootfs=self.driver.get(c.id))

        def watch() -> None:
            code = self.exec.adopt(c.command, c.state.pid)
            self.restored.wait()
            self._release(c)
            c.state.set_stopped(-1 if code is None else code)
            c.save()
            self.events.publish("die", c.id, from_=c.config.get("Image", ""))

        threading.Thread(target=watch, name=f"adopt-{c.id[:12]}", daemon=True).start()

    def _taken_back(self: ContainerService, c: Container) -> Command:
        """The Command of a container an earlier daemon started, rebuilt from its config: kill and the
        driver's wait need its id and cgroups, an exec its user, added groups and security options
        (the rootfs is filled in once the layer is held again)."""
        return run_command(c, "", self.cgroup_parent)
