"""The native driver's keeper starts with the first container, not with the daemon (its start-up
competed with the daemon's own), and a daemon that finds one from an earlier run joins it."""

from __future__ import annotations

import os
import signal

from lib.poll import poll


def keepers(d) -> list[int]:
    """Pids of the keeper processes serving daemon `d`'s root."""
    return d.keeper_pids()


def test_keeper_starts_with_the_first_container(daemon_factory, busybox_tar):
    d = daemon_factory().start()
    try:
        assert keepers(d) == [], "no keeper before a container needs one"
        d.out("import", "-", "busybox", input=open(busybox_tar, "rb").read())
        assert d.out("info")  # the daemon serves without one
        assert keepers(d) == []
        cid = d.out("run", "-d", "busybox", "sleep", "300").strip()
        [keeper] = keepers(d)
        # A daemon killed and started again joins that keeper rather than starting one.
        d.kill()
        d.start()
        assert keepers(d) == [keeper]
        assert d.out("inspect", "-f", "{{.State.Running}}", cid).strip() == "true"
        d.out("kill", cid)
        assert d.stop() == 0
        poll(lambda: keepers(d) == [], 20, "the keeper to exit with nothing left to keep")
    finally:
        d.kill()
        for pid in keepers(d):
            os.kill(pid, signal.SIGKILL)
