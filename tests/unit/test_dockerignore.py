"""The .dockerignore matcher (archive/dockerignore.py): Docker's pattern rules, exceptions, and the
daemon dropping ignored entries from a context once the Dockerfile is read."""

from __future__ import annotations

import io
import tarfile

import pytest

from lxc_docker.archive.dockerignore import Matcher, clean, parse
from lxc_docker.builder import context as ctxfiles


def excluded(patterns: list[str], path: str) -> bool:
    return Matcher(patterns).excluded(path)


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("*.log", "a.log", True),
        ("*.log", "sub/a.log", False),  # `*` stays in one directory level
        ("**/*.log", "sub/deep/a.log", True),
        ("**/*.log", "a.log", True),  # `**/` also matches no directory at all
        ("sub/**", "sub/x/y", True),
        ("temp?", "temp1", True),
        ("temp?", "temp12", False),
        ("[ab].txt", "b.txt", True),
        ("[!ab].txt", "c.txt", True),
        ("[!ab].txt", "a.txt", False),
        ("build", "build/out/x.o", True),  # a directory leaves out what is below it
        ("./build/", "build/x", True),  # cleaned like a path
        ("/secret", "secret", True),  # a leading / is the context root
        ("a\\*b", "a*b", True),
        ("a\\*b", "axb", False),
        ("docs", "docsx", False),
    ],
)
def test_patterns_match_as_docker_matches(pattern, path, expected):
    assert excluded([pattern], path) is expected


def test_the_last_matching_pattern_decides_and_exceptions_put_paths_back():
    patterns = ["*.md", "!README.md", "README*"]
    assert excluded(patterns, "CHANGES.md")
    assert excluded(patterns, "README.md"), "the later README* wins over the exception"
    assert not excluded(["*.md", "!README.md"], "README.md")
    assert not excluded(["logs", "!logs/keep.txt"], "logs/keep.txt")
    assert excluded(["logs", "!logs/keep.txt"], "logs/other.txt")


def test_a_directory_with_an_exception_below_must_be_walked():
    assert Matcher(["logs", "!logs/keep.txt"]).may_reinclude_below("logs")
    assert not Matcher(["logs", "!other/x"]).may_reinclude_below("logs")
    assert not Matcher(["logs"]).may_reinclude_below("logs")


def test_the_file_format_skips_comments_and_blank_lines():
    assert parse(b"# a comment\n\n  *.tmp  \n!keep.tmp\n") == ["*.tmp", "!keep.tmp"]
    with pytest.raises(ValueError, match="Illegal exclusion"):
        parse("!\n")
    assert clean("a//b/../c/") == "a/c"


def test_a_malformed_class_is_an_error():
    with pytest.raises(ValueError, match="Syntax error"):
        Matcher(["[abc"])


def _tar(files: dict[str, bytes]) -> io.BytesIO:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    buf.seek(0)
    return buf


def test_the_daemon_reads_an_ignored_dockerfile_then_drops_it(tmp_path):
    files = {
        "Dockerfile": b"FROM busybox\n",
        ".dockerignore": b"Dockerfile\n.dockerignore\n*.log\nsub\n!sub/keep\n",
        "a.log": b"x",
        "b.txt": b"y",
        "sub/keep": b"k",
        "sub/drop": b"d",
    }
    with ctxfiles.from_body(_tar(files), str(tmp_path)) as ctx:
        assert ctx.dockerfile == b"FROM busybox\n"
        assert ctx.names() == [b"b.txt", b"sub", b"sub/keep"]


def test_a_dockerfile_named_outside_the_context_is_refused(tmp_path):
    from lxc_docker.errors import InvalidParameter

    for name in ("../Dockerfile", "/etc/passwd", "a/../../x"):
        with pytest.raises(InvalidParameter, match="outside the build context"):
            ctxfiles.from_body(_tar({"Dockerfile": b"FROM x\n"}), str(tmp_path), name)
    with ctxfiles.from_body(_tar({"sub/My.df": b"FROM y\n"}), str(tmp_path), "sub/My.df") as ctx:
        assert ctx.dockerfile == b"FROM y\n"
