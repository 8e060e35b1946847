"""The store checker behind `docker -d --check`: inspect a daemon root at rest and list what is broken
or leaked, changing nothing.

It reads the files directly (never through `Graph` or a storage driver, whose start-up sweeps and
mounts would change what it looks at), so it runs while no daemon uses the root; `engine.py` holds
the pidfile lock meanwhile. The layout it knows:

    graph/<id>/json                    image metadata; its layer is the driver's <id>
    repositories-<driver>              tags
    containers/<id>/config.json        container; its layers are the driver's <id> and <id>-init
    volumes/<id>/config.json, _data/   volume ("Kept" when a plain rm left it unreferenced, "Named"
                                       for a named one: both kept with no container)
    overlay/<id>/ or vfs/dir/<id>/     the driver's layers (storage/overlay.py, storage/vfs.py)
    journal/*.json                     operations a crash interrupted (sysutil/journal.py)
    network.json                       the bridge and chains of the last run (network/hostrules.py)

The next daemon start repairs `pending-intent` (daemon/recovery.py), `temp-debris`, `bad-image`,
`image-without-layer`, `image-missing-parent` (image/graph.py), `dangling-tag` (the tag store's
prune), `orphan-layer` (the orphan sweep), `stale-mount` (the driver unmounts what a crash left) and
`stale-rule` (network/hostrules.py deletes our rules a crash left). The others need a person's look:
`orphan-volume` (a volume a plain `rm` of a version before the intents left unmarked, or worse),
`bad-container`, `container-without-layer`, `container-missing-image`, `container-missing-volume`,
`bad-volume`, `bad-tags`, `stale-port`.
"""

from __future__ import annotations

import ipaddress
import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ..storage.base import TMP_PREFIX, mounts_under
from ..sysutil.journal import Journal

DRIVERS = {"overlay": "overlay", "vfs": os.path.join("vfs", "dir")}


@dataclass(frozen=True)
class Finding:
    kind: str
    subject: str
    detail: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.subject}: {self.detail}"


@dataclass
class _Container:
    id: str
    image: str
    running: bool
    ip: str
    volumes: list[str]


def check_store(
    root: str,
    driver: str = "",
    *,
    mounts: Iterable[str] | None = None,
    rules: Callable[[str], list[list[str]]] | None = None,
    bridge_ports: Callable[[str], list[str]] | None = None,
) -> list[Finding]:
    """Every finding in the store under `root`, for the storage driver `driver` (found when empty).

    `mounts`, `rules` (iptables -S lines of our bridge's rules, split) and `bridge_ports` default to
    the host's; tests pass their own.
    """
    root = os.path.realpath(root)
    found: list[Finding] = []
    add = found.append
    for path, doc in Journal(root).pending(sweep=False):
        add(Finding("pending-intent", os.path.basename(path), f"interrupted {(doc or {}).get('Op', '?')}"))
    driver = driver or _driver_of(root)
    home = os.path.join(root, DRIVERS.get(driver, driver))
    layers = _listing(home, add, "layer", skip={"l"})
    images = _images(root, layers, add)
    containers = _containers(root, layers, images, add)
    _tags(root, driver, images, add)
    wanted = set(images)
    for c in containers.values():
        wanted.update((c.id, f"{c.id}-init"))
    for layer in sorted(set(layers) - wanted):
        add(Finding("orphan-layer", layer, f"driver layer under {home} that no image or container owns"))
    _volumes(root, containers, add)
    _mounts(root, driver, containers, add, mounts)
    _network(root, containers, add, rules, bridge_ports)
    return found


# -- images, tags, layers ---------------------------------------------------------------------------


def _images(root: str, layers: set[str], add: Callable[[Finding], None]) -> dict[str, str]:
    """Readable images: id -> parent."""
    parents: dict[str, str] = {}
    for name in _listing(os.path.join(root, "graph"), add, "image"):
        doc = _read(os.path.join(root, "graph", name, "json"))
        image_id = doc.get("id") if isinstance(doc, dict) else None
        if image_id != name:
            add(Finding("bad-image", name, "json missing, unreadable or naming another id"))
            continue
        parents[name] = str(doc.get("parent") or "")
        if name not in layers:
            add(Finding("image-without-layer", name, "image json without its driver layer"))
    for name, parent in parents.items():
        if parent and parent not in parents:
            add(Finding("image-missing-parent", name, f"parent {parent} does not exist"))
    return parents


def _tags(root: str, driver: str, images: dict[str, str], add: Callable[[Finding], None]) -> None:
    path = os.path.join(root, f"repositories-{driver}")
    if not os.path.exists(path):
        return
    doc = _read(path)
    repos = doc.get("Repositories") if isinstance(doc, dict) else None
    if not isinstance(repos, dict):
        add(Finding("bad-tags", os.path.basename(path), "unreadable tag store"))
        return
    for repo, tags in sorted(repos.items()):
        for tag, image_id in sorted((tags or {}).items()):
            if image_id not in images:
                add(Finding("dangling-tag", f"{repo}:{tag}", f"points at missing image {image_id}"))


# -- containers and volumes -------------------------------------------------------------------------


def _containers(
    root: str, layers: set[str], images: dict[str, str], add: Callable[[Finding], None]
) -> dict[str, _Container]:
    result = {}
    for name in _listing(os.path.join(root, "containers"), add, "container"):
        doc = _read(os.path.join(root, "containers", name, "config.json"))
        if not isinstance(doc, dict) or doc.get("ID") != name:
            add(Finding("bad-container", name, "config.json missing, unreadable or naming another id"))
            continue
        state = doc.get("State") or {}
        network = doc.get("NetworkSettings") or {}
        c = _Container(
            id=name,
            image=str(doc.get("Image") or ""),
            running=bool(state.get("Running")),
            ip=str(network.get("IPAddress") or ""),
            volumes=[str(v) for v in (doc.get("Volumes") or {}).values()],
        )
        result[name] = c
        for layer in (name, f"{name}-init"):
            if layer not in layers:
                add(Finding("container-without-layer", name, f"driver layer {layer} is missing"))
        if c.image not in images:
            add(Finding("container-missing-image", name, f"image {c.image} does not exist"))
    return result


def _volumes(root: str, containers: dict[str, _Container], add: Callable[[Finding], None]) -> None:
    vdir = os.path.join(root, "volumes")
    referenced = {p for c in containers.values() for p in c.volumes}
    for cid, c in sorted(containers.items()):
        for path in c.volumes:
            if os.path.dirname(os.path.dirname(path)) == vdir and not os.path.isdir(path):
                add(Finding("container-missing-volume", cid, f"volume {path} does not exist"))
    for vid in _listing(vdir, add, "volume"):
        meta = _read(os.path.join(vdir, vid, "config.json"))
        if not isinstance(meta, dict) or not os.path.isdir(os.path.join(vdir, vid, "_data")):
            add(Finding("bad-volume", vid, "config.json or _data missing or unreadable"))
            continue
        # A named volume (daemon/volumestore.py) outlives containers on purpose: never an orphan.
        if os.path.join(vdir, vid, "_data") in referenced or meta.get("Kept") or meta.get("Named"):
            continue
        made_for = str(meta.get("Container") or "?")
        add(Finding("orphan-volume", vid, f"no container references it (made for {made_for[:12]})"))


# -- host state: mounts, iptables rules, bridge ports -----------------------------------------------


def _mounts(
    root: str,
    driver: str,
    containers: dict[str, _Container],
    add: Callable[[Finding], None],
    mounts: Iterable[str] | None,
) -> None:
    home = os.path.join(root, DRIVERS.get(driver, driver))
    # The overlay driver binds its home onto itself; a running container keeps its root mounted
    # while no daemon runs (live restore), so neither is stale.
    allowed = {home} | {os.path.join(home, c.id, "merged") for c in containers.values() if c.running}
    for mountpoint in sorted(mounts_under(root) if mounts is None else mounts):
        if mountpoint not in allowed and (mountpoint == root or mountpoint.startswith(root + "/")):
            add(Finding("stale-mount", mountpoint, "mounted under the root, used by no running container"))


def _network(
    root: str,
    containers: dict[str, _Container],
    add: Callable[[Finding], None],
    rules: Callable[[str], list[list[str]]] | None,
    bridge_ports: Callable[[str], list[str]] | None,
) -> None:
    state = _read(os.path.join(root, "network.json"))
    bridge = str(state.get("bridge") or "") if isinstance(state, dict) else ""
    if not bridge or bridge == "none":
        return
    live = {c.ip for c in containers.values() if c.running and c.ip}
    for words in (rules or _our_rules)(bridge):
        stale = sorted(ip for ip in _container_ips(words) if ip not in live)
        if stale:
            add(Finding("stale-rule", " ".join(words), f"for {', '.join(stale)}, no running container's"))
    ports = (bridge_ports or _bridge_ports)(bridge)
    running = sum(1 for c in containers.values() if c.running)
    if len(ports) > running:
        add(
            Finding(
                "stale-port",
                bridge,
                f"{len(ports)} interface(s) on the bridge ({', '.join(sorted(ports))}) "
                f"for {running} running container(s)",
            )
        )


def _container_ips(words: list[str]) -> set[str]:
    """Single addresses a rule names as source, destination or DNAT target (not loopback)."""
    ips = set()
    for flag, value in zip(words, words[1:], strict=False):
        if flag == "--to-destination":
            value = value.rsplit(":", 1)[0]
        elif flag not in ("-s", "-d"):
            continue
        try:
            net = ipaddress.ip_network(value, strict=False)
        except ValueError:
            continue
        if net.num_addresses == 1 and not net.is_loopback:
            ips.add(str(net.network_address))
    return ips


def _our_rules(bridge: str) -> list[list[str]]:
    import shlex
    import shutil
    import subprocess

    from ..network.iptables import owner_comment

    if shutil.which("iptables") is None:
        return []
    comment = owner_comment(bridge)
    found = []
    for table in ("nat", "filter"):
        proc = subprocess.run(
            ["iptables", "-w", "-t", table, "-S"], capture_output=True, text=True, check=False
        )
        for line in proc.stdout.splitlines():
            words = shlex.split(line)
            if words[:1] == ["-A"] and comment in words:
                found.append(["-t", table, *words])
    return found


def _bridge_ports(bridge: str) -> list[str]:
    try:
        return os.listdir(f"/sys/class/net/{bridge}/brif")
    except OSError:
        return []


# -- helpers ----------------------------------------------------------------------------------------


def _driver_of(root: str) -> str:
    present = [name for name, sub in DRIVERS.items() if os.path.isdir(os.path.join(root, sub))]
    if len(present) > 1:
        # Both were used on this root: the tags of the later run say which one the graph follows.
        present.sort(key=lambda n: _mtime(os.path.join(root, f"repositories-{n}")), reverse=True)
    return present[0] if present else "vfs"


def _listing(path: str, add: Callable[[Finding], None], what: str, skip: Iterable[str] = ()) -> set[str]:
    """Entries of a store directory; temporary names are reported (debris of an interrupted step)."""
    try:
        names = os.listdir(path)
    except FileNotFoundError:
        return set()
    result = set()
    for name in names:
        if name.startswith(TMP_PREFIX):
            add(Finding("temp-debris", os.path.join(path, name), f"left by an interrupted {what} change"))
        elif not name.startswith(".") and name not in skip and os.path.isdir(os.path.join(path, name)):
            result.add(name)
    return result


def _read(path: str) -> object:
    try:
        with open(path, "rb") as f:
            return json.loads(f.read())
    except (OSError, ValueError):
        return None


def _mtime(path: str) -> float:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return 0.0
