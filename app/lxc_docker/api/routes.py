"""All endpoints, in one table per handler module."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .handlers import system
from .router import Router

if TYPE_CHECKING:
    from ..daemon.daemon import Daemon


def build_router(daemon: Daemon) -> Router:
    router = Router()
    router.add_routes(system.ROUTES, daemon)
    # The other handler modules (and what they import: the websocket code, the builder's parser, ...)
    # load at the first request /_ping and the other system routes do not answer (issue 14: boot time).
    router.defer(lambda r: _add_the_rest(r, daemon))
    return router


def _add_the_rest(router: Router, daemon: Daemon) -> None:
    from .handlers import attach, build, containers, distribution, exec, images, networks, verbs, volumes

    router.add_routes(distribution.ROUTES, daemon)
    router.add_routes(images.ROUTES, daemon)
    router.add_routes(containers.ROUTES, daemon)
    router.add_routes(attach.ROUTES, daemon)
    router.add_routes(exec.ROUTES, daemon)
    router.add_routes(volumes.ROUTES, daemon)
    router.add_routes(verbs.ROUTES, daemon)
    router.add_routes(networks.ROUTES, daemon)
    router.add_routes(build.ROUTES, build.backend_for(daemon))
