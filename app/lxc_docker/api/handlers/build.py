"""`POST /build`: build an image from a context tar (or a `remote` URL or git repository) and stream
the builder's output as JSON messages (`stream`; `error` and `errorDetail` on failure)."""

from __future__ import annotations

import base64
import binascii
import json
import logging
import threading
from typing import TYPE_CHECKING, Any, Protocol

from ...errors import DockerError, InvalidParameter
from ..http import Request
from ..router import Route

# The builder (its parser, context reader, instructions) loads on the first build, not at the
# daemon's start: a boot2docker VM under emulation serves /_ping seconds sooner without it.
if TYPE_CHECKING:
    from ...builder.interfaces import ContainerRunner, ImageStore, LayerDriver
    from ...builder.parser import Instruction
    from ...daemon.daemon import Daemon
    from ..response import Response

log = logging.getLogger(__name__)


class BuildBackend(Protocol):
    """What this endpoint needs: the builder's three interfaces, a scratch directory, and naming."""

    images: ImageStore
    layers: LayerDriver
    runner: ContainerRunner

    @property
    def tmp_root(self) -> str: ...

    def check_new_name(self, name: str) -> tuple[str, str]: ...

    def tag(self, repo: str, tag: str, image_id: str) -> None: ...


def backend_for(daemon: Daemon) -> BuildBackend:
    """The daemon as this endpoint sees it (what `api/routes.py` registers ROUTES with)."""
    from ...daemon.buildrunner import DaemonBuildBackend

    return DaemonBuildBackend(daemon)


def build(backend: BuildBackend, req: Request, res: Response) -> None:
    from ...builder import context as build_context
    from ...builder.builder import Builder
    from ...builder.parser import parse

    # Checked before the context is read: a bad name must not cost an upload or leave an image.
    names = [backend.check_new_name(t) for t in req.q_all("t") if t]
    options = _options(req)
    labels = _labels(req.q("labels"))
    remote = req.q("remote")
    # The first value, as Go's FormValue reads it: the docker SDK sends a Dockerfile from outside
    # the context as `dockerfile=<its name in the tar>&dockerfile=<its text>`.
    dockerfile = (req.q_all("dockerfile") or [""])[0] or "Dockerfile"
    if remote:
        ctx = build_context.from_remote(remote, backend.tmp_root, dockerfile)
    else:
        ctx = build_context.from_body(req.body, backend.tmp_root, dockerfile)
    with ctx:
        out = _Output(res, json_stream=req.at_least(1, 8), only_id=options.pop("only_id"))
        try:
            builder = Builder(
                ctx, out.write, images=backend.images, layers=backend.layers, runner=backend.runner, **options
            )
            instructions = parse(ctx.dockerfile)
            if labels:
                instructions.append(_label_instruction(labels))
            image_id = builder.build(instructions)
            for repo, tag in names:
                backend.tag(repo, tag, image_id)
                if req.at_least(1, 24):
                    # What today's engines add after "Successfully built" (clients wait for it).
                    out.write(f"Successfully tagged {repo}:{tag}\n")
        except DockerError as e:
            if not out.started:
                raise  # nothing sent yet: an ordinary error response
            out.error(str(e), getattr(e, "code", None))
            return
        except Exception as e:
            log.exception("build failed")
            if not out.started:
                raise
            out.error(str(e) or e.__class__.__name__, None)
            return
        out.finish(image_id)


ROUTES = [
    Route("POST", "/build", build),
]


def _options(req: Request) -> dict[str, Any]:
    quiet = req.q_bool("q")
    # Since API 1.22 `q` leaves only the image id in the output; before, it only hid what the
    # RUN commands printed (Docker 0.9's "Suppress verbose build output").
    only_id = quiet and req.at_least(1, 22)
    # Docker made --rm the default at API 1.12; Docker 0.9's default was to keep the containers.
    remove = req.q_bool("rm") if req.has("rm") and req.q("rm") != "" else req.at_least(1, 12)
    return {
        "use_cache": not req.q_bool("nocache"),
        "verbose": not quiet,
        "remove": remove,
        "force_remove": req.q_bool("forcerm"),
        "auth_config": _registry_config(req.headers.get("X-Registry-Config", "")),
        "only_id": only_id,
        "build_args": _build_args(req.q("buildargs")),
        # Wording and rules of the requested version: quoted commands from 1.20 (Docker 1.8),
        # an undeclared build arg a warning rather than a failure from 1.25 (Docker 1.13).
        "quoted_errors": req.at_least(1, 20),
        "strict_build_args": not req.at_least(1, 25),
        # RUN's standard error in red, as the engines today's clients were written against.
        "color_stderr": req.at_least(1, 24),
    }


def _build_args(text: str) -> dict[str, str | None] | None:
    if not text:
        return None
    from ...builder.args import parse_query

    return parse_query(text)


def _labels(text: str) -> dict[str, str]:
    """The `labels` query: a JSON object of strings, set on the built image."""
    if not text:
        return {}
    try:
        doc = json.loads(text)
    except ValueError as e:
        raise InvalidParameter(f"labels: invalid JSON: {e}") from None
    if not isinstance(doc, dict) or not all(isinstance(v, str) for v in doc.values()):
        raise InvalidParameter("labels: expected a JSON object of names to strings")
    return doc


def _quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _label_instruction(labels: dict[str, str]) -> Instruction:
    """A last `LABEL` step, as Docker adds the `labels` of the request (and so caches it)."""
    from ...builder.parser import Instruction

    text = " ".join(f"{_quote(k)}={_quote(v)}" for k, v in labels.items())
    return Instruction(0, "LABEL", text, value=list(labels.items()))


def _registry_config(header: str) -> dict[str, Any]:
    """The client's registry credentials (base64url JSON), for pulls that FROM may need."""
    if not header:
        return {}
    try:
        padded = header + "=" * (-len(header) % 4)
        doc = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, binascii.Error):
        return {}  # as Docker did: an unreadable header means no credentials, not a failed build
    return doc if isinstance(doc, dict) else {}


class _Output:
    """The response stream, started at the first message (so early errors get an error status).

    RUN output arrives from the container's output threads: writes are serialized.
    """

    def __init__(self, res: Response, *, json_stream: bool, only_id: bool) -> None:
        self._res = res
        self._json = json_stream
        self._only_id = only_id
        self._held: list[str] = []  # with only_id: shown only if the build fails
        self._writer: Any = None
        self._lock = threading.Lock()

    @property
    def started(self) -> bool:
        return self._writer is not None or bool(self._held)

    def _start(self) -> Any:
        if self._writer is None:
            self._writer = self._res.stream("application/json" if self._json else "text/plain; charset=utf-8")
        return self._writer

    def write(self, text: str) -> None:
        with self._lock:
            if self._only_id:
                self._held.append(text)
                return
            self._send(text)

    def _send(self, text: str) -> None:
        writer = self._start()
        if self._json:
            writer.write_json({"stream": text})
        else:
            writer.write(text.encode("utf-8", "replace"))

    def error(self, message: str, code: int | None) -> None:
        with self._lock:
            held, self._held = self._held, []
            if held:
                self._send("".join(held))
            writer = self._start()
            if self._json:
                detail: dict[str, Any] = {"message": message}
                if code:
                    detail["code"] = code
                writer.write_json({"errorDetail": detail, "error": message})
            else:
                writer.write(f"Error: {message}\r\n".encode("utf-8", "replace"))

    def finish(self, image_id: str) -> None:
        with self._lock:
            if self._only_id:
                self._held = []
                self._send(f"sha256:{image_id}\n")
            else:
                self._start()
