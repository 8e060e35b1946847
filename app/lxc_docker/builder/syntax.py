"""Arguments of the instructions Docker added after 0.9 (up to Docker 1.12, API 1.24): COPY, ARG,
STOPSIGNAL, SHELL and HEALTHCHECK. `parser.py` calls `parse_args` for these names.

Flags are written `--name=value`, as Docker's builder flags are; a flag Docker 1.12 did not have
(`COPY --chown`, `HEALTHCHECK --start-period`) is refused with Docker 1.12's "Unknown flag".
"""

from __future__ import annotations

import re
import shlex
from typing import Any

from .parser import DockerfileError, Instruction, json_array

NAMES = ("COPY", "ARG", "STOPSIGNAL", "SHELL", "HEALTHCHECK")

_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_UNIT_NS = {"ns": 1, "us": 1000, "µs": 1000, "μs": 1000, "ms": 10**6, "s": 10**9}
_UNIT_NS.update(m=60 * 10**9, h=3600 * 10**9)
_ARG_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def parse_args(ins: Instruction) -> None:
    {
        "COPY": _copy,
        "ARG": _arg,
        "STOPSIGNAL": _stopsignal,
        "SHELL": _shell,
        "HEALTHCHECK": _healthcheck,
    }[ins.name](ins)


def split_flags(args: str, allowed: tuple[str, ...], name: str, line: int) -> tuple[dict[str, str], str]:
    """Leading `--flag=value` words of `args` and the rest of the line."""
    flags: dict[str, str] = {}
    rest = args.strip()
    while rest.startswith("--"):
        word, _, after = rest.partition(" ")
        if word == "--":
            rest = after.strip()
            break
        key, eq, value = word[2:].partition("=")
        if key not in allowed:
            raise DockerfileError(line, f"Unknown flag: {key}")
        if not eq:
            raise DockerfileError(line, f"Missing a value on flag: {word}")
        if key in flags:
            raise DockerfileError(line, f"Duplicate flag specified: {key}")
        flags[key] = value
        rest = after.strip()
    return flags, rest


def _copy(ins: Instruction) -> None:
    _, rest = split_flags(ins.args, (), "COPY", ins.line)
    array = json_array(rest, "COPY", ins.line)
    ins.json_form = array is not None
    words = array if array is not None else rest.split()
    if len(words) < 2:
        raise DockerfileError(ins.line, "COPY requires at least two arguments")
    ins.value = (words[:-1], words[-1])


def _arg(ins: Instruction) -> None:
    try:
        words = shlex.split(ins.args, posix=True)
    except ValueError as e:
        raise DockerfileError(ins.line, f"ARG: {e}: {ins.args}") from None
    if len(words) != 1:
        raise DockerfileError(ins.line, "ARG requires exactly one argument definition")
    name, eq, default = words[0].partition("=")
    if not _ARG_NAME.match(name):
        raise DockerfileError(ins.line, f"ARG names can not be blank or hold {name!r}")
    ins.value = (name, default if eq else None)


def _stopsignal(ins: Instruction) -> None:
    words = ins.args.split()
    if len(words) != 1:
        raise DockerfileError(ins.line, "STOPSIGNAL requires exactly one argument")
    ins.value = words[0]


def _shell(ins: Instruction) -> None:
    array = json_array(ins.args, "SHELL", ins.line)
    if array is None:
        raise DockerfileError(ins.line, "SHELL requires the arguments to be in JSON form")
    if not array:
        raise DockerfileError(ins.line, "SHELL requires at least one argument")
    ins.json_form = True
    ins.value = array


def _healthcheck(ins: Instruction) -> None:
    flags, rest = split_flags(ins.args, ("interval", "timeout", "retries"), "HEALTHCHECK", ins.line)
    kind, _, command = rest.partition(" ")
    kind, command = kind.upper(), command.strip()
    if kind == "NONE":
        if command or flags:
            raise DockerfileError(ins.line, "HEALTHCHECK NONE takes no arguments")
        ins.value = {"Test": ["NONE"]}
        return
    if kind != "CMD":
        raise DockerfileError(ins.line, f'Unknown type "{kind}" in HEALTHCHECK (try CMD)')
    if not command:
        raise DockerfileError(ins.line, "Missing command after HEALTHCHECK CMD")
    array = json_array(command, "HEALTHCHECK", ins.line)
    ins.json_form = array is not None
    if array is not None:
        if not array:
            raise DockerfileError(ins.line, "Missing command after HEALTHCHECK CMD")
        test = ["CMD", *array]
    else:
        test = ["CMD-SHELL", command]
    health: dict[str, Any] = {"Test": test}
    for key, field in (("interval", "Interval"), ("timeout", "Timeout")):
        if key in flags:
            value = parse_duration(flags[key], ins.line, key)
            if value <= 0:
                raise DockerfileError(ins.line, f'Interval "{key}" must be positive')
            health[field] = value
    if "retries" in flags:
        try:
            retries = int(flags["retries"])
        except ValueError:
            raise DockerfileError(ins.line, f"--retries: invalid number {flags['retries']!r}") from None
        if retries < 1:
            raise DockerfileError(ins.line, f"--retries must be at least 1 (not {retries})")
        health["Retries"] = retries
    ins.value = health


def parse_duration(text: str, line: int = 0, flag: str = "") -> int:
    """A Go duration (`30s`, `1m30s`, `1.5h`, `500ms`, `0`) in nanoseconds."""
    where = f"--{flag}: " if flag else ""
    body = text[1:] if text[:1] in "+-" else text
    if body == "0":
        return 0
    total, pos = 0.0, 0
    for m in _DURATION_PART.finditer(body):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNIT_NS[m.group(2)]
        pos = m.end()
    if not body or pos != len(body):
        raise DockerfileError(line, f"{where}time: invalid duration {text}")
    return -int(total) if text.startswith("-") else int(total)
