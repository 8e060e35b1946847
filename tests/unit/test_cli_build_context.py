"""Our CLI's side of `docker build`: the context tar it sends leaves out what .dockerignore names
(never the Dockerfile or .dockerignore), `-f` is taken relative to the current directory and must
stay in the context, and `--build-arg`/`--label` become the JSON queries the daemon reads."""

from __future__ import annotations

import io
import json
import os
import tarfile

import pytest

from lxc_docker.archive.dockerignore import Matcher
from lxc_docker.cli.commands import build
from lxc_docker.cli.main import CommandError


def names_sent(root: str, ignore: Matcher | None, dockerfile: str = "Dockerfile") -> list[str]:
    buf = io.BytesIO()
    build._write_tree(root, buf, ignore, dockerfile)
    buf.seek(0)
    with tarfile.open(fileobj=buf) as tar:
        return sorted(m.name.rstrip("/") for m in tar.getmembers())


def make(root, files: list[str]) -> str:
    for name in files:
        path = os.path.join(root, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(name)
    return str(root)


def test_ignored_files_are_not_sent_but_the_build_files_are(tmp_path):
    root = make(
        tmp_path, ["Dockerfile", ".dockerignore", "a.log", "src/x.py", "cache/big", "logs/keep", "logs/no"]
    )
    ignore = Matcher(["Dockerfile", ".dockerignore", "*.log", "cache", "logs", "!logs/keep"])
    assert names_sent(root, ignore) == [".dockerignore", "Dockerfile", "logs/keep", "src", "src/x.py"]
    assert "cache/big" in names_sent(root, None)


def test_a_named_dockerfile_is_sent_even_if_ignored(tmp_path):
    root = make(tmp_path, ["build/My.df", "build/other"])
    assert names_sent(root, Matcher(["build"]), "build/My.df") == ["build/My.df"]


def test_dash_f_is_relative_to_the_current_directory_and_inside_the_context(tmp_path, monkeypatch):
    ctx = make(tmp_path / "ctx", ["sub/My.df"])
    make(tmp_path / "elsewhere", ["Dockerfile"])
    monkeypatch.chdir(tmp_path)
    assert build._dockerfile_in(ctx, "ctx/sub/My.df") == "sub/My.df"
    assert build._dockerfile_in(ctx, "") == "Dockerfile"
    with pytest.raises(CommandError, match="must be within the build context"):
        build._dockerfile_in(ctx, "elsewhere/Dockerfile")


def test_build_args_and_labels_become_json(monkeypatch):
    monkeypatch.setenv("FROM_ENV", "e")
    monkeypatch.delenv("UNSET_ONE", raising=False)
    doc = json.loads(build._build_args(["A=1", "B=x=y", "FROM_ENV", "UNSET_ONE"]))
    assert doc == {"A": "1", "B": "x=y", "FROM_ENV": "e", "UNSET_ONE": None}
    assert json.loads(build._labels(["team=core", "empty="])) == {"team": "core", "empty": ""}
    assert build._build_args([]) is None and build._labels([]) is None
