"""`docker images`: list images as a table, ids, a tree or a graphviz graph."""

from __future__ import annotations

import time

from ...timeutil import human_duration
from ..filterflag import add_filter_flag, filters_query
from ..formatting import TabWriter, human_size


def flags(cli):
    fs = cli.flags("images", "[OPTIONS] [NAME]", "List images")
    fs.bool(
        ["a", "-all"], False, "Show all images (by default filter out the intermediate images used to build)"
    )
    fs.bool(["#notrunc", "-no-trunc"], False, "Don't truncate output")
    fs.bool(["q", "-quiet"], False, "Only show numeric IDs")
    fs.bool(["t", "#tree", "-tree"], False, "Output graph in tree format")
    fs.bool(["v", "#viz", "-viz"], False, "Output graph in graphviz format")
    add_filter_flag(fs, "Filter output based on conditions provided (e.g. dangling=true, label=x)")
    fs.string(["#format", "-format"], "", "Pretty-print images using a Go template")
    return fs


def run(cli, args: list[str]) -> int:
    opts, rest = cli.parse(flags(cli), args, 0, 1)
    name = rest[0] if rest else ""
    if opts.viz:
        with cli.client.call("GET", "/images/viz") as resp:
            cli.out.write(resp.read().decode())
        return 0
    if opts.tree:
        return _tree(cli, opts, name)
    query = {"all": opts.all or None, "filter": name or None, "filters": filters_query(opts.filter)}
    images = cli.client.json("GET", "/images/json", query)
    now = time.time()
    if opts.quiet:
        for img in images:
            cli.out.write((img["Id"] if opts.no_trunc else img["Id"][:12]) + "\n")
        return 0
    if opts.format:
        from ..listformat import IMAGE_HEADERS, IMAGE_TABLE, image_fields, print_formatted

        rows = [
            image_fields(img, repo, tag, trunc=not opts.no_trunc, now=now)
            for img in images
            for repo, _, tag in (rt.rpartition(":") for rt in img.get("RepoTags") or ["<none>:<none>"])
        ]
        return print_formatted(cli, opts.format, rows, IMAGE_HEADERS, IMAGE_TABLE)
    tw = TabWriter()
    tw.write("REPOSITORY\tTAG\tIMAGE ID\tCREATED\tVIRTUAL SIZE\n")
    for img in images:
        image_id = img["Id"] if opts.no_trunc else img["Id"][:12]
        for repo_tag in img.get("RepoTags") or ["<none>:<none>"]:
            repo, _, tag = repo_tag.rpartition(":")
            created = human_duration(now - img.get("Created", 0)) + " ago"
            tw.write(f"{repo}\t{tag}\t{image_id}\t{created}\t{human_size(img.get('VirtualSize', 0))}\n")
    cli.out.write(tw.flush())
    return 0


def _tree(cli, opts, name: str) -> int:
    images = cli.client.json("GET", "/images/json", {"all": 1})
    by_parent: dict[str, list[dict]] = {}
    ids = {img["Id"] for img in images}
    for img in images:
        parent = img.get("ParentId") or ""
        by_parent.setdefault(parent if parent in ids else "", []).append(img)
    roots = by_parent.get("", [])
    if name:
        start = [
            i
            for i in images
            if name in i.get("RepoTags", [])
            or f"{name}:latest" in i.get("RepoTags", [])
            or i["Id"].startswith(name)
        ]
        if not start:
            cli.err.write(f"Error: No such image: {name}\n")
            return 1
        roots = start
    lines: list[str] = []

    def walk(nodes: list[dict], prefix: str) -> None:
        nodes = sorted(nodes, key=lambda i: i.get("Created", 0))
        for n, img in enumerate(nodes):
            kids = by_parent.get(img["Id"], [])
            image_id = img["Id"] if opts.no_trunc else img["Id"][:12]
            branch = "└─" if n == len(nodes) - 1 else "├─"
            line = f"{prefix}{branch}{image_id} Virtual Size: {human_size(img.get('VirtualSize', 0))}"
            tags = [t for t in img.get("RepoTags") or [] if t != "<none>:<none>"]
            if tags:
                line += " Tags: " + ", ".join(tags)
            lines.append(line)
            walk(kids, prefix + ("  " if n == len(nodes) - 1 else "│ "))

    walk(roots, "")
    cli.out.write("".join(line + "\n" for line in lines))
    return 0
