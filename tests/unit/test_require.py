"""tests/lib/require.py: a missing prerequisite skips on a developer's machine and fails in CI."""

from __future__ import annotations

import pytest

from lib.require import require, require_module, require_tools


@pytest.mark.parametrize("ci", ["", "false"])
def test_skips_outside_ci(monkeypatch, ci):
    monkeypatch.setenv("CI", ci)
    with pytest.raises(pytest.skip.Exception, match="no frobnicator"):
        require(False, "no frobnicator")
    with pytest.raises(pytest.skip.Exception, match="missing tools: no-such-tool-here"):
        require_tools("sh", "no-such-tool-here")
    with pytest.raises(pytest.skip.Exception, match="no_such_module_here"):
        require_module("no_such_module_here")


@pytest.mark.parametrize("ci", ["true", "TRUE"])
def test_fails_in_ci(monkeypatch, ci):
    monkeypatch.setenv("CI", ci)
    with pytest.raises(pytest.fail.Exception, match="no frobnicator.*CI=true"):
        require(False, "no frobnicator")
    with pytest.raises(pytest.fail.Exception, match="no-such-tool-here"):
        require_tools("no-such-tool-here")
    with pytest.raises(pytest.fail.Exception, match="no_such_module_here"):
        require_module("no_such_module_here")


def test_passes_when_present(monkeypatch):
    monkeypatch.setenv("CI", "true")
    require(True, "unused")
    require_tools("sh")
    assert require_module("json").dumps([]) == "[]"
