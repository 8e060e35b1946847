"""`docker inspect [-f FORMAT] NAME...`: low-level JSON of containers or images."""

from __future__ import annotations

from ...client.api import ApiError


def flags(cli):
    fs = cli.flags(
        "inspect",
        "CONTAINER|IMAGE [CONTAINER|IMAGE...]",
        "Return low-level information on a container or image",
    )
    fs.string(["f", "#format", "-format"], "", "Format the output using the given go template.")
    return fs


def run(cli, args: list[str]) -> int:
    opts, rest = cli.parse(flags(cli), args, 1)
    template = None
    if opts.format:
        from ...template import TemplateError, parse

        try:
            template = parse(opts.format)
        except TemplateError as e:
            cli.err.write(f"Template parsing error: {e}\n")
            return 1
    results = []
    status = 0
    for name in rest:
        doc = _inspect_one(cli, name)
        if doc is None:
            cli.err.write(f"Error: No such image or container: {name}\n")
            status = 1
            continue
        if template is not None:
            from ...template import TemplateError

            try:
                cli.out.write(template.execute(doc) + "\n")
            except TemplateError as e:
                cli.err.write(f"{e}\n")
                return 1
        else:
            results.append(doc)
    if template is None and (results or status == 0):
        import json

        cli.out.write(json.dumps(results, indent=4) + "\n")
    return status


def _inspect_one(cli, name: str):
    for path in (f"/containers/{name}/json", f"/images/{name}/json"):
        try:
            return cli.client.json("GET", path)
        except ApiError as e:
            if e.status != 404:
                raise
    return None
