"""Routing and API versions."""

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
