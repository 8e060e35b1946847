"""Labels (run/create, LABEL, commit) and the filters of ps, images and events: through our CLI, the
docker CLI 28 and the docker SDK for Python 7, as Docker 1.12 (API 1.24) answers them."""

from __future__ import annotations

import json
import time

from lib.unixhttp import request


def ids(text: str) -> list[str]:
    return sorted(text.split())


def get_json(daemon, path: str):
    status, _, body = request(daemon.sock, "GET", path)
    return status, json.loads(body)


def test_our_cli_labels_and_ps_filters(daemon, tmp_path):
    label_file = tmp_path / "labels"
    label_file.write_text("# team labels\nteam=core\n\ntier=back\n")
    front = daemon.out(
        "create", "-l", "tier=front", "--label", "lf-ours", "--name", "lf-front", "busybox", "true"
    )
    back = daemon.out("create", "--label-file", str(label_file), "-l", "lf-ours=1", "busybox", "true")
    plain = daemon.out("create", "busybox", "true")
    front, back, plain = front.strip(), back.strip(), plain.strip()
    try:
        assert ids(daemon.out("ps", "-a", "-q", "--no-trunc", "--filter", "label=lf-ours")) == sorted(
            [front, back]
        )
        assert daemon.out("ps", "-a", "-q", "--no-trunc", "-f", "label=tier=front").split() == [front]
        assert daemon.out(
            "ps", "-a", "-q", "--no-trunc", "-f", "label=tier=back", "-f", "label=team=core"
        ).split() == [back]
        assert daemon.out("ps", "-a", "-q", "--no-trunc", "-f", "name=lf-fr").split() == [front]
        created = daemon.out("ps", "-q", "--no-trunc", "-f", "status=created").split()
        assert {front, back, plain} <= set(created)  # a status filter lists stopped containers too
        assert daemon.out("ps", "-a", "-q", "-f", "label=nobody-has-this") == ""
        # Labels in inspect, through the 1.9 API our CLI speaks and through 1.24.
        doc = json.loads(daemon.out("inspect", back))[0]
        assert doc["Config"]["Labels"] == {"team": "core", "tier": "back", "lf-ours": "1"}
        _, rows = get_json(daemon, '/v1.24/containers/json?all=1&filters={"label":["tier=front"]}')
        assert [(r["Id"], r["Labels"]) for r in rows] == [(front, {"tier": "front", "lf-ours": ""})]
        bad = daemon.cli("ps", "-f", "colour=red")
        assert bad.returncode == 1 and bad.stderr.decode().strip() == "Error: Invalid filter 'colour'"
        bad = daemon.cli("ps", "-f", "nonsense")
        assert bad.returncode == 1 and "bad format of filter" in bad.stderr.decode()
    finally:
        daemon.cli("rm", front, back, plain)


def test_filters_by_exit_code_ancestor_and_volume(daemon):
    ok = daemon.out("run", "-d", "-v", "/lfdata", "busybox", "true").strip()
    bad = daemon.out("run", "-d", "busybox", "sh", "-c", "exit 3").strip()
    for c in (ok, bad):
        daemon.out("wait", c)
    try:
        assert daemon.out("ps", "-a", "-q", "--no-trunc", "-f", "exited=3").split() == [bad]
        assert ok in daemon.out("ps", "-a", "-q", "--no-trunc", "-f", "exited=0").split()
        assert daemon.out("ps", "-q", "-f", "exited=3") == ""  # without -a: running ones only
        assert daemon.out("ps", "-a", "-q", "--no-trunc", "-f", "volume=/lfdata").split() == [ok]
        busybox_id = json.loads(daemon.out("inspect", "busybox"))[0]["id"]
        both = set(daemon.out("ps", "-a", "-q", "--no-trunc", "-f", f"ancestor={busybox_id[:12]}").split())
        assert {ok, bad} <= both
        assert {ok, bad} <= set(daemon.out("ps", "-a", "-q", "--no-trunc", "-f", "ancestor=busybox").split())
        assert daemon.out("ps", "-a", "-q", "-f", "ancestor=no-such-image") == ""
        later = daemon.out("ps", "-a", "-q", "--no-trunc", "-f", f"since={ok}").split()
        assert later == [bad]
        assert daemon.out("ps", "-a", "-q", "--no-trunc", "-f", f"before={bad}").split()[0] == ok
    finally:
        daemon.cli("rm", ok, bad)


def test_docker_cli_28_labels_filters_and_commit(daemon, real_cli):
    a = real_cli("create", "-l", "cli28=a", "--label", "shared", "busybox", "true").stdout.decode().strip()
    b = real_cli("create", "-l", "cli28=b", "-l", "shared=yes", "busybox", "true").stdout.decode().strip()
    try:
        out = real_cli(
            "ps", "-a", "--no-trunc", "--filter", "label=cli28=a", "--format", "{{.ID}} {{.Labels}}"
        )
        assert out.stdout.decode() == f"{a} cli28=a,shared=\n"
        out = real_cli("ps", "-a", "-q", "--no-trunc", "--filter", "label=shared")
        assert ids(out.stdout.decode()) == sorted([a, b])
        labels = real_cli("inspect", "--format", "{{json .Config.Labels}}", b).stdout.decode()
        assert json.loads(labels) == {"cli28": "b", "shared": "yes"}
        bad = real_cli("ps", "--filter", "colour=red", check=False)
        assert bad.returncode != 0 and "Invalid filter 'colour'" in bad.stderr.decode()
        # commit keeps the container's labels and adds the --change ones; images filter by label.
        real_cli("commit", "--change", "LABEL committed=yes 'two words'=\"x y\"", a, "lf/committed:1")
        doc = json.loads(real_cli("image", "inspect", "lf/committed:1").stdout)[0]
        assert doc["Config"]["Labels"] == {"cli28": "a", "shared": "", "committed": "yes", "two words": "x y"}
        assert doc["Id"].startswith("sha256:")
        listed = real_cli("images", "--filter", "label=committed=yes", "--format", "{{.Repository}}:{{.Tag}}")
        assert listed.stdout.decode() == "lf/committed:1\n"
        listed = real_cli("images", "--filter", "reference=lf/commit*", "--format", "{{.Repository}}")
        assert listed.stdout.decode() == "lf/committed\n"
        assert real_cli("images", "-q", "--filter", "label=committed=no").stdout == b""
    finally:
        real_cli("rm", a, b, check=False)
        real_cli("rmi", "lf/committed:1", check=False)


def test_docker_cli_28_events_and_status_filters(daemon, real_cli):
    since = str(int(time.time()) - 1)
    c = real_cli("run", "-d", "-l", "lf28=ev", "busybox", "sh", "-c", "exit 4").stdout.decode().strip()
    assert real_cli("wait", c).stdout.decode().strip() == "4"
    other = real_cli("create", "busybox", "true").stdout.decode().strip()
    try:
        fmt = "{{.ID}} {{.Status}}"
        out = real_cli(
            "ps", "-a", "--no-trunc", "--filter", "status=exited", "--filter", "exited=4", "--format", fmt
        )
        assert out.stdout.decode() == f"{c} Exit 4\n"
        out = real_cli("ps", "--no-trunc", "--filter", "status=created", "--format", "{{.ID}}")
        assert other in out.stdout.decode().split() and c not in out.stdout.decode().split()
        until = str(int(time.time()) + 1)
        fmt = '{{.Type}} {{.Action}} {{.Actor.ID}} {{index .Actor.Attributes "lf28"}}'
        out = real_cli(
            "events", "--since", since, "--until", until, "--filter", "label=lf28=ev", "--format", fmt
        )
        assert out.stdout.decode().splitlines() == [
            f"container create {c} ev",
            f"container start {c} ev",
            f"container die {c} ev",
        ]
        out = real_cli(
            "events",
            "--since",
            since,
            "--until",
            until,
            "--filter",
            f"container={other[:12]}",
            "--format",
            fmt,
        )
        assert out.stdout.decode().splitlines() == [f"container create {other} "]  # a missing label: ""
    finally:
        real_cli("rm", c, other, check=False)


def test_dockerfile_label_and_images_filters(daemon, tmp_path):
    (tmp_path / "Dockerfile").write_text(
        'FROM busybox\nENV V 2\nLABEL lf.version=$V "lf desc"="a b"\nLABEL lf.old legacy form\n'
    )
    build = daemon.cli("build", "-t", "lf/built", str(tmp_path), timeout=120)
    assert build.returncode == 0, build.stderr
    assert 'Step 3 : LABEL lf.version=$V "lf desc"="a b"' in build.stdout.decode()
    try:
        config = json.loads(daemon.out("inspect", "lf/built"))[0]["config"]
        assert config["Labels"] == {"lf.version": "2", "lf desc": "a b", "lf.old": "legacy form"}
        history = daemon.out("history", "--no-trunc", "lf/built")
        assert "LABEL lf.version=2 lf desc=a b" in history
        built_id = daemon.out("images", "-q", "--no-trunc", "-f", "label=lf.version=2").split()
        assert built_id == [json.loads(daemon.out("inspect", "lf/built"))[0]["id"]]
        assert daemon.out("images", "-q", "-f", "label=lf.version=3") == ""
        before = daemon.out("images", "-q", "--no-trunc", "-f", "before=lf/built").split()
        assert built_id[0] not in before and json.loads(daemon.out("inspect", "busybox"))[0]["id"] in before
        assert daemon.out("images", "-q", "-f", "since=lf/built") == ""
        assert daemon.out("images", "-f", "dangling=true", "-q") == ""
        # A container of a labelled image carries the image's labels, its own winning.
        c = daemon.out("create", "-l", "lf.version=mine", "lf/built", "true").strip()
        labels = json.loads(daemon.out("inspect", c))[0]["Config"]["Labels"]
        assert labels == {"lf.version": "mine", "lf desc": "a b", "lf.old": "legacy form"}
        daemon.out("rm", c)
        bad = daemon.cli("images", "-f", "dangling=maybe")
        assert bad.returncode == 1 and "Invalid filter 'dangling=maybe'" in bad.stderr.decode()
    finally:
        daemon.cli("rmi", "lf/built")


def test_sdk_filters_and_events(daemon, sdk):
    since = time.time() - 1
    c = sdk.containers.create("busybox", "true", labels={"lf-sdk": "ev", "other": "x"})
    plain = sdk.containers.create("busybox", "true")
    try:
        assert [x.id for x in sdk.containers.list(all=True, filters={"label": "lf-sdk=ev"})] == [c.id]
        assert [x.id for x in sdk.containers.list(all=True, filters={"label": ["lf-sdk", "other=x"]})] == [
            c.id
        ]
        assert sdk.containers.list(all=True, filters={"label": "lf-sdk=no"}) == []
        assert c.labels == {"lf-sdk": "ev", "other": "x"}
        busybox = sdk.images.get("busybox")
        assert busybox.id in [i.id for i in sdk.images.list(filters={"dangling": False})]
        assert sdk.images.list(filters={"label": "nobody=here"}) == []
    finally:
        c.remove()
        plain.remove()
    until = time.time() + 1
    events = list(sdk.events(since=since, until=until, filters={"label": "lf-sdk=ev"}, decode=True))
    assert [(e["Type"], e["Action"], e["Actor"]["ID"]) for e in events] == [
        ("container", "create", c.id),
        ("container", "destroy", c.id),
    ]
    assert events[0]["Actor"]["Attributes"] == {
        "image": "busybox",
        "lf-sdk": "ev",
        "other": "x",
        "name": c.name,
    }
    events = list(
        sdk.events(since=since, until=until, filters={"event": "destroy", "container": plain.id}, decode=True)
    )
    assert [e["id"] for e in events] == [plain.id]
    # Our CLI: -f on events, the same rules.
    out = daemon.out(
        "events",
        "--since",
        str(int(since)),
        "--until",
        str(int(until) + 1),
        "-f",
        "label=lf-sdk",
        "-f",
        "event=destroy",
    )
    assert [line.split("] ", 1)[1] for line in out.splitlines()] == [f"{c.id[:12]}: (from busybox) destroy"]
    status, _, body = request(daemon.sock, "GET", '/v1.24/events?filters={"colour":["x"]}')
    assert (status, json.loads(body)) == (400, {"message": "Invalid filter 'colour'"})
