"""Dockerfile syntax: lines into instructions, each with its arguments checked and parsed.

The whole file is parsed before the first step runs, so a typo on the last line fails the build
before any container is made. Every error names the line it comes from.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidParameter

INSTRUCTIONS = (
    "FROM",
    "MAINTAINER",
    "RUN",
    "CMD",
    "EXPOSE",
    "ENV",
    "ADD",
    "ENTRYPOINT",
    "VOLUME",
    "USER",
    "WORKDIR",
    "ONBUILD",
    "LABEL",
    # Docker 1.x's, parsed in syntax.py.
    "COPY",
    "ARG",
    "STOPSIGNAL",
    "SHELL",
    "HEALTHCHECK",
)
# Triggers run right after a downstream FROM; these would make no sense there (Docker 0.9's rules).
FORBIDDEN_TRIGGERS = {
    "ONBUILD": "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed",
    "FROM": "FROM isn't allowed as an ONBUILD trigger",
    "MAINTAINER": "MAINTAINER isn't allowed as an ONBUILD trigger",
}


class DockerfileError(InvalidParameter):
    """A mistake in the Dockerfile (or in the step it describes), reported with its line."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"Dockerfile line {line}: {message}" if line else message)
        self.line = line
        self.detail = message


@dataclass
class Instruction:
    line: int
    name: str  # upper case
    args: str  # as written, continuations joined
    value: Any = None  # parsed arguments, by instruction (see _parse_args)
    json_form: bool = False
    trigger: Instruction | None = field(default=None, repr=False)  # ONBUILD's instruction

    def __str__(self) -> str:
        return f"{self.name} {self.args}"


def parse(text: str | bytes) -> list[Instruction]:
    """All instructions of a Dockerfile; raises DockerfileError for the first mistake."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    text = text.removeprefix("\ufeff")
    instructions = [parse_line(line, number) for number, line in logical_lines(text)]
    if not instructions:
        raise DockerfileError(0, "Dockerfile cannot be empty")
    first = instructions[0]
    if first.name != "FROM":
        raise DockerfileError(first.line, f"the first instruction must be FROM, not {first.name}")
    return instructions


def logical_lines(text: str) -> list[tuple[int, str]]:
    """(first line number, text) of each instruction: comments dropped, continuations joined.

    Only a `#` that begins a line starts a comment; comment lines inside a continuation are dropped
    too, as Docker 0.9 removed comments before joining lines.
    """
    result: list[tuple[int, str]] = []
    parts: list[str] = []
    start = 0
    for number, raw in enumerate(text.split("\n"), 1):
        line = raw.rstrip("\r")
        stripped = line.strip()
        if stripped.startswith("#"):
            continue
        if not stripped:
            continue  # blank lines end nothing: Docker 0.9 let continuations run across them
        if not parts:
            start = number
        if stripped.endswith("\\"):
            parts.append(stripped[:-1].strip())
            continue
        parts.append(stripped)
        joined = " ".join(p for p in parts if p)
        parts = []
        if joined:
            result.append((start, joined))
    if parts:  # a continuation on the last line
        joined = " ".join(p for p in parts if p)
        if joined:
            result.append((start, joined))
    return result


def parse_line(text: str, line: int) -> Instruction:
    parts = text.strip().split(None, 1)
    word = parts[0] if parts else ""
    name = word.upper()
    args = parts[1].strip() if len(parts) > 1 else ""
    if name == "INSERT":
        raise DockerfileError(line, "INSERT has been deprecated. Please use ADD instead")
    if name not in INSTRUCTIONS:
        raise DockerfileError(line, f"Unknown instruction: {word}")
    if not args:
        raise DockerfileError(line, f"{name} requires at least one argument")
    ins = Instruction(line, name, args)
    _parse_args(ins)
    return ins


def parse_trigger(text: str, line: int) -> Instruction:
    """An ONBUILD trigger as stored in an image, checked as Docker 0.9 did before running it."""
    word = text.strip().split(None, 1)[0].upper() if text.strip() else ""
    if word == "ONBUILD":
        raise DockerfileError(
            line, f"Source image contains forbidden chained `ONBUILD ONBUILD` trigger: {text}"
        )
    if word in FORBIDDEN_TRIGGERS:
        raise DockerfileError(line, f"Source image contains forbidden {word} trigger: {text}")
    return parse_line(text, line)


# -- arguments ---------------------------------------------------------------------------------


def _parse_args(ins: Instruction) -> None:
    name, args, line = ins.name, ins.args, ins.line
    if name == "FROM":
        if len(args.split()) != 1:
            raise DockerfileError(line, f"FROM requires exactly one argument (an image name): {args}")
        ins.value = args
    elif name in ("MAINTAINER", "USER", "WORKDIR"):
        ins.value = args
    elif name in ("RUN", "CMD", "ENTRYPOINT"):
        array = json_array(args, name, line)
        ins.json_form = array is not None
        if array is None:
            array = ["/bin/sh", "-c", args]
        elif not array and name == "RUN":
            raise DockerfileError(line, "RUN requires a command: the JSON array is empty")
        ins.value = array
    elif name == "EXPOSE":
        ins.value = [_port(p, line) for p in args.split()]
    elif name == "ENV":
        ins.value = _env(args, line)
    elif name == "ADD":
        parts = args.split(None, 1)
        if len(parts) != 2:
            raise DockerfileError(line, f"ADD requires a source and a destination: ADD {args}")
        ins.value = (parts[0], parts[1].strip())
    elif name == "VOLUME":
        array = json_array(args, name, line)
        ins.json_form = array is not None
        paths = array if array is not None else args.split()
        if not paths:
            raise DockerfileError(line, "VOLUME requires at least one path")
        for p in paths:
            if not p.startswith("/"):
                raise DockerfileError(line, f"VOLUME paths must be absolute: {p!r}")
        ins.value = paths
    elif name == "LABEL":
        ins.value = label_pairs(args, line)
    elif name == "ONBUILD":
        word = args.split(None, 1)[0].upper()
        if word in FORBIDDEN_TRIGGERS:
            raise DockerfileError(line, FORBIDDEN_TRIGGERS[word])
        ins.trigger = parse_line(args, line)
        ins.value = args
    else:
        from . import syntax  # it builds on this module's helpers

        syntax.parse_args(ins)


def json_array(args: str, name: str, line: int) -> list[str] | None:
    """The exec form `["a", "b"]`, or None for the shell form.

    Text that opens like an array (`[` then a quote or `]`) must be one: a typo there would
    otherwise run `/bin/sh -c '["echo", hi]'`, which fails far from its cause. `[ -f x ]` stays a
    shell command.
    """
    text = args.strip()
    if not text.startswith("[") or not text[1:].lstrip().startswith(('"', "]")):
        return None
    try:
        value = json.loads(text)
    except ValueError as e:
        raise DockerfileError(line, f"{name}: malformed JSON array ({e}): {text}") from None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise DockerfileError(line, f"{name}: the JSON array must hold only strings: {text}")
    return value


def _port(spec: str, line: int) -> str:
    port, _, proto = spec.partition("/")
    proto = proto.lower() or "tcp"
    if ":" in port:
        raise DockerfileError(line, f"EXPOSE takes container ports only, not host mappings: {spec}")
    if not port.isdigit() or not 0 < int(port) < 65536 or proto not in ("tcp", "udp"):
        raise DockerfileError(line, f"EXPOSE: invalid port {spec!r} (expected PORT or PORT/tcp or PORT/udp)")
    return f"{int(port)}/{proto}"


def _env(args: str, line: int) -> list[tuple[str, str]]:
    first = args.split(None, 1)[0]
    if "=" not in first:
        # Docker 0.9's form: `ENV KEY the rest of the line`, kept verbatim (quotes included).
        parts = args.split(None, 1)
        if len(parts) != 2:
            raise DockerfileError(line, f"ENV requires a name and a value: ENV {args}")
        return [(parts[0], parts[1].strip())]
    # `ENV A=1 B="two words"`: the later form, which `docker commit --change` users also write.
    try:
        words = shlex.split(args, posix=True)
    except ValueError as e:
        raise DockerfileError(line, f"ENV: {e}: {args}") from None
    pairs = []
    for word in words:
        key, eq, value = word.partition("=")
        if not eq or not key:
            raise DockerfileError(line, f"ENV: expected NAME=VALUE, got {word!r}")
        pairs.append((key, value))
    return pairs


def label_pairs(args: str, line: int) -> list[tuple[str, str]]:
    """LABEL's arguments: `a=1 "b c"="d e"` (quotes removed, as Docker's shell-word rules do) or the
    older `LABEL key the value`. Also what `commit --change 'LABEL ...'` sends (line 0)."""
    args = args.strip()
    try:
        words = shlex.split(args, posix=True)
    except ValueError as e:
        raise DockerfileError(line, f"LABEL: {e}: {args}") from None
    if not words:
        raise DockerfileError(line, "LABEL requires at least one argument")
    if "=" not in words[0]:
        key, _, value = args.partition(" ")
        if not value.strip():
            raise DockerfileError(line, f"LABEL requires a name and a value: LABEL {args}")
        return [(key, " ".join(shlex.split(value, posix=True)))]
    pairs = []
    for word in words:
        key, eq, value = word.partition("=")
        if not eq or not key:
            raise DockerfileError(line, f"LABEL: expected KEY=VALUE, got {word!r}")
        pairs.append((key, value))
    return pairs
