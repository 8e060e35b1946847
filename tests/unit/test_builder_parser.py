"""The Dockerfile parser, plus the builder's pure helpers: cache keys, context paths, checksums."""

from __future__ import annotations

import io
import os
import tarfile

import pytest

from lxc_docker.builder import context as ctxfiles
from lxc_docker.builder.builder import add_from_context, go_list
from lxc_docker.builder.cache import cache_key
from lxc_docker.builder.parser import DockerfileError, logical_lines, parse, parse_trigger
from lxc_docker.errors import ArchiveError, NotFound


def one(text: str):
    instructions = parse("FROM busybox\n" + text)
    assert len(instructions) == 2, instructions
    return instructions[1]


def error_of(text: str) -> DockerfileError:
    with pytest.raises(DockerfileError) as info:
        parse(text)
    return info.value


# -- lines ---------------------------------------------------------------------------------------


def test_comments_only_where_hash_begins_a_line():
    instructions = parse(
        "# Comment\nFROM busybox\n   # indented comment\nRUN echo 'we are running some # of cool things'\n"
    )
    assert [i.name for i in instructions] == ["FROM", "RUN"]
    assert instructions[1].value == ["/bin/sh", "-c", "echo 'we are running some # of cool things'"]


def test_instructions_are_case_insensitive():
    instructions = parse("from busybox\nRun echo hi\nmaintainer Someone\ncMd echo x\n")
    assert [i.name for i in instructions] == ["FROM", "RUN", "MAINTAINER", "CMD"]
    assert str(instructions[1]) == "RUN echo hi"


def test_line_continuations_join_and_keep_the_first_line_number():
    text = "FROM busybox\n\nRUN echo a \\\n    && echo b \\\n# a comment inside\n    && echo c\nCMD x\n"
    lines = logical_lines(text)
    assert lines == [(1, "FROM busybox"), (3, "RUN echo a && echo b && echo c"), (7, "CMD x")]


def test_blank_lines_inside_a_continuation_and_a_trailing_backslash():
    lines = logical_lines("FROM busybox\nRUN a \\\n\n  b\nRUN c \\")
    assert lines == [(1, "FROM busybox"), (2, "RUN a b"), (5, "RUN c")]


def test_crlf_tabs_and_byte_order_mark():
    instructions = parse(b"\xef\xbb\xbfFROM\tbusybox\r\nRUN\techo\thi\r\n")
    assert instructions[0].value == "busybox"
    assert instructions[1].value == ["/bin/sh", "-c", "echo\thi"]


# -- forms ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["RUN", "CMD", "ENTRYPOINT"])
def test_shell_and_exec_forms(name):
    shell = one(f"{name} echo hello world")
    assert shell.value == ["/bin/sh", "-c", "echo hello world"] and not shell.json_form
    exec_form = one(f'{name} ["/bin/echo", "hello", "world"]')
    assert exec_form.value == ["/bin/echo", "hello", "world"] and exec_form.json_form


def test_cmd_as_default_parameters():
    assert one('CMD ["-l", "-"]').value == ["-l", "-"]


def test_a_test_command_in_brackets_stays_a_shell_command():
    assert one("RUN [ -d /tmp ] && echo yes").value == ["/bin/sh", "-c", "[ -d /tmp ] && echo yes"]


@pytest.mark.parametrize(
    "line",
    [
        'CMD ["echo", hi]',
        'RUN ["echo" "hi"]',
        'ENTRYPOINT ["/bin/echo", ',
        'CMD ["a", 1]',
        'VOLUME ["/data",]',
    ],
)
def test_malformed_json_arrays_are_errors_naming_the_line(line):
    err = error_of(f"FROM busybox\n\n{line}\n")
    assert err.line == 3 and "Dockerfile line 3" in str(err)
    assert "JSON array" in str(err)


def test_empty_exec_form_run_is_an_error():
    assert error_of("FROM busybox\nRUN []").line == 2


def test_expose_ports():
    assert one("EXPOSE 80 53/udp 443/TCP").value == ["80/tcp", "53/udp", "443/tcp"]
    for bad in ("EXPOSE http", "EXPOSE 70000", "EXPOSE 8080:80", "EXPOSE 80/sctp"):
        assert error_of(f"FROM busybox\n{bad}").line == 2


def test_env_forms():
    assert one("ENV GREETING hello   world").value == [("GREETING", "hello   world")]
    assert one('ENV QUOTED "kept as written"').value == [("QUOTED", '"kept as written"')]
    assert one('ENV A=1 B="two words" C=').value == [("A", "1"), ("B", "two words"), ("C", "")]
    assert error_of("FROM busybox\nENV ONLYNAME").line == 2
    assert error_of("FROM busybox\nENV A=1 B").line == 2


def test_add_needs_source_and_destination():
    assert one("ADD hello.txt /app/").value == ("hello.txt", "/app/")
    assert one("ADD src /with space").value == ("src", "/with space")
    assert error_of("FROM busybox\nADD onlysource").line == 2


def test_volume_forms():
    assert one('VOLUME ["/var/volume1", "/var/volume2"]').value == ["/var/volume1", "/var/volume2"]
    assert one("VOLUME /data /logs").value == ["/data", "/logs"]
    assert error_of("FROM busybox\nVOLUME data").line == 2


def test_user_workdir_maintainer_from():
    assert one("USER daemon").value == "daemon"
    assert one("WORKDIR /path/to/workdir").value == "/path/to/workdir"
    assert one("MAINTAINER Guillaume J. Charmes <guillaume@dotcloud.com>").value.startswith("Guillaume")
    assert parse("FROM ubuntu:12.10")[0].value == "ubuntu:12.10"
    assert error_of("FROM a b").line == 1


def test_onbuild_parses_its_trigger():
    ins = one("ONBUILD RUN /usr/local/bin/python-build --dir /app/src")
    assert ins.value == "RUN /usr/local/bin/python-build --dir /app/src"
    assert ins.trigger is not None and ins.trigger.value[-1] == "/usr/local/bin/python-build --dir /app/src"
    assert error_of("FROM busybox\nONBUILD FOO bar").line == 2  # the trigger is checked now


@pytest.mark.parametrize("trigger", ["ONBUILD RUN x", "FROM busybox", "MAINTAINER me", "onbuild onbuild x"])
def test_forbidden_onbuild_triggers(trigger):
    err = error_of(f"FROM busybox\nRUN true\nONBUILD {trigger}\n")
    assert err.line == 3


def test_forbidden_triggers_found_in_an_image():
    with pytest.raises(DockerfileError, match="forbidden chained"):
        parse_trigger("ONBUILD RUN x", 1)
    with pytest.raises(DockerfileError, match="forbidden FROM trigger"):
        parse_trigger("FROM x", 1)
    assert parse_trigger("add . /app", 4).name == "ADD"


# -- whole files ---------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n   \n"])
def test_empty_dockerfile(text):
    assert "cannot be empty" in str(error_of(text))


def test_first_instruction_must_be_from():
    err = error_of("# comment\n\nRUN echo hi\nFROM busybox\n")
    assert err.line == 3 and "FROM" in str(err)


def test_unknown_instruction_names_its_line():
    err = error_of("FROM busybox\nRUN true\nCOPYX a b\n")
    assert err.line == 3 and "Unknown instruction: COPYX" in str(err)


def test_insert_is_deprecated():
    assert "deprecated" in str(error_of("FROM busybox\nINSERT http://x/y /y"))


def test_instruction_without_arguments():
    assert error_of("FROM busybox\nCMD\n").line == 2


def test_several_froms():
    names = [i.name for i in parse("FROM busybox\nRUN echo foo > bar\nFROM busybox\nRUN echo moo > oink\n")]
    assert names == ["FROM", "RUN", "FROM", "RUN"]


# -- helpers of the builder ----------------------------------------------------------------------


def test_go_list_is_how_history_prints_commands():
    assert go_list(["/bin/sh", "-c", "echo hi"]) == "[/bin/sh -c echo hi]"
    assert go_list(None) == "[]"


def test_cache_key_ignores_empty_value_types_but_not_content():
    a = {"Cmd": ["/bin/sh", "-c", "x"], "Env": [], "Volumes": None, "Hostname": "abc"}
    b = {"Cmd": ["/bin/sh", "-c", "x"], "Env": None, "Volumes": {}, "Hostname": "def"}
    assert cache_key(a) == cache_key(b)
    assert cache_key(a) != cache_key(dict(a, WorkingDir="/app"))
    assert cache_key(a, "me") != cache_key(a, "you")


def context_tar(files: dict) -> bytes:
    """A context tar: name -> text, bytes, ("link", target), ("dir", mode) or (content, mode)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, spec in files.items():
            info = tarfile.TarInfo(name)
            data = b""
            if isinstance(spec, tuple) and spec[0] == "link":
                info.type, info.linkname = tarfile.SYMTYPE, spec[1]
            elif isinstance(spec, tuple) and spec[0] == "dir":
                info.type, info.mode = tarfile.DIRTYPE, spec[1]
            else:
                if isinstance(spec, tuple):
                    spec, info.mode = spec
                data = spec if isinstance(spec, bytes) else spec.encode()
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def make_context(tmp_path, files: dict) -> ctxfiles.BuildContext:
    return ctxfiles.from_body(
        io.BytesIO(context_tar(dict(files, Dockerfile="FROM busybox\n"))), str(tmp_path)
    )


def test_context_paths_stay_inside(tmp_path):
    ctx = make_context(
        tmp_path,
        {
            "a/file": "x",
            "inside": ("link", "a/file"),
            "dirlink": ("link", "a"),
            "up": ("link", "../outside"),
            "abs": ("link", "/etc/passwd"),
            "a/deep": ("link", "../../escape"),
        },
    )
    with ctx:
        assert ctx.dockerfile == b"FROM busybox\n"
        assert ctx.resolve("a/file") == b"a/file"
        assert ctx.resolve("./a/../a/file") == b"a/file"
        assert ctx.resolve("inside") == b"a/file"
        assert ctx.resolve("dirlink/file") == b"a/file"
        assert ctx.resolve(".") == b"" and ctx.is_dir(b"") and ctx.is_dir(b"a")
        for bad in (
            "../outside",
            "a/../../outside",
            "up",
            "abs",
            "a/deep",
            "/etc/passwd",
            "missing",
            "a/file/x",
        ):
            with pytest.raises(ctxfiles.ContextError):
                ctx.resolve(bad)
    assert not os.path.exists(ctx.workdir)


def test_no_context_means_no_local_sources(tmp_path):
    with ctxfiles.from_body(io.BytesIO(b"FROM busybox\nADD x /x\n"), str(tmp_path)) as ctx:
        assert ctx.dockerfile == b"FROM busybox\nADD x /x\n"
        with pytest.raises(ctxfiles.ContextError, match="no build context"):
            ctx.resolve("x")


def test_context_without_dockerfile(tmp_path):
    with pytest.raises(NotFound, match="Cannot locate specified Dockerfile: Dockerfile"):
        ctxfiles.from_body(io.BytesIO(context_tar({"other": "x"})), str(tmp_path))
    assert os.listdir(tmp_path) == []  # the spool went with the failure


def test_context_entries_escaping_are_refused(tmp_path):
    with pytest.raises(ArchiveError):
        ctxfiles.from_body(io.BytesIO(context_tar({"../evil": "x", "Dockerfile": "FROM a"})), str(tmp_path))


def test_checksums_follow_content_and_mode(tmp_path):
    def sums(files):
        with make_context(tmp_path, files) as ctx:
            return ctx.checksum(ctx.resolve("d"), "d"), ctx.checksum(ctx.resolve("f"), "f")

    base = {"d/one": "1", "d/two": "2", "f": "content"}
    first_dir, first_file = sums(base)
    assert first_dir.startswith("dir:") and first_file.startswith("file:")
    assert sums(base) == (first_dir, first_file)
    assert sums(dict(base, **{"d/two": "changed"}))[0] != first_dir
    assert sums(dict(base, **{"d/three": "3"}))[0] != first_dir
    assert sums(dict(base, f=("content", 0o700)))[1] != first_file
    assert sums(dict(base, f="other"))[1] != first_file


def test_archive_recognition(tmp_path):
    def tar_bytes(mode: str) -> bytes:
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode=mode) as tar:
            info = tarfile.TarInfo("x")
            info.size = 1
            tar.addfile(info, io.BytesIO(b"x"))
        return buf.getvalue()

    import gzip

    samples = {
        "plain.tar": (tar_bytes("w"), True),
        "t.tar.gz": (tar_bytes("w:gz"), True),
        "t.tar.bz2": (tar_bytes("w:bz2"), True),
        "t.tar.xz": (tar_bytes("w:xz"), True),
        "notes.gz": (gzip.compress(b"just text, no tar\n" * 40), False),
        "text": (b"hello\n" * 200, False),
        "empty": (b"", False),
    }
    with make_context(tmp_path, {name: data for name, (data, _) in samples.items()}) as ctx:
        for name, (_, expected) in samples.items():
            assert ctx.is_archive(ctx.resolve(name)) is expected, name
    assert ctxfiles.is_url("https://example.com/x") and not ctxfiles.is_url("ftp://x")
    assert ctxfiles.is_git_url("git://127.0.0.1/repo") and ctxfiles.is_git_url(
        "github.com/creack/docker-firefox"
    )
    assert ctxfiles.is_git_url("https://example.com/repo.git") and not ctxfiles.is_git_url(
        "https://x/Dockerfile"
    )
    assert ctxfiles.url_filename("http://example.com/a/foobar?x=1") == "foobar"
    assert ctxfiles.url_filename("http://example.com") == ""


def test_add_writes_into_a_root_without_leaving_it(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("ADD sets owners 0:0")
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    os.symlink("/", root / "escape")
    os.symlink("/etc", root / "etclink")
    files = {"f": ("payload", 0o640), "d/sub/x": "x", "d/link": ("link", "sub/x"), "d/sub": ("dir", 0o700)}
    with make_context(tmp_path, files) as ctx:
        add_from_context(str(root), ctx, ctx.resolve("f"), "/escape/tmp/via-link", "f")
        add_from_context(str(root), ctx, ctx.resolve("f"), "/etclink/", "f")
        add_from_context(str(root), ctx, ctx.resolve("d"), "/copy", "d")
    assert (root / "tmp" / "via-link").read_text() == "payload"
    assert (root / "etc" / "f").stat().st_mode & 0o777 == 0o640
    assert (root / "copy" / "sub" / "x").read_text() == "x"
    assert (root / "copy" / "sub").stat().st_mode & 0o777 == 0o700
    assert os.readlink(root / "copy" / "link") == "sub/x"
    assert not os.path.exists("/tmp/via-link") and not os.path.exists("/etc/f")
