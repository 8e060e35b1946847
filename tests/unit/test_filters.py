"""Filter parsing (api/filters.py) and matching (daemon/filtering.py): Docker 1.12's rules."""

import pytest

from lxc_docker.api.filters import parse
from lxc_docker.builder.parser import parse as parse_dockerfile
from lxc_docker.daemon import filtering
from lxc_docker.daemon.container import Container
from lxc_docker.daemon.events import Event, EventBus
from lxc_docker.errors import InvalidParameter
from lxc_docker.runconfig.flags import parse_run


def test_both_json_shapes_parse_to_the_same_values():
    assert parse({"label": ["a=1", "b"]}).fields == {"label": {"a=1", "b"}}
    # docker CLI 28 at API 1.22+: a map of maps to booleans; false is not a value.
    assert parse({"label": {"a=1": True, "off": False}}).fields == {"label": {"a=1"}}
    assert not parse(None) and not parse("")
    with pytest.raises(InvalidParameter, match="Invalid filters"):
        parse(["label"])
    with pytest.raises(InvalidParameter, match="Invalid filters"):
        parse({"label": [1]})


def test_unknown_keys_are_refused_with_dockers_message():
    with pytest.raises(InvalidParameter, match="^Invalid filter 'colour'$"):
        filtering.check_container_filters(parse({"colour": ["red"]}))
    with pytest.raises(InvalidParameter, match="Invalid filter 'status'"):
        filtering.check_image_filters(parse({"status": ["running"]}))
    with pytest.raises(InvalidParameter, match="Invalid filter 'name'"):
        filtering.event_matcher(parse({"name": ["x"]}))
    with pytest.raises(InvalidParameter, match="Unrecognised filter value for status"):
        filtering.check_container_filters(parse({"status": ["sleeping"]}))
    with pytest.raises(InvalidParameter, match="invalid syntax"):
        filtering.check_container_filters(parse({"exited": ["x"]}))
    with pytest.raises(InvalidParameter, match="Invalid filter 'dangling=maybe'"):
        filtering.check_image_filters(parse({"dangling": ["maybe"]}))


def test_match_kinds():
    args = filtering.FilterArgs({"name": ["^/web"], "id": ["abc"], "label": ["a", "b=2"]})
    assert args.match("name", "/web1") and not args.match("name", "/db")
    assert args.match("id", "abc123") and args.match("other", "anything")
    assert args.match_kv_list("label", {"a": "x", "b": "2"})
    assert not args.match_kv_list("label", {"a": "x", "b": "3"})
    assert not args.match_kv_list("label", {"b": "2"}) and not args.match_kv_list("label", None)
    assert args.fuzzy_match("id", "abcdef") and not args.fuzzy_match("id", "xabc")


def box(running=False, code=0, labels=None, started=True):
    c = Container("/nonexistent", "c" * 64)
    c.name = "/web"
    c.config = {"Labels": labels or {}}
    c.state.running = running
    c.state.exit_code = code
    if started:
        c.state.started_at = "2014-03-10T12:00:00Z"
        if not running:
            c.state.finished_at = "2014-03-10T12:01:00Z"
    c.volumes = {"/data": "/g/volumes/vol1/_data"}
    return c


def accepts(fields, c, descendants=None):
    args = parse(fields)
    filtering.check_container_filters(args)
    return filtering.container_matcher(args, descendants)(c)


def test_container_filters():
    assert accepts({"label": ["tier=front"]}, box(labels={"tier": "front"}))
    assert not accepts({"label": ["tier"]}, box())
    assert accepts({"status": ["exited"]}, box()) and not accepts({"status": ["running"]}, box())
    assert accepts({"status": ["created"]}, box(started=False))
    assert accepts({"exited": ["3"]}, box(code=3)) and not accepts({"exited": ["3"]}, box(code=0))
    assert not accepts({"exited": ["0"]}, box(started=False))  # never ran: no exit code
    assert accepts({"name": ["web"]}, box()) and not accepts({"name": ["db"]}, box())
    assert accepts({"volume": ["/data"]}, box()) and accepts({"volume": ["vol1"]}, box())
    assert not accepts({"volume": ["/other"]}, box())
    assert accepts({"ancestor": ["x"]}, box(), {"c" * 64}) and not accepts({"ancestor": ["x"]}, box(), set())
    assert filtering.check_container_filters(parse({"status": ["exited"]})) is True


def test_image_filters():
    args = parse({"label": ["v=1"], "reference": ["cli*"]})
    assert filtering.check_image_filters(args) is None
    accept = filtering.image_matcher(args, lambda name: 0)
    row = {"Created": 5, "RepoTags": ["cli28/one:v1", "other:x"]}
    assert accept(row, {"v": "1"}) and row["RepoTags"] == ["cli28/one:v1"]
    assert not accept({"Created": 5, "RepoTags": ["cli:1"]}, {"v": "2"})
    before = filtering.image_matcher(parse({"before": ["b"]}), lambda name: 10)
    assert before({"Created": 9, "RepoTags": []}, None) and not before({"Created": 10, "RepoTags": []}, None)
    assert filtering.check_image_filters(parse({"dangling": {"true": True}})) is True
    assert filtering.check_image_filters(parse({"dangling": ["false"]})) is False


def test_event_filters():
    e = Event("die", "c" * 64, "container", "busybox:latest", attributes=(("name", "web"), ("tier", "a")))
    assert filtering.event_matcher(parse({"container": ["web"], "event": ["die"]}))(e)
    assert filtering.event_matcher(parse({"container": ["ccc"]}))(e)
    assert filtering.event_matcher(parse({"image": ["busybox"]}))(e)
    assert filtering.event_matcher(parse({"label": ["tier=a"], "type": ["container"]}))(e)
    assert not filtering.event_matcher(parse({"type": ["image"]}))(e)
    assert not filtering.event_matcher(parse({"event": ["start"]}))(e)
    img = Event("tag", "d" * 64, "image", attributes=(("name", "x:1"),))
    assert filtering.event_matcher(parse({"image": ["sha256:" + "d" * 64]}))(img)
    assert filtering.event_matcher(parse({"image": ["x"]}))(img)


def test_event_bus_copies_labels_and_keeps_them_for_the_removal():
    bus = EventBus()
    live = {"c1": {"tier": "a", "name": "shadowed"}}
    bus.labels_of = lambda type, id: live.get(id)
    assert dict(bus.publish("create", "c1", name="web").attributes) == {"tier": "a", "name": "web"}
    del live["c1"]
    assert dict(bus.publish("destroy", "c1").attributes)["tier"] == "a"


def test_label_flags_and_dockerfile_label(tmp_path):
    path = tmp_path / "labels"
    path.write_text("# comment\nfile=1\n\nboth=file\n")
    args = ["-l", "a=1", "--label", "flag", f"--label-file={path}", "-l", "both=cli", "img"]
    config, _, _ = parse_run(args)
    assert config["Labels"] == {"file": "1", "both": "cli", "a": "1", "flag": ""}
    config, _, _ = parse_run(["img"])
    assert "Labels" not in config
    with pytest.raises(ValueError, match="empty name"):
        parse_run(["-l", "=x", "img"])
    ins = parse_dockerfile('FROM x\nLABEL a=1 "b c"="two words"\nLABEL legacy some value\n')
    assert ins[1].value == [("a", "1"), ("b c", "two words")]
    assert ins[2].value == [("legacy", "some value")]
    with pytest.raises(InvalidParameter, match="line 2"):
        parse_dockerfile("FROM x\nLABEL onlykey\n")


def test_cli_filter_flag_makes_the_query():
    from lxc_docker.cli.filterflag import filters_query
    from lxc_docker.cli.main import CommandError

    assert filters_query([]) is None
    assert filters_query(["label=a=1", "label=b", "Status=exited", "label=b"]) == (
        '{"label":["a=1","b"],"status":["exited"]}'
    )
    with pytest.raises(CommandError, match="bad format of filter"):
        filters_query(["nonsense"])
