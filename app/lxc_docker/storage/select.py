"""Choose the storage driver for a graph root: the one named by `-s`, or the first of a priority
list that works on this host. The only module that imports the concrete drivers.
"""

from __future__ import annotations

import os

from lxc_docker.errors import DriverNotSupported
from lxc_docker.storage import overlay, vfs  # noqa: F401  (importing registers them)
from lxc_docker.storage.base import StorageDriver, driver_class

PRIORITY = ("overlay", "vfs")


def new_driver(name: str | None, graph_root: str) -> StorageDriver:
    """The driver `name` for `graph_root` (home `<graph_root>/<name>`), or with None the best one.

    A named driver that the host can't run raises DriverNotSupported, an unknown name
    InvalidParameter. Without a name, a driver that already holds layers under the graph root
    comes first, so that restarting the daemon without `-s` never hides images made with `-s`;
    then the priority list, skipping drivers that raise DriverNotSupported.
    """
    if name is not None:
        return driver_class(name)(os.path.join(graph_root, name))
    candidates = [n for n in PRIORITY if _holds_layers(graph_root, n)]
    candidates += [n for n in PRIORITY if n not in candidates]
    reasons = []
    for candidate in candidates:
        try:
            return driver_class(candidate)(os.path.join(graph_root, candidate))
        except DriverNotSupported as e:
            reasons.append(str(e))
    raise DriverNotSupported("no storage driver works here: " + "; ".join(reasons))


def _holds_layers(graph_root: str, name: str) -> bool:
    # Every driver keeps its layers one level below a directory of its home (overlay: <id>/diff
    # and l/<short>, vfs: dir/<id>), so anything two levels down means layers were stored here.
    try:
        with os.scandir(os.path.join(graph_root, name)) as entries:
            for entry in entries:
                if entry.name.startswith(".") or not entry.is_dir(follow_symlinks=False):
                    continue
                if any(not child.startswith(".") for child in os.listdir(entry.path)):
                    return True
    except OSError:
        pass
    return False
