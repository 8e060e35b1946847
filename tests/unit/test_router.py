"""Routing and API versions."""

import pytest

from lxc_docker.api.router import MethodNotAllowed, Router
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
