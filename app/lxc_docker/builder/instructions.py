"""The instructions Docker added after 0.9, up to Docker 1.12 (API 1.24): COPY, ARG, STOPSIGNAL,
SHELL and HEALTHCHECK, and what SHELL and ARG change in RUN, CMD and ENTRYPOINT. A mixin of
`Builder`, which supplies the step machinery (`_commit_nop`, `_commit_layer`, `_substitute`...).
"""

from __future__ import annotations

import hashlib
import posixpath
import re
import signal
from typing import TYPE_CHECKING, Any

from ..archive import dockerignore
from ..errors import DockerError
from . import context as ctxfiles
from .layerwrite import add_from_context
from .parser import Instruction

if TYPE_CHECKING:
    from .builder import Builder

DEFAULT_SHELL = ["/bin/sh", "-c"]
_WILDCARD = re.compile(r"[*?\[]")


class NewerInstructions:
    def shell_command(self: Builder, ins: Instruction) -> list[str]:
        """RUN's, CMD's or ENTRYPOINT's command: the JSON form as written, else the line given to
        the shell SHELL set (`/bin/sh -c` by default)."""
        if ins.json_form:
            return list(ins.value)
        return list(self.config.get("Shell") or DEFAULT_SHELL) + [ins.args]

    def run_configs(self: Builder, cmd: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
        """(the config RUN records and looks up in the cache, the config its container runs with):
        the build arguments in effect are the recorded command's `|N a=b` prefix and the running
        container's environment, never the image's Env."""
        step_config = self._step_config(cmd)
        env = self.config.get("Env") or []
        prefix = self.args.run_prefix(env)
        if not prefix:
            return step_config, step_config
        run_config = dict(step_config)
        run_config["Env"] = list(env) + prefix[1:]
        step_config["Cmd"] = prefix + list(cmd)
        return step_config, run_config

    # -- instructions --------------------------------------------------------------------------

    def cmd_arg(self: Builder, ins: Instruction, line: int) -> None:
        name, default = ins.value
        if default is not None:
            default = self._substitute(default)
        self.args.declare(name, default)
        self._commit_nop(f"ARG {name}" + ("" if default is None else f"={default}"))

    def cmd_stopsignal(self: Builder, ins: Instruction, line: int) -> None:
        value = self._substitute(ins.value)
        check_signal(value)
        self.config["StopSignal"] = value
        self._commit_nop(f"STOPSIGNAL [{value}]")

    def cmd_shell(self: Builder, ins: Instruction, line: int) -> None:
        self.config["Shell"] = list(ins.value)
        self._commit_nop(f"SHELL [{' '.join(ins.value)}]")

    def cmd_healthcheck(self: Builder, ins: Instruction, line: int) -> None:
        health = dict(ins.value)
        old = self.config.get("Healthcheck")
        if old and old.get("Test") and health["Test"] != ["NONE"]:
            self.out(f"Note: overriding previous HEALTHCHECK: {old['Test']}\n")
        self.config["Healthcheck"] = health
        self._commit_nop(f"HEALTHCHECK {ins.args}")

    def cmd_copy(self: Builder, ins: Instruction, line: int) -> None:
        patterns, dest = ins.value
        patterns = [self._substitute(p) for p in patterns]
        dest = self._substitute(dest)
        for p in patterns:
            if ctxfiles.is_url(p):
                raise DockerError("Source can't be a URL for COPY")
        sources: list[tuple[bytes, str]] = []
        for p in patterns:
            sources.extend(self.context_sources(p))
        if len(sources) > 1 and not dest.endswith("/"):
            raise DockerError(
                "When using COPY with more than one source file, "
                "the destination must be a directory and end with a /"
            )
        dest = self.in_workdir(dest)
        context = self.context
        keys = [context.checksum(rel, name) for rel, name in sources]
        key = keys[0] if len(keys) == 1 else "multi:" + hashlib.sha256("\n".join(keys).encode()).hexdigest()

        def fill(root: str) -> int:
            return sum(
                add_from_context(root, context, rel, dest, name, unpack=False) for rel, name in sources
            )

        self._commit_layer(key, dest, fill, verb="COPY")

    # -- helpers -------------------------------------------------------------------------------

    def context_sources(self: Builder, pattern: str) -> list[tuple[bytes, str]]:
        """(context entry, name in the image) of each path a COPY source names: itself, or every
        path its wildcards match (`*` and `?` within one component, as Go's filepath.Match)."""
        context = self.context
        if not _WILDCARD.search(pattern):
            return [(context.resolve(pattern), posixpath.basename(posixpath.normpath(pattern)))]
        if context.entries is None:
            context.resolve(pattern)  # raises: no context
        try:
            regex = dockerignore.compile_pattern(dockerignore.clean(pattern))
        except ValueError as e:
            raise DockerError(str(e)) from None
        found = []
        for name in context.names():
            text = name.decode("utf-8", "surrogateescape")
            if regex.match(text):
                found.append((context.resolve(text), posixpath.basename(text)))
        if not found:
            raise DockerError(f"No source files were specified: {pattern}")
        return found

    def in_workdir(self: Builder, dest: str) -> str:
        """A relative destination is relative to WORKDIR (a trailing / kept: it means a directory)."""
        if dest.startswith("/"):
            return dest
        joined = posixpath.join(self.config.get("WorkingDir") or "/", dest)
        return joined if joined.endswith("/") or not dest.endswith("/") else joined + "/"


def check_signal(value: str) -> None:
    """A signal as Docker's ParseSignal takes it: a number or a name, with or without SIG."""
    text = value.upper()
    if text.isdigit():
        if 0 < int(text) < signal.NSIG:
            return
    elif (text if text.startswith("SIG") else "SIG" + text) in signal.Signals.__members__:
        return
    raise DockerError(f"Invalid signal: {value}")
