"""Container endpoints: create, list, inspect, start/stop/kill/restart/wait, remove, top, files, commit."""

from __future__ import annotations

import base64
import json
import subprocess
import time
from typing import TYPE_CHECKING, Any

from ... import timeutil
from ...daemon import containerfs
from ...daemon.containers import AlreadyRunning, NotRunning, parse_signal
from ...errors import InvalidParameter, NotFound
from ...timeutil import human_duration
from ..http import Request
from ..router import Router

if TYPE_CHECKING:
    from ...daemon.container import Container
    from ...daemon.daemon import Daemon
    from ..response import Response


def status_text(c: Container, now: float) -> str:
    """STATUS in `docker ps`, in Docker 0.9's words."""
    s = c.state
    if s.running and s.ghost:
        return "Ghost"
    if s.running:
        return "Up " + human_duration(now - timeutil.parse_rfc3339(s.started_at))
    if s.finished_at.startswith("0001-"):
        return ""
    return f"Exit {s.exit_code}"


def _ports(c: Container) -> list[dict[str, Any]]:
    ports = []
    for spec, bindings in sorted(((c.network_settings or {}).get("Ports") or {}).items()):
        port, _, proto = spec.partition("/")
        if bindings:
            for b in bindings:
                ports.append(
                    {
                        "IP": b.get("HostIp", ""),
                        "PrivatePort": int(port),
                        "PublicPort": int(b.get("HostPort") or 0),
                        "Type": proto or "tcp",
                    }
                )
        else:
            ports.append({"PrivatePort": int(port), "Type": proto or "tcp"})
    return ports


def register(router: Router, daemon: Daemon) -> None:
    svc = daemon.containers

    def create(req: Request, res: Response) -> None:
        body = req.json(required=True)
        c, warnings = svc.create(body, name=req.q("name"))
        res.json({"Id": c.id, "Warnings": warnings or None}, 201)

    def list_containers(req: Request, res: Response) -> None:
        show_all = req.q_bool("all")
        limit = req.q_int("limit", -1)
        since, before = req.q("since"), req.q("before")
        containers = sorted(svc.all(), key=lambda c: (c.created, c.id), reverse=True)
        if since or before or limit > 0:
            show_all = True
        out = []
        found_before = not before
        now = time.time()
        for c in containers:
            if not found_before:
                if svc.get(before).id == c.id:
                    found_before = True
                continue
            if since and svc.get(since).id == c.id:
                break
            if not show_all and not c.state.running:
                continue
            if limit > 0 and len(out) >= limit:
                break
            out.append(_summary(daemon, c, now, req.q_bool("size")))
        res.json(out)

    def inspect(req: Request, res: Response, name: str) -> None:
        c = svc.get(name)
        res.json(_inspect(daemon, c, req))

    def start(req: Request, res: Response, name: str) -> None:
        c = svc.get(name)
        host_config = req.json()
        if host_config is not None and not isinstance(host_config, dict):
            raise InvalidParameter("start body must be a HostConfig object")
        try:
            svc.start(c, host_config or None)
        except AlreadyRunning:
            if req.at_least(1, 24):
                res.empty(304)
                return
            raise
        res.empty(204)

    def stop(req: Request, res: Response, name: str) -> None:
        c = svc.get(name)
        try:
            svc.stop(c, req.q_int("t", 10))
        except NotRunning:
            if req.at_least(1, 24):
                res.empty(304)
                return
            raise
        res.empty(204)

    def restart(req: Request, res: Response, name: str) -> None:
        svc.restart(svc.get(name), req.q_int("t", 10))
        res.empty(204)

    def kill(req: Request, res: Response, name: str) -> None:
        c = svc.get(name)
        sig = parse_signal(req.q("signal"))
        svc.kill(c, sig)
        res.empty(204)

    def wait(req: Request, res: Response, name: str) -> None:
        c = svc.get(name)
        res.json({"StatusCode": svc.wait(c)})

    def delete(req: Request, res: Response, name: str) -> None:
        if req.q_bool("link"):
            daemon.remove_link(name)
            res.empty(204)
            return
        svc.remove(svc.get(name), force=req.q_bool("force"), volumes=req.q_bool("v"))
        res.empty(204)

    def top(req: Request, res: Response, name: str) -> None:
        c = svc.get(name)
        if not c.state.running:
            raise NotRunning(f"Container {c.id[:12]} is not running")
        res.json(_top(daemon, c, req.q("ps_args") or "-ef"))

    def changes(req: Request, res: Response, name: str) -> None:
        res.json(containerfs.changes(daemon, svc.get(name)))

    def export(req: Request, res: Response, name: str) -> None:
        c = svc.get(name)
        from .images import _Buffered

        out = _Buffered(res.stream("application/x-tar"))
        containerfs.export(daemon, c, out)
        out.flush()
        daemon.events.publish("export", c.id, from_=c.config.get("Image", ""))

    def copy(req: Request, res: Response, name: str) -> None:
        c = svc.get(name)
        body = req.json(required=True)
        resource = body.get("Resource") if isinstance(body, dict) else None
        if not isinstance(resource, str) or not resource:
            raise InvalidParameter("Path cannot be empty")
        containerfs.stat_path(daemon, c, resource)  # a clear 404 before the stream starts
        from .images import _Buffered

        out = _Buffered(res.stream("application/x-tar"))
        containerfs.copy_out(daemon, c, resource, out)
        out.flush()

    def archive_head(req: Request, res: Response, name: str) -> None:
        c = svc.get(name)
        st = containerfs.stat_path(daemon, c, req.q("path"))
        res._head(200, [("X-Docker-Container-Path-Stat", _stat_header(st)), ("Content-Length", "0")])
        res._h.wfile.flush()

    def archive_get(req: Request, res: Response, name: str) -> None:
        c = svc.get(name)
        st = containerfs.stat_path(daemon, c, req.q("path"))
        from ..http import ChunkedWriter
        from .images import _Buffered

        res._head(
            200,
            [
                ("Content-Type", "application/x-tar"),
                ("Transfer-Encoding", "chunked"),
                ("X-Docker-Container-Path-Stat", _stat_header(st)),
            ],
        )
        res._writer = ChunkedWriter(res._h.wfile)
        out = _Buffered(res._writer)
        containerfs.copy_out(daemon, c, req.q("path"), out)
        out.flush()

    def archive_put(req: Request, res: Response, name: str) -> None:
        c = svc.get(name)
        containerfs.copy_in(daemon, c, req.q("path"), req.body)
        res.empty(200)

    def resize(req: Request, res: Response, name: str) -> None:
        c = svc.get(name)
        c.streams.resize(req.q_int("h"), req.q_int("w"))
        res.empty(200)

    def commit(req: Request, res: Response) -> None:
        c = svc.get(req.q("container"))
        run = req.q_json("run")
        body = req.json()
        if isinstance(body, dict) and body and run is None:
            run = {k: v for k, v in body.items() if v not in (None, "", [], {}, False, 0)}
        if run is not None and not isinstance(run, dict):
            raise InvalidParameter("run must be a JSON object")
        image = containerfs.commit(
            daemon,
            c,
            repo=req.q("repo"),
            tag=req.q("tag"),
            comment=req.q("comment") or req.q("m"),
            author=req.q("author"),
            run=run,
            changes_text=req.q_all("changes"),
        )
        res.json({"Id": image.id}, 201)

    for method, pattern, handler in (
        ("POST", "/containers/create", create),
        ("GET", "/containers/json", list_containers),
        ("GET", "/containers/{name}/json", inspect),
        ("POST", "/containers/{name}/start", start),
        ("POST", "/containers/{name}/stop", stop),
        ("POST", "/containers/{name}/restart", restart),
        ("POST", "/containers/{name}/kill", kill),
        ("POST", "/containers/{name}/wait", wait),
        ("GET", "/containers/{name}/top", top),
        ("GET", "/containers/{name}/changes", changes),
        ("GET", "/containers/{name}/export", export),
        ("POST", "/containers/{name}/copy", copy),
        ("HEAD", "/containers/{name}/archive", archive_head),
        ("GET", "/containers/{name}/archive", archive_get),
        ("PUT", "/containers/{name}/archive", archive_put),
        ("POST", "/containers/{name}/resize", resize),
        # `rm --link /parent/alias` names a link: the one place a container name holds slashes.
        ("DELETE", "/containers/{name:/?[^/]+(?:/[^/]+)?}", delete),
        ("POST", "/commit", commit),
    ):
        router.add(method, pattern, handler)


def _stat_header(st: dict[str, Any]) -> str:
    return base64.b64encode(json.dumps(st).encode()).decode()


def _summary(daemon: Daemon, c: Container, now: float, size: bool) -> dict[str, Any]:
    image_name = c.config.get("Image", "")
    try:
        if daemon.images.lookup(image_name).id != c.image:
            image_name = c.image[:12]
    except NotFound:
        image_name = c.image[:12]
    doc: dict[str, Any] = {
        "Id": c.id,
        "Image": image_name,
        "Command": c.command_line(),
        "Created": int(timeutil.parse_rfc3339(c.created)),
        "Status": status_text(c, now),
        "Ports": _ports(c),
        "Names": daemon.container_names(c),
        "Labels": {},
        "State": "running"
        if c.state.running
        else ("exited" if not c.state.finished_at.startswith("0001-") else "created"),
        "ImageID": c.image,
        "HostConfig": {"NetworkMode": "default"},
    }
    if size:
        rw, total = daemon.container_sizes(c)
        doc["SizeRw"], doc["SizeRootFs"] = rw, total
    return doc


def _inspect(daemon: Daemon, c: Container, req: Request) -> dict[str, Any]:
    doc = c.to_json()
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
    doc["NetworkSettings"] = base_settings
    if not req.at_least(1, 12):
        return doc
    doc["Id"] = doc.pop("ID")
    state = doc["State"]
    status = (
        "running"
        if c.state.running
        else ("exited" if not c.state.finished_at.startswith("0001-") else "created")
    )
    state.update(
        {
            "Status": status,
            "Paused": False,
            "Restarting": False,
            "OOMKilled": False,
            "Dead": False,
            "Error": c.state.error,
        }
    )
    doc["Name"] = c.name
    doc["LogPath"] = c.log_path
    doc["RestartCount"] = 0
    doc["Platform"] = "linux"
    doc["Mounts"] = [
        {"Source": src, "Destination": dest, "Mode": "", "RW": c.volumes_rw.get(dest, True), "Type": "bind"}
        for dest, src in (c.volumes or {}).items()
    ]
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


def _top(daemon: Daemon, c: Container, ps_args: str) -> dict[str, Any]:
    import shlex

    pids = set(daemon.exec_driver.pids(c.id)) or {c.state.pid}
    try:
        output = subprocess.run(
            ["ps", *shlex.split(ps_args)], capture_output=True, check=True, text=True
        ).stdout
    except subprocess.CalledProcessError as e:
        raise InvalidParameter(f"Error running ps: {e.stderr.strip() or e}")
    except ValueError as e:
        raise InvalidParameter(f"invalid ps arguments: {e}")
    lines = output.splitlines()
    if not lines:
        return {"Titles": [], "Processes": []}
    titles = lines[0].split()
    try:
        pid_col = titles.index("PID")
    except ValueError:
        raise InvalidParameter("Couldn't find PID field in ps output")
    processes = []
    for line in lines[1:]:
        fields = line.split(None, len(titles) - 1)
        if len(fields) > pid_col and fields[pid_col].isdigit() and int(fields[pid_col]) in pids:
            processes.append(fields)
    return {"Titles": titles, "Processes": processes}
