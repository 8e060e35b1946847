"""`ps --format` / `images --format` (issue 11, item 8): placeholders, `table`, literal `\\t`, errors;
and the daemon's rule that an image id in several repositories is deleted only with force."""

from __future__ import annotations

import time

import pytest

from lxc_docker.cli.listformat import (
    CONTAINER_HEADERS,
    CONTAINER_TABLE,
    IMAGE_HEADERS,
    IMAGE_TABLE,
    FormatError,
    container_fields,
    go_time,
    image_fields,
    render,
)
from lxc_docker.daemon.events import EventBus
from lxc_docker.daemon.images import ImageService
from lxc_docker.errors import Conflict
from lxc_docker.image.tags import TagStore

NOW = 1_700_000_000.0
CID = "4c01db0b339c" + "ab" * 26
IID = "48b87b8386ac" + "cd" * 26

CONTAINER = {
    "Id": CID,
    "Image": "busybox:latest",
    "Command": "sleep 600",
    "Created": int(NOW) - 300,
    "Status": "Up 5 minutes",
    "Ports": [{"IP": "0.0.0.0", "PublicPort": 49153, "PrivatePort": 80, "Type": "tcp"}],
    "Names": ["/web", "/app/web_alias"],
    "Labels": {"b": "2", "a": "1"},
    "SizeRw": 12,
    "SizeRootFs": 2_000_000,
}
IMAGE = {"Id": "sha256:" + IID, "Created": int(NOW) - 7200, "VirtualSize": 1_982_000, "RepoDigests": []}


def test_container_placeholders():
    row = container_fields(CONTAINER, trunc=True, now=NOW)
    out = render(
        "{{.ID}}|{{.Image}}|{{.Command}}|{{.RunningFor}}|{{.Status}}|{{.Ports}}|{{.Names}}|{{.Labels}}|{{.Size}}",
        [row],
        CONTAINER_HEADERS,
        CONTAINER_TABLE,
    )
    assert out == (
        f'{CID[:12]}|busybox:latest|"sleep 600"|5 minutes ago|Up 5 minutes|0.0.0.0:49153->80/tcp|web|a=1,b=2|'
        "12 B (virtual 2 MB)\n"
    )
    full = container_fields(CONTAINER, trunc=False, now=NOW)
    assert (
        render("{{.ID}} {{.Names}}", [full], CONTAINER_HEADERS, CONTAINER_TABLE)
        == f"{CID} web,app/web_alias\n"
    )


def test_created_at_is_gos_time_string():
    text = go_time(NOW)
    assert time.strptime(text[:19], "%Y-%m-%d %H:%M:%S")
    assert text[20] in "+-" and text[21:25].isdigit()  # `+0000 UTC`


def test_table_header_alignment_and_literal_tab():
    rows = [container_fields(CONTAINER, trunc=True, now=NOW)]
    out = render(r"table {{.Names}}\t{{.ID}}", rows, CONTAINER_HEADERS, CONTAINER_TABLE)
    assert out == f"NAMES     CONTAINER ID\nweb       {CID[:12]}\n"  # minimum width 10, padding 3
    out = render("table", rows, CONTAINER_HEADERS, CONTAINER_TABLE)
    assert out.splitlines()[0].split() == [
        "CONTAINER",
        "ID",
        "IMAGE",
        "COMMAND",
        "CREATED",
        "STATUS",
        "PORTS",
        "NAMES",
    ]
    # Without rows a table is its header alone; without `table` nothing at all.
    assert render("table {{.ID}}", [], CONTAINER_HEADERS, CONTAINER_TABLE) == "CONTAINER ID\n"
    assert render("{{.ID}}", [], CONTAINER_HEADERS, CONTAINER_TABLE) == ""


def test_image_placeholders():
    row = image_fields(IMAGE, "busybox", "latest", trunc=True, now=NOW)
    out = render(
        "{{.ID}} {{.Repository}}:{{.Tag}} {{.Digest}} {{.CreatedSince}} {{.Size}}",
        [row],
        IMAGE_HEADERS,
        IMAGE_TABLE,
    )
    assert out == f"{IID[:12]} busybox:latest <none> 2 hours ago 1.982 MB\n"
    full = image_fields(IMAGE, "busybox", "latest", trunc=False, now=NOW)
    assert render("{{.ID}}", [full], IMAGE_HEADERS, IMAGE_TABLE) == f"sha256:{IID}\n"
    table = render("table", [row], IMAGE_HEADERS, IMAGE_TABLE)
    assert table.splitlines()[0].split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]


def test_template_errors():
    rows = [container_fields(CONTAINER, trunc=True, now=NOW)]
    with pytest.raises(FormatError, match="^Template parsing error: "):
        render("{{.ID", rows, CONTAINER_HEADERS, CONTAINER_TABLE)
    with pytest.raises(FormatError, match="can't evaluate field Nmes in type"):
        render("{{.Nmes}}", rows, CONTAINER_HEADERS, CONTAINER_TABLE)
    assert render("{{json .Names}}", rows, CONTAINER_HEADERS, CONTAINER_TABLE) == '"web"\n'


class _Graph:
    def __init__(self, ids, root):
        self.ids = set(ids)
        self.root = root  # the image service keeps its intents beside it

    def has_children(self, image_id):
        return False

    def exists(self, image_id):
        return image_id in self.ids

    def delete(self, image_id):
        self.ids.discard(image_id)


class _Image:
    id = IID
    parent = ""


@pytest.mark.parametrize("name", [IID[:12], IID, "sha256:" + IID, "sha256:" + IID[:12]])
def test_delete_by_id_in_two_repositories_needs_force(tmp_path, name):
    tags = TagStore(str(tmp_path), "vfs")
    tags.set("one", "latest", IID)
    tags.set("two", "latest", IID)
    service = ImageService(_Graph([IID], str(tmp_path / "graph")), tags, EventBus())
    service.lookup = lambda ref: _Image()
    with pytest.raises(
        Conflict, match=rf"^conflict: unable to delete {IID[:12]} \(must be forced\) - image is"
    ):
        service.delete(name)
    assert sorted(tags.by_id()[IID]) == ["one:latest", "two:latest"]
    results = service.delete(name, force=True)
    assert results[-1] == {"Deleted": IID} and not tags.by_id().get(IID)
