"""`docker ps --format` and `docker images --format`: a Go template per row, with today's Docker's
placeholders, or `table TEMPLATE` for aligned columns under a header line.

As Docker's formatter does: a literal `\\t` or `\\n` typed in the shell becomes a tab or a newline;
`table` writes the header by running the same template over the columns' header names, then the
rows, through the tab writer (Docker's `NewWriter(out, 10, 1, 3, ' ', 0)`); without `table` each row
is the template's output and a newline. `table` alone is the command's default table.
"""

from __future__ import annotations

from .formatting import TabWriter, human_size

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

CONTAINER_HEADERS = {
    "ID": "CONTAINER ID",
    "Image": "IMAGE",
    "Command": "COMMAND",
    "CreatedAt": "CREATED AT",
    "RunningFor": "CREATED",
    "Ports": "PORTS",
    "Status": "STATUS",
    "Names": "NAMES",
    "Labels": "LABELS",
    "Size": "SIZE",
    "Mounts": "MOUNTS",
}
CONTAINER_TABLE = (
    "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"
)

IMAGE_HEADERS = {
    "ID": "IMAGE ID",
    "Repository": "REPOSITORY",
    "Tag": "TAG",
    "Digest": "DIGEST",
    "CreatedSince": "CREATED",
    "CreatedAt": "CREATED AT",
    "Size": "SIZE",
}
IMAGE_TABLE = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"


class FormatError(Exception):
    """The template does not parse or fails on a row; str() is Docker's wording."""


class Fields(dict):
    """A row's placeholders. Docker's rows are Go structs, so a misspelt `{{.Nmes}}` is an error there,
    not the `<no value>` of a map: the template engine looks fields up with get(), which refuses."""

    kind = "Context"

    def get(self, name: str, default: object = None) -> object:
        if name not in self:
            from ..template import TemplateError

            raise TemplateError(f"can't evaluate field {name} in type *formatter.{self.kind}")
        return dict.__getitem__(self, name)


class ContainerFields(Fields):
    kind = "ContainerContext"


class ImageFields(Fields):
    kind = "ImageContext"


def go_time(epoch: float) -> str:
    """Go's time.Time.String() in local time: `2014-03-31 11:25:03 +0200 CEST`."""
    from datetime import datetime

    stamp = datetime.fromtimestamp(epoch).astimezone()
    return stamp.strftime("%Y-%m-%d %H:%M:%S %z ") + (stamp.tzname() or "")


def _ago(now: float, epoch: float) -> str:
    from ..timeutil import human_duration

    return human_duration(now - epoch) + " ago"


def container_fields(c: dict[str, Any], *, trunc: bool, now: float) -> ContainerFields:
    from .commands.ps import display_command, display_ports

    names = [n[1:] if n.startswith("/") else n for n in c.get("Names") or ()]
    if trunc:
        # A name with a slash is a link's alias in another container (/web/db); Docker hides those.
        names = [n for n in names if "/" not in n] or names[:1]
    size = ""
    if "SizeRw" in c:
        size = human_size(c.get("SizeRw") or 0)
        if (c.get("SizeRootFs") or 0) > 0:
            size += f" (virtual {human_size(c['SizeRootFs'])})"
    mounts = []
    for m in c.get("Mounts") or ():
        name = m.get("Name") or m.get("Source") or ""
        mounts.append(name[:15] + "…" if trunc and len(name) > 16 else name)
    labels = c.get("Labels") or {}
    created = c.get("Created") or 0
    return ContainerFields(
        {
            "ID": c["Id"][:12] if trunc else c["Id"],
            "Image": c.get("Image", ""),
            "Command": display_command(c.get("Command") or "", not trunc),
            "CreatedAt": go_time(created),
            "RunningFor": _ago(now, created),
            "Ports": display_ports(c.get("Ports")),
            "Status": c.get("Status", ""),
            "Names": ",".join(names),
            "Labels": ",".join(f"{k}={v}" for k, v in sorted(labels.items())),
            "Size": size,
            "Mounts": ",".join(mounts),
        }
    )


def image_fields(img: dict[str, Any], repo: str, tag: str, *, trunc: bool, now: float) -> ImageFields:
    image_id = img["Id"]
    if trunc:
        image_id = image_id.removeprefix("sha256:")[:12]
    digests = [d.partition("@")[2] for d in img.get("RepoDigests") or () if d.startswith(repo + "@")]
    created = img.get("Created") or 0
    return ImageFields(
        {
            "ID": image_id,
            "Repository": repo,
            "Tag": tag,
            "Digest": digests[0] if digests else "<none>",
            "CreatedSince": _ago(now, created),
            "CreatedAt": go_time(created),
            "Size": human_size(img.get("VirtualSize", img.get("Size", 0)) or 0),
        }
    )


def render(text: str, rows: list[Fields], headers: dict[str, str], default_table: str) -> str:
    """The output of `--format text` over rows; raises FormatError."""
    from ..template import TemplateError, parse

    if text.strip() == "table":
        text = default_table
    table = text.startswith("table")
    if table:
        text = text[len("table") :]
    text = text.strip(" ").replace("\\t", "\t").replace("\\n", "\n")
    try:
        template = parse(text)
    except TemplateError as e:
        raise FormatError(f"Template parsing error: {e}") from None
    try:
        lines = [template.execute(row) + "\n" for row in rows]
        if not table:
            return "".join(lines)
        writer = TabWriter(minwidth=10)
        writer.write(template.execute(type(rows[0])(headers) if rows else Fields(headers)) + "\n")
        for line in lines:
            writer.write(line)
        return writer.flush()
    except TemplateError as e:
        raise FormatError(f"Template parsing error: {e}") from None


def print_formatted(
    cli: Any, text: str, rows: list[Fields], headers: dict[str, str], default_table: str
) -> int:
    """Write the formatted rows to the command's output; a bad template is Docker's message and exit 1."""
    try:
        output = render(text, rows, headers, default_table)
    except FormatError as e:
        cli.err.write(f"{e}\n")
        return 1
    cli.out.write(output)
    return 0
