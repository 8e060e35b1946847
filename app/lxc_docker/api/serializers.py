"""Response shapes per API version: the documented v1.9 ones, and the superset API 1.24 clients read.

Handlers fetch from the backend; these functions only reshape, so version differences stay at the
edge (later Docker's `if versions.LessThan(version, "1.25")`), never in the daemon's objects.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import timeutil
from ..daemon.filtering import volume_name
from ..runconfig.bindmode import parse_mode
from ..timeutil import human_duration

if TYPE_CHECKING:
    from ..daemon.container import Container
    from ..image.image import Image

Version = tuple[int, int]
# Docker 1.10 (API 1.22) names images by content digest: clients see `sha256:<hex>` for an image id.
DIGEST_IDS: Version = (1, 22)
LIST_LABELS: Version = (1, 17)


def image_id(value: str, version: Version) -> str:
    """An image id as a client at `version` expects it (`sha256:` from 1.22 on, bare before)."""
    if not value or version < DIGEST_IDS or value.startswith("sha256:"):
        return value
    return "sha256:" + value


def status_text(c: Container, now: float) -> str:
    """STATUS in `docker ps`, in Docker 0.9's words."""
    s = c.state
    if s.running and s.ghost:
        return "Ghost"
    if s.running:
        up = "Up " + human_duration(now - timeutil.parse_rfc3339(s.started_at))
        if s.paused:
            return up + " (Paused)"
        health = (s.health or {}).get("Status")
        if health == "starting":
            return up + " (health: starting)"
        return f"{up} ({health})" if health in ("healthy", "unhealthy") else up
    if s.restarting:
        return (
            f"Restarting ({s.exit_code}) "
            + human_duration(now - timeutil.parse_rfc3339(s.finished_at))
            + " ago"
        )
    if s.finished_at.startswith("0001-"):
        return ""
    return f"Exit {s.exit_code}"


def state_name(c: Container) -> str:
    """The one-word state later APIs report (`State` in lists, `State.Status` in inspect)."""
    if c.state.running:
        return "paused" if c.state.paused else "running"
    if c.state.restarting:
        return "restarting"
    return "exited" if not c.state.finished_at.startswith("0001-") else "created"


def ports(c: Container) -> list[dict[str, Any]]:
    out = []
    for spec, bindings in sorted(((c.network_settings or {}).get("Ports") or {}).items()):
        port, _, proto = spec.partition("/")
        if bindings:
            for b in bindings:
                out.append(
                    {
                        "IP": b.get("HostIp", ""),
                        "PrivatePort": int(port),
                        "PublicPort": int(b.get("HostPort") or 0),
                        "Type": proto or "tcp",
                    }
                )
        else:
            out.append({"PrivatePort": int(port), "Type": proto or "tcp"})
    return out


def container_summary(
    c: Container,
    image_name: str,
    names: list[str],
    now: float,
    sizes: tuple[int, int] | None,
    version: Version = (1, 24),
) -> dict[str, Any]:
    """One row of `GET /containers/json`; `sizes` is (SizeRw, SizeRootFs) when `size=1` was asked.

    The row is the same superset at every version (our own CLI speaks 1.9 and formats `.Labels`),
    except for the image id, which is bare below 1.22 as Docker 1.9 showed it.
    """
    doc: dict[str, Any] = {
        "Id": c.id,
        "Image": image_name,
        "Command": c.command_line(),
        "Created": int(timeutil.parse_rfc3339(c.created)),
        "Status": status_text(c, now),
        "Ports": ports(c),
        "Names": names,
        "Labels": dict(c.config.get("Labels") or {}),
        "State": state_name(c),
        "ImageID": image_id(c.image, version),
        "HostConfig": {"NetworkMode": (c.host_config or {}).get("NetworkMode") or "default"},
        "NetworkSettings": {"Networks": dict((c.network_settings or {}).get("Networks") or {})},
    }
    if sizes is not None:
        doc["SizeRw"], doc["SizeRootFs"] = sizes
    return doc


def container_inspect(c: Container, version: Version) -> dict[str, Any]:
    doc = c.to_json()
    # Kept in config.json for the daemon's own use; not part of any API's State.
    for key in (
        "ManuallyStopped",
        "RestartCount",
        *(("Paused", "Restarting", "Health") if version < (1, 12) else ()),
    ):
        doc["State"].pop(key, None)
    doc["HostConfig"] = c.host_config
    settings = {k: v for k, v in (c.network_settings or {}).items() if not k.startswith("_")}
    base_settings = {
        "IPAddress": "",
        "IPPrefixLen": 0,
        "Gateway": "",
        "Bridge": "",
        "PortMapping": None,
        "Ports": None,
    }
    base_settings.update(settings)
    if version < (1, 21):
        base_settings.pop("Networks", None)  # per-network endpoints arrived with API 1.21
    doc["NetworkSettings"] = base_settings
    if version < (1, 12):
        return doc
    doc["Id"] = doc.pop("ID")
    doc["State"].update(
        {
            "Status": state_name(c),
            "Paused": c.state.paused,
            "Restarting": c.state.restarting,
            "OOMKilled": False,
            "Dead": False,
            "Error": c.state.error,
        }
    )
    doc["Name"] = c.name
    doc["LogPath"] = c.log_path
    doc["RestartCount"] = c.state.restart_count
    doc["ExecIDs"] = list(c.exec_ids) or None
    doc["Platform"] = "linux"
    doc["Image"] = image_id(c.image, version)
    doc["Mounts"] = mounts(c)
    doc["Config"] = dict(c.config)
    doc["Config"].setdefault("Labels", {})
    doc["GraphDriver"] = {"Name": c.driver, "Data": None}
    host = dict(c.host_config)
    # Fields today's clients read unconditionally (the SDK looks at LogConfig before reading logs).
    host.setdefault("LogConfig", {"Type": "json-file", "Config": {}})
    host.setdefault("NetworkMode", "default")
    host.setdefault("RestartPolicy", {"Name": "no", "MaximumRetryCount": 0})
    host.setdefault("AutoRemove", False)
    doc["HostConfig"] = host
    return doc


def mounts(c: Container) -> list[dict[str, Any]]:
    """`Mounts` in inspect (API 1.24's MountPoint): a volume has a Name and the local Driver, a bind
    the propagation it is mounted with (its mode's, else rprivate, Docker's default) and its mode."""
    modes, propagation = {}, {}
    for spec in (c.host_config or {}).get("Binds") or ():
        parts = spec.split(":")
        if len(parts) >= 2 and parts[0].startswith("/"):  # `NAME:/path` mounts a volume, not a bind
            dest = parts[1].rstrip("/") or "/"
            modes[dest] = parts[2] if len(parts) > 2 else ""
            try:
                propagation[dest] = parse_mode(modes[dest]).propagation if modes[dest] else ""
            except ValueError:  # refused at create or start: never mounted with it
                pass
    out = []
    for dest, src in sorted((c.volumes or {}).items()):
        name = volume_name(src)
        rw = c.volumes_rw.get(dest, True)
        if name and dest not in modes:
            out.append(
                {
                    "Type": "volume",
                    "Name": name,
                    "Source": src,
                    "Destination": dest,
                    "Driver": "local",
                    "Mode": "",
                    "RW": rw,
                    "Propagation": "",
                }
            )
        else:
            out.append(
                {
                    "Type": "bind",
                    "Source": src,
                    "Destination": dest,
                    "Mode": modes.get(dest, ""),
                    "RW": rw,
                    "Propagation": propagation.get(dest) or "rprivate",
                }
            )
    return out


def image_rows(rows: list[dict[str, Any]], version: Version) -> list[dict[str, Any]]:
    """`GET /images/json` rows (the 0.9 shape from the image service, with `Labels`) for `version`."""
    digests = {r["Id"]: r.pop("RepoDigests", None) or [] for r in rows}
    for r in rows:
        labels = r.pop("Labels", None)
        if version >= LIST_LABELS:
            r["Labels"] = labels or None
        if version >= DIGEST_IDS:
            r["Id"] = image_id(r["Id"], version)
            r["ParentId"] = image_id(r.get("ParentId") or "", version)
    if version >= (1, 24):
        for r in rows:
            # Since Docker 1.10 `Size` is the whole image, not the top layer.
            r.update(
                {
                    "Size": r["VirtualSize"],
                    "RepoDigests": digests.get(r["Id"].removeprefix("sha256:"), []),
                    "SharedSize": -1,
                    "Containers": -1,
                }
            )
    return rows


def image_inspect(
    image: Image,
    version: Version,
    repo_tags: list[str],
    virtual_size: int,
    driver_name: str,
    repo_digests: list[str] | None = None,
) -> dict[str, Any]:
    if version < (1, 12):
        return image.to_json()
    return {
        "Id": image_id(image.id, version),
        "RepoTags": repo_tags,
        "RepoDigests": repo_digests or [],
        "Parent": image_id(image.parent or "", version),
        "Comment": image.comment,
        "Created": image.created,
        "Container": image.container,
        "ContainerConfig": image.container_config,
        "DockerVersion": image.docker_version,
        "Author": image.author,
        "Config": image.config,
        "Architecture": image.architecture,
        "Os": image.os,
        "Size": virtual_size,
        "VirtualSize": virtual_size,
        "GraphDriver": {"Name": driver_name, "Data": None},
        "RootFS": {"Type": "layers"},
        "Metadata": {"LastTagTime": "0001-01-01T00:00:00Z"},
    }


def image_history(rows: list[dict[str, Any]], version: Version) -> list[dict[str, Any]]:
    for r in rows:
        if version < (1, 17):
            r.pop("Comment", None)
        r["Id"] = image_id(r["Id"], version)
    return rows


def image_delete(results: list[dict[str, str]], image: str, version: Version) -> list[dict[str, str]]:
    if version < (1, 20):
        # Docker 0.9 reported the untagged image's id, as the documentation shows.
        return [{"Untagged": image} if "Untagged" in r else r for r in results]
    return [{"Deleted": image_id(r["Deleted"], version)} if "Deleted" in r else r for r in results]
