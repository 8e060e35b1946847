"""`docker volume create|ls|inspect|rm`: named volumes (API 1.21+), in Docker 1.12's words and output."""

from __future__ import annotations

import json
import sys

from ...client.api import ApiError
from ...mflag import HelpRequested
from ..filterflag import add_filter_flag, filters_query
from ..formatting import TabWriter
from ..main import CommandError, UsageError

SUBCOMMANDS = {
    "create": "Create a volume",
    "inspect": "Display detailed information on one or more volumes",
    "ls": "List volumes",
    "rm": "Remove one or more volumes",
}
ALIASES = {"list": "ls", "remove": "rm"}


def flags(cli):
    fs = cli.flags("volume", "COMMAND", "Manage Docker volumes")
    return fs


def usage() -> str:
    lines = ["\nUsage: docker volume COMMAND\n\nManage Docker volumes\n\nCommands:\n"]
    lines += [f"  {name:<10}{text}\n" for name, text in SUBCOMMANDS.items()]
    return "".join(lines)


def run(cli, args: list[str]) -> int:
    if not args or args[0] in ("-h", "--help", "help"):
        (cli.out if args else cli.err).write(usage())
        return 0 if args else 1
    name = ALIASES.get(args[0], args[0])
    if name not in SUBCOMMANDS:
        cli.err.write(f"docker: 'volume {args[0]}' is not a docker command.\n{usage()}")
        return 1
    make, action = _COMMANDS[name]
    fs = make(cli)
    try:
        return action(cli, fs, args[1:])
    except HelpRequested:
        sys.stdout.write(fs.usage())
        return 0


def _create_flags(cli):
    fs = cli.flags("volume create", "[OPTIONS] [VOLUME]", "Create a volume")
    fs.string(["d", "-driver"], "local", "Specify volume driver name")
    fs.string(["-name"], "", "Specify volume name")
    fs.list(["o", "-opt"], "Set driver specific options")
    fs.list(["-label"], "Set metadata for a volume")
    return fs


def _create(cli, fs, args: list[str]) -> int:
    opts, rest = cli.parse(fs, args, 0, 1)
    name = opts.name
    if rest:
        if name and name != rest[0]:
            raise UsageError(
                fs, "Conflicting options: either specify --name or provide positional arg, not both"
            )
        name = rest[0]
    body = {
        "Name": name,
        "Driver": opts.driver,
        "DriverOpts": _pairs(opts.opt, "opt"),
        "Labels": _pairs(opts.label, "label", value_optional=True),
    }
    doc = cli.client.json("POST", "/volumes/create", json_body=body)
    cli.out.write(doc["Name"] + "\n")
    return 0


def _pairs(values: list[str], what: str, value_optional: bool = False) -> dict[str, str]:
    result = {}
    for value in values:
        key, eq, val = value.partition("=")
        if not key or (not eq and not value_optional):
            raise CommandError(f"invalid {what} {value!r}: expected key=value")
        result[key] = val
    return result


def _ls_flags(cli):
    fs = cli.flags("volume ls", "[OPTIONS]", "List volumes")
    fs.bool(["q", "-quiet"], False, "Only display volume names")
    add_filter_flag(fs, "Provide filter values (i.e. 'dangling=true')")
    return fs


def _ls(cli, fs, args: list[str]) -> int:
    opts, _ = cli.parse(fs, args, 0, 0)
    query = {"filters": filters_query(opts.filter)}
    doc = cli.client.json("GET", "/volumes", query) or {}
    volumes = sorted(doc.get("Volumes") or [], key=lambda v: v["Name"])
    if opts.quiet:
        for v in volumes:
            cli.out.write(v["Name"] + "\n")
        return 0
    table = TabWriter()
    table.write("DRIVER\tVOLUME NAME\n")
    for v in volumes:
        table.write(f"{v.get('Driver', '')}\t{v['Name']}\n")
    cli.out.write(table.flush())
    for warning in doc.get("Warnings") or []:
        cli.err.write(warning + "\n")
    return 0


def _inspect_flags(cli):
    fs = cli.flags(
        "volume inspect", "[OPTIONS] VOLUME [VOLUME...]", "Return low-level information on a volume"
    )
    fs.string(["f", "-format"], "", "Format the output using the given go template")
    return fs


def _inspect(cli, fs, args: list[str]) -> int:
    opts, rest = cli.parse(fs, args, 1)
    template = None
    if opts.format:
        from ...template import TemplateError, parse

        try:
            template = parse(opts.format)
        except TemplateError as e:
            cli.err.write(f"Template parsing error: {e}\n")
            return 1
    docs, status = [], 0
    for name in rest:
        try:
            doc = cli.client.json("GET", f"/volumes/{name}")
        except ApiError as e:
            if e.status != 404:
                raise
            cli.err.write(f"Error: No such volume: {name}\n")
            status = 1
            continue
        if template is None:
            docs.append(doc)
            continue
        from ...template import TemplateError

        try:
            cli.out.write(template.execute(doc) + "\n")
        except TemplateError as e:
            cli.err.write(f"{e}\n")
            return 1
    if template is None and (docs or status == 0):
        cli.out.write(json.dumps(docs, indent=4) + "\n")
    return status


def _rm_flags(cli):
    fs = cli.flags("volume rm", "[OPTIONS] VOLUME [VOLUME...]", "Remove one or more volumes")
    fs.bool(["f", "-force"], False, "Force the removal of one or more volumes")
    return fs


def _rm(cli, fs, args: list[str]) -> int:
    opts, rest = cli.parse(fs, args, 1)
    failed = False
    for name in rest:
        try:
            cli.client.call("DELETE", f"/volumes/{name}", {"force": 1 if opts.force else None}).close()
        except ApiError as e:
            cli.err.write(f"Error response from daemon: {e}\n")
            failed = True
            continue
        cli.out.write(name + "\n")
    return 1 if failed else 0


_COMMANDS = {
    "create": (_create_flags, _create),
    "inspect": (_inspect_flags, _inspect),
    "ls": (_ls_flags, _ls),
    "rm": (_rm_flags, _rm),
}
