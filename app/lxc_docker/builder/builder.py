"""Runs a Dockerfile, one method per instruction, as Docker 0.9's builder did: each step starts from
the previous image and commits a new one, or finds it in the build cache.

RUN runs a container from the current image and commits its changes; ADD writes straight into a
new layer (no container); the other instructions change only the config, so their image has an
empty layer and records `/bin/sh -c #(nop) INSTRUCTION args` as its command, which `docker
history` shows. The builder reaches images, layers and containers only through the interfaces in
`interfaces.py`.
"""

from __future__ import annotations

import copy
import hashlib
import posixpath
import re
from collections.abc import Callable
from typing import Any

from ..errors import DockerError, NotFound
from ..image.image import Image
from . import context as ctxfiles
from .args import BuildArgs
from .cache import BuildCache
from .context import BuildContext
from .instructions import NewerInstructions
from .interfaces import ContainerRef, ContainerRunner, ImageStore, LayerDriver, Output
from .layerwrite import add_download, add_from_context
from .parser import DockerfileError, Instruction, parse_trigger

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_VARIABLE = re.compile(r"\\\$|\$\{([A-Za-z0-9_]+)\}|\$([A-Za-z0-9_]+)")


class RunFailed(DockerError):
    """A RUN command exited non-zero; its exit code goes to the client (errorDetail.code)."""

    def __init__(self, cmd: list[str], code: int, quoted: bool = False) -> None:
        # Docker 1.8 (API 1.20) quoted the command; Docker 1.7 and before printed the Go list.
        shown = "'" + " ".join(cmd) + "'" if quoted else go_list(cmd)
        super().__init__(f"The command {shown} returned a non-zero code: {code}")
        self.code = code


def go_list(values: list[str] | None) -> str:
    # How Go's %v prints a []string: Docker 0.9's messages and history read this way.
    return "[" + " ".join(values or []) + "]"


class Builder(NewerInstructions):
    def __init__(
        self,
        context: BuildContext,
        out: Output,
        *,
        images: ImageStore,
        layers: LayerDriver,
        runner: ContainerRunner,
        use_cache: bool = True,
        verbose: bool = True,
        remove: bool = False,
        force_remove: bool = False,
        auth_config: dict[str, Any] | None = None,
        build_args: dict[str, str | None] | None = None,
        quoted_errors: bool = False,
        strict_build_args: bool = True,
        color_stderr: bool = False,
    ) -> None:
        self.images = images
        self.layers = layers
        self.runner = runner
        self.context = context
        self.out = out
        self.cache = BuildCache(images) if use_cache else None
        self.verbose = verbose
        self.remove = remove
        self.force_remove = force_remove
        self.auth_config = auth_config or {}
        self.args = BuildArgs(build_args)
        self.quoted_errors = quoted_errors  # the failed-RUN wording of API 1.20 on
        self.strict_build_args = strict_build_args  # an undeclared build arg fails (API < 1.25)
        self.color_stderr = color_stderr
        self.image = ""  # the current image id; "" before the first FROM
        # Only the keys that are set: the image store and the runner fill in the defaults.
        self.config: dict[str, Any] = {}
        self.maintainer = ""
        self.cmd_set = False  # a CMD came in this stage: a later ENTRYPOINT keeps it
        self.containers: list[ContainerRef] = []  # intermediate containers, removed with --rm

    # -- the build -----------------------------------------------------------------------------

    def build(self, instructions: list[Instruction]) -> str:
        """Run every step; return the id of the last image."""
        try:
            for number, ins in enumerate(instructions, 1):
                self.step(str(number), ins, ins.line)
            if not self.image:
                raise DockerError(
                    "No image was generated. This may be because the Dockerfile does not do anything."
                )
            self.check_unconsumed()
        except BaseException:
            # A failed RUN's container stays for inspection, unless removal is forced.
            if self.force_remove:
                self.remove_containers()
            raise
        self.out(f"Successfully built {self.image[:12]}\n")
        return self.image

    def check_unconsumed(self) -> None:
        unused = self.args.unconsumed()
        if not unused:
            return
        if self.strict_build_args:
            raise DockerError(f"One or more build-args {go_list(unused)} were not consumed, failing build.")
        self.out(f"[Warning] One or more build-args {go_list(unused)} were not consumed\n")

    def step(self, label: str, ins: Instruction, line: int) -> None:
        self.out(f"Step {label} : {ins}\n")
        method = getattr(self, "cmd_" + ins.name.lower())
        try:
            method(ins, line)
        except (DockerfileError, RunFailed):
            raise
        except DockerError as e:
            raise DockerfileError(line, f"{ins}: {e}") from None
        except OSError as e:  # the host failed (disk full, a path too long): still name the step
            raise DockerfileError(line, f"{ins}: {e.strerror or e}") from None
        self.out(f" ---> {self.image[:12]}\n")
        if self.remove:
            # After each step that succeeded, as Docker 1.x did: a later failure leaves none behind.
            self.remove_containers()

    def remove_containers(self) -> None:
        for c in self.containers:
            try:
                self.runner.remove(c)
            except DockerError as e:
                self.out(f"Error removing intermediate container {c.id[:12]}: {e}\n")
            else:
                self.out(f"Removing intermediate container {c.id[:12]}\n")
        self.containers = []

    # -- instructions --------------------------------------------------------------------------

    def cmd_from(self, ins: Instruction, line: int) -> None:
        name = ins.value
        if name == "scratch":
            # Reserved since Docker 1.5: no base image, the next step's image has no parent.
            self.image, base_config = "", {}
        else:
            try:
                image = self.images.lookup(name)
            except NotFound:
                self.images.pull(name, self.out, self.auth_config)
                image = self.images.lookup(name)
            self.image, base_config = image.id, image.config or {}
        self.config = copy.deepcopy(base_config)
        if not self.config.get("Env"):
            # Docker 0.9 gave every built image these, so that RUN finds its commands.
            self.config["Env"] = ["HOME=/", "PATH=" + DEFAULT_PATH]
        self.maintainer = ""
        self.cmd_set = False
        triggers = list(self.config.get("OnBuild") or [])
        # Cleared before the triggers run, so that no image of this build passes them on.
        self.config["OnBuild"] = []
        if triggers:
            self.out(f"# Executing {len(triggers)} build triggers\n")
        for n, text in enumerate(triggers):
            self.step(f"onbuild-{n}", parse_trigger(text, line), line)

    def cmd_maintainer(self, ins: Instruction, line: int) -> None:
        self.maintainer = ins.value
        self._commit_nop(f"MAINTAINER {ins.value}")

    def cmd_run(self, ins: Instruction, line: int) -> None:
        cmd = self.shell_command(ins)
        step_config, run_config = self.run_configs(cmd)
        if self._probe_cache(step_config):
            return
        c = self._create_container(run_config)
        self._run(c, cmd)
        self._commit_container(c, step_config)

    def cmd_cmd(self, ins: Instruction, line: int) -> None:
        cmd = self.shell_command(ins)
        self.config["Cmd"] = cmd
        self.cmd_set = True
        self._commit_nop(f"CMD {go_list(cmd)}")

    def cmd_expose(self, ins: Instruction, line: int) -> None:
        ports = dict(self.config.get("ExposedPorts") or {})
        for port in ins.value:
            ports[port] = {}
        self.config["ExposedPorts"] = ports
        self._commit_nop(f"EXPOSE {go_list(ins.args.split())}")

    def cmd_env(self, ins: Instruction, line: int) -> None:
        assigned = []
        for key, raw in ins.value:
            value = self._substitute(raw)
            env = list(self.config.get("Env") or [])
            entry = f"{key}={value}"
            for i, existing in enumerate(env):
                if existing.split("=", 1)[0] == key:
                    env[i] = entry
                    break
            else:
                env.append(entry)
            self.config["Env"] = env
            assigned.append(entry)
        self._commit_nop("ENV " + " ".join(assigned))

    def cmd_label(self, ins: Instruction, line: int) -> None:
        labels = dict(self.config.get("Labels") or {})
        assigned = []
        for key, raw in ins.value:
            key, value = self._substitute(key), self._substitute(raw)
            labels[key] = value
            assigned.append(f"{key}={value}")
        self.config["Labels"] = labels
        # Docker 1.12's history line: `LABEL a=1 b=two words`.
        self._commit_nop("LABEL " + " ".join(assigned))

    def cmd_add(self, ins: Instruction, line: int) -> None:
        src, dest = (self._substitute(v) for v in ins.value)
        if ctxfiles.is_url(src):
            self._add_url(src, dest)
        else:
            self._add_local(src, dest)

    def cmd_entrypoint(self, ins: Instruction, line: int) -> None:
        entrypoint = self.shell_command(ins)
        self.config["Entrypoint"] = entrypoint
        if not self.cmd_set:
            # The base image's CMD was written for its own entrypoint, not this one.
            self.config["Cmd"] = None
        self._commit_nop(f"ENTRYPOINT {go_list(entrypoint)}")

    def cmd_volume(self, ins: Instruction, line: int) -> None:
        volumes = dict(self.config.get("Volumes") or {})
        for path in ins.value:
            volumes[path] = {}
        self.config["Volumes"] = volumes
        self._commit_nop(f"VOLUME {ins.args}")

    def cmd_user(self, ins: Instruction, line: int) -> None:
        user = self._substitute(ins.value)  # as Docker 1.x substitutes in USER
        self.config["User"] = user
        self._commit_nop(f"USER {user}")

    def cmd_workdir(self, ins: Instruction, line: int) -> None:
        path = self._substitute(ins.value)
        # A relative WORKDIR continues from the previous one, as later Dockers define it.
        workdir = posixpath.normpath(posixpath.join(self.config.get("WorkingDir") or "/", path))
        self.config["WorkingDir"] = workdir
        self._commit_nop(f"WORKDIR {workdir}")

    def cmd_onbuild(self, ins: Instruction, line: int) -> None:
        self.config["OnBuild"] = list(self.config.get("OnBuild") or []) + [ins.value]
        self._commit_nop(f"ONBUILD {ins.value}")

    # -- ADD -----------------------------------------------------------------------------------

    def _add_url(self, url: str, dest: str) -> None:
        name = ctxfiles.url_filename(url)
        if dest.endswith("/") and not name:
            raise DockerError(f"cannot determine filename from url: {url}")
        got = self.context.download(url)
        name = name or "download"
        key = f"url:{_sha256_text(name + chr(0) + got.sha256)}"
        self._commit_layer(key, dest, lambda root: add_download(root, got, dest, name))

    def _add_local(self, src: str, dest: str) -> None:
        context = self.context
        rel = context.resolve(src)
        # The name as written: `ADD link /dir/` makes /dir/link, whatever the symlink points at.
        name = posixpath.basename(posixpath.normpath(src))
        key = context.checksum(rel, name)
        self._commit_layer(key, dest, lambda root: add_from_context(root, context, rel, dest, name))

    def _commit_layer(self, key: str, dest: str, fill: Callable[[str], int], verb: str = "ADD") -> None:
        """A new image whose layer `fill` writes, given the layer's mounted root; cached by `key`."""
        step_config = self._step_config(["/bin/sh", "-c", f"#(nop) {verb} {key} in {dest}"])
        if self._probe_cache(step_config):
            return
        layers = self.layers

        def write_layer(layer_id: str) -> int:
            root = layers.get(layer_id)
            try:
                return fill(root)
            finally:
                layers.put(layer_id)

        image = self.images.create(
            parent=self.image,
            author=self.maintainer,
            config=self._image_config(),
            container_config=step_config,
            fill=write_layer,
        )
        self._now_at(image)

    # -- steps ---------------------------------------------------------------------------------

    def _step_config(self, cmd: list[str]) -> dict[str, Any]:
        config = copy.deepcopy(self.config)
        config["Cmd"] = list(cmd)
        config["Image"] = self.image
        return config

    def _image_config(self) -> dict[str, Any]:
        config = copy.deepcopy(self.config)
        config["Image"] = self.image
        return config

    def _probe_cache(self, step_config: dict[str, Any]) -> bool:
        if self.cache is None:
            return False
        hit = self.cache.lookup(self.image, step_config, self.maintainer)
        if hit is None:
            return False
        self.out(" ---> Using cache\n")
        self.image = hit.id
        return True

    def _now_at(self, image: Image) -> None:
        self.image = image.id
        if self.cache is not None:
            self.cache.add(image)

    def _commit_nop(self, comment: str) -> None:
        step_config = self._step_config(["/bin/sh", "-c", "#(nop) " + comment])
        if self._probe_cache(step_config):
            return
        image = self.images.create(
            parent=self.image,
            author=self.maintainer,
            config=self._image_config(),
            container_config=step_config,
        )
        self._now_at(image)

    def _create_container(self, step_config: dict[str, Any]) -> ContainerRef:
        c, warnings = self.runner.create(copy.deepcopy(step_config))
        self.containers.append(c)
        for warning in warnings:
            self.out(f" ---> [Warning] {warning}\n")
        self.out(f" ---> Running in {c.id[:12]}\n")
        return c

    def _run(self, c: ContainerRef, cmd: list[str]) -> None:
        if not self.verbose:
            code = self.runner.run(c, None)
        elif self.color_stderr:
            # Later Dockers show a RUN's standard error in red, each write wrapped.
            code = self.runner.run(c, self.out, lambda text: self.out(f"\x1b[91m{text}\x1b[0m"))
        else:
            code = self.runner.run(c, self.out)
        if code != 0:
            raise RunFailed(cmd, code, self.quoted_errors)

    def _commit_container(self, c: ContainerRef, step_config: dict[str, Any]) -> None:
        image = self.runner.commit(
            c,
            parent=self.image,
            author=self.maintainer,
            config=self._image_config(),
            container_config=step_config,
        )
        self._now_at(image)

    def _substitute(self, text: str) -> str:
        """`$NAME` and `${NAME}` from the ENV set so far and the build arguments in effect (ENV
        winning; unknown names stay as written; `\\$` is a $)."""
        if "$" not in text:
            return text
        env = self.args.values()
        env.update(e.split("=", 1) for e in self.config.get("Env") or [] if "=" in e)

        def replace(m: re.Match[str]) -> str:
            if m.group(0) == "\\$":
                return "$"
            name = m.group(1) or m.group(2)
            return env.get(name, m.group(0))

        return _VARIABLE.sub(replace, text)


def _sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
