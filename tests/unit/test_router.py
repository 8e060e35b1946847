"""Routing and API versions."""

from unittest import mock

import pytest

from lxc_docker.api.handlers import attach, containers, images, system
from lxc_docker.api.router import MethodNotAllowed, Route, Router
from lxc_docker.errors import InvalidParameter, NotFound


def make():
    r = Router()
    r.add("GET", "/images/json", "list")
    r.add("GET", "/images/{name:.+}/json", "inspect")
    r.add("DELETE", "/images/{name:.+}", "delete")
    return r


def test_version_prefix():
    r = make()
    assert r.split_version("/v1.9/images/json") == ((1, 9), "/images/json")
    assert r.split_version("/v1.24/_ping") == ((1, 24), "/_ping")
    assert r.split_version("/images/json") == ((1, 9), "/images/json")
    with pytest.raises(InvalidParameter, match="too new"):
        r.split_version("/v1.50/version")


def test_match_names_with_slashes_and_ports():
    r = make()
    assert r.match("GET", "/images/json") == ("list", {})
    assert r.match("GET", "/images/localhost:5000/a/b/json") == ("inspect", {"name": "localhost:5000/a/b"})
    assert r.match("DELETE", "/images/a/b:c") == ("delete", {"name": "a/b:c"})
    assert r.match("HEAD", "/images/json") == ("list", {})


def test_unknown_route_and_method():
    r = make()
    with pytest.raises(NotFound):
        r.match("GET", "/nothing")
    with pytest.raises(MethodNotAllowed):
        r.match("POST", "/images/json")


def test_add_routes_binds_the_backend():
    seen = []

    def handler(backend, req, res, name):
        seen.append((backend, req, res, name))

    r = Router()
    r.add_routes([Route("GET", "/things/{name}/json", handler)], "the-backend")
    found, params = r.match("GET", "/things/abc/json")
    found("req", "res", **params)
    assert seen == [("the-backend", "req", "res", "abc")]


def test_plain_parameter_is_one_segment():
    r = Router()
    r.add("GET", "/containers/{name}/json", "inspect")
    with pytest.raises(NotFound):
        r.match("GET", "/containers/a/b/json")


def test_explicit_head_route_wins_when_listed_first():
    r = Router()
    r.add("HEAD", "/containers/{name}/archive", "stat")
    r.add("GET", "/containers/{name}/archive", "get")
    assert r.match("HEAD", "/containers/c/archive") == ("stat", {"name": "c"})
    assert r.match("GET", "/containers/c/archive") == ("get", {"name": "c"})


def test_version_prefix_needs_a_path_after_it():
    r = make()
    assert r.split_version("/v1.24") == ((1, 9), "/v1.24")
    assert r.split_version("/v1.0/_ping") == ((1, 0), "/_ping")
    assert r.split_version("/v1.24/images/a/b/json") == ((1, 24), "/images/a/b/json")


def test_405_is_a_400_family_error_with_its_own_status():
    with pytest.raises(InvalidParameter) as e:
        make().match("PUT", "/images/json")
    assert e.value.status == 405


@pytest.mark.parametrize("module", [attach, containers, images, system])
def test_handler_modules_are_route_tables_of_plain_functions(module):
    assert module.ROUTES
    for route in module.ROUTES:
        assert isinstance(route, Route)
        # Module-level functions, not closures over a daemon.
        assert route.handler.__module__ == module.__name__
        assert "<locals>" not in route.handler.__qualname__
        assert route.method in ("GET", "POST", "PUT", "DELETE", "HEAD")
    assert not hasattr(module, "register")


def test_route_tables_do_not_overlap():
    seen = set()
    for module in (attach, containers, images, system):
        for route in module.ROUTES:
            key = (route.method, route.pattern)
            assert key not in seen, key
            seen.add(key)


def test_deferred_tables_load_at_the_first_miss_and_keep_the_order():
    calls = []

    def loader(router):
        calls.append(1)
        router.add("GET", "/images/{name:.+}/history", "history")
        router.add("POST", "/images/json", "post-list")  # after the eager GET: a 405 becomes this

    r = make()
    r.defer(loader)
    assert r.match("GET", "/images/json") == ("list", {})
    assert calls == []
    assert r.match("POST", "/images/json") == ("post-list", {})
    assert r.match("GET", "/images/a/history") == ("history", {"name": "a"})
    with pytest.raises(NotFound):
        r.match("GET", "/nothing")
    with pytest.raises(MethodNotAllowed):
        r.match("PUT", "/images/json")
    assert calls == [1]


def test_a_failed_loader_leaves_the_table_as_it_was_and_is_retried():
    attempts = []

    def loader(router):
        attempts.append(1)
        router.add("GET", "/late", "late")
        if len(attempts) == 1:
            raise ImportError("first time")

    r = make()
    r.defer(loader)
    with pytest.raises(ImportError):
        r.match("GET", "/late")
    with pytest.raises(MethodNotAllowed):
        r.match("POST", "/images/json")  # retried: fine this time, and no route twice
    assert r.match("GET", "/late") == ("late", {})
    assert len(attempts) == 2
    assert [p.pattern for _, p, _ in r._routes].count("^/late$") == 1


def test_the_daemons_table_is_the_full_one_in_the_same_order():
    from lxc_docker.api.handlers import build, distribution, exec, networks, verbs, volumes
    from lxc_docker.api.routes import build_router

    r = build_router(mock.MagicMock())
    assert [p.pattern for _, p, _ in r._routes] == [_p(route) for route in system.ROUTES]
    assert r.match("GET", "/_ping")[0].func is system.ping
    assert r.match("GET", "/images/json")[0].func is images.list_images
    tables = [system, distribution, images, containers, attach, exec, volumes, verbs, networks, build]
    expected = [(route.method, _p(route), route.handler) for t in tables for route in t.ROUTES]
    assert [(m, p.pattern, h.func) for m, p, h in r._routes] == expected


def _p(route):
    from lxc_docker.api.router import _compile

    return _compile(route.pattern).pattern
