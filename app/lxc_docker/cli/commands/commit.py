"""`docker commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]`: a new image from a container's changes."""

from __future__ import annotations

from ... import jsonlite, reference
from ..main import CommandError


def flags(cli):
    fs = cli.flags(
        "commit", "[OPTIONS] CONTAINER [REPOSITORY[:TAG]]", "Create a new image from a container's changes"
    )
    fs.string(["m", "-message"], "", "Commit message")
    fs.string(["a", "#author", "-author"], "", 'Author (eg. "John Hannibal Smith <hannibal@a-team.com>"')
    fs.string(
        ["#run", "-run"],
        "",
        "Config automatically applied when the image is run. "
        """(ex: -run='{"Cmd": ["cat", "/world"], "PortSpecs": ["22"]}')""",
    )
    return fs


def run(cli, args: list[str]) -> int:
    opts, rest = cli.parse(flags(cli), args, 1, 3)
    name = rest[0]
    repo, tag = "", ""
    if len(rest) == 3:
        cli.err.write(
            "[DEPRECATED] The format 'CONTAINER [REPOSITORY [TAG]]' as been deprecated. "
            "Please use CONTAINER [REPOSITORY[:TAG]]\n"
        )
        repo, tag = rest[1], rest[2]
    elif len(rest) == 2:
        repo, tag = reference.split_tag(rest[1])
    if repo:
        try:
            reference.validate_repo(reference.normalize_repo(repo))
            if tag:
                reference.validate_tag(tag)
        except ValueError as e:
            raise CommandError(str(e)) from None
    config = None
    if opts.run:
        try:
            config = jsonlite.loads(opts.run)
        except ValueError as e:
            raise CommandError(f"invalid --run configuration: {e}") from None
        if not isinstance(config, dict):
            raise CommandError("invalid --run configuration: expected a JSON object")
    # The message goes as `m` (the v1.9 documentation) and `comment` (what Docker's daemons read);
    # the --run config as `run` (v1.9 documentation) and as the JSON body (Docker's own client).
    query = {
        "container": name,
        "repo": repo,
        "tag": tag,
        "m": opts.message or None,
        "comment": opts.message or None,
        "author": opts.author or None,
        "run": opts.run or None,
    }
    result = cli.client.json("POST", "/commit", query, json_body=config) or {}
    cli.out.write(f"{result.get('Id', '')}\n")
    return 0
