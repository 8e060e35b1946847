"""The client's JSON without the `json` module: same results as `json`, same errors."""

import json

import pytest

from lxc_docker import jsonlite

SAMPLES = [
    {"a": [1, 2.5, None, True, False, 'é"x\n'], "b": {}},
    [],
    "x",
    0,
    -3,
    1e21,
    {"nested": {"n": [1, {"z": False}]}, "unicode": "\u2603"},
]


@pytest.mark.parametrize("obj", SAMPLES)
def test_round_trip_matches_json(obj):
    text = jsonlite.dumps(obj)
    assert text == json.dumps(obj)
    assert jsonlite.loads(text) == obj
    assert jsonlite.loads(text.encode()) == obj


def test_errors():
    with pytest.raises(TypeError):
        jsonlite.dumps({"a": object()})
    for bad in ('{"a": ', "[1] x", "", "nul"):
        with pytest.raises(ValueError):
            jsonlite.loads(bad)


def test_whitespace_and_options():
    assert jsonlite.loads(' \n {"a": 1} \r\n') == {"a": 1}
    assert jsonlite.dumps({"b": 1, "a": 2}, sort_keys=True) == '{"a": 2, "b": 1}'
