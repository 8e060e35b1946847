"""Docker 1.12's instructions in the builder against the in-memory world of test_builder.py: COPY,
ARG and build args, STOPSIGNAL, SHELL, HEALTHCHECK, their parsing, and the error wording by API
version."""

from __future__ import annotations

import os

import pytest
from test_builder import World, as_root_or_not  # noqa: F401  (fixture)

from lxc_docker.builder.builder import RunFailed
from lxc_docker.builder.parser import DockerfileError, parse
from lxc_docker.builder.syntax import parse_duration
from lxc_docker.errors import DockerError


@pytest.fixture
def world(tmp_path) -> World:
    return World(str(tmp_path))


def read(world: World, image_id: str, path: str) -> bytes:
    with open(os.path.join(world.layers.path(image_id), path.lstrip("/")), "rb") as f:
        return f.read()


# -- parsing -------------------------------------------------------------------------------------


def test_healthcheck_forms_and_flags():
    (_, shell, exec_, none) = parse(
        "FROM x\nHEALTHCHECK --interval=1m30s --timeout=500ms --retries=2 CMD curl -f http://l/ || exit 1\n"
        'HEALTHCHECK CMD ["/bin/check", "-q"]\nHEALTHCHECK NONE\n'
    )
    assert shell.value == {
        "Test": ["CMD-SHELL", "curl -f http://l/ || exit 1"],
        "Interval": 90 * 10**9,
        "Timeout": 500 * 10**6,
        "Retries": 2,
    }
    assert exec_.value == {"Test": ["CMD", "/bin/check", "-q"]}
    assert none.value == {"Test": ["NONE"]}


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("HEALTHCHECK --start-period=1s CMD true", "Unknown flag: start-period"),
        ("HEALTHCHECK CMD", "Missing command after HEALTHCHECK CMD"),
        ("HEALTHCHECK RUN true", 'Unknown type "RUN" in HEALTHCHECK'),
        ("HEALTHCHECK NONE x", "HEALTHCHECK NONE takes no arguments"),
        ("HEALTHCHECK --interval=soon CMD true", "invalid duration soon"),
        ("HEALTHCHECK --interval=0s CMD true", "must be positive"),
        ("HEALTHCHECK --retries=0 CMD true", "--retries must be at least 1"),
        ("SHELL /bin/bash -c", "SHELL requires the arguments to be in JSON form"),
        ("ARG a b", "ARG requires exactly one argument definition"),
        ("COPY onlyone", "COPY requires at least two arguments"),
        ("COPY --chown=1:1 a /b", "Unknown flag: chown"),
        ("STOPSIGNAL SIGTERM SIGKILL", "STOPSIGNAL requires exactly one argument"),
    ],
)
def test_parse_errors_name_the_line(line, message):
    with pytest.raises(DockerfileError, match="^Dockerfile line 2: .*" + message.replace("[", r"\[")):
        parse(f"FROM x\n{line}\n")


def test_go_durations():
    assert parse_duration("1h2m3s") == (3600 + 120 + 3) * 10**9
    assert parse_duration("1.5s") == 1_500_000_000
    assert parse_duration("0") == 0
    for bad in ("", "5", "1d", "s"):
        with pytest.raises(DockerfileError):
            parse_duration(bad)


# -- COPY ----------------------------------------------------------------------------------------


def test_copy_never_unpacks_and_wildcards_need_a_directory(world, as_root_or_not):  # noqa: F811
    import io
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("inner.txt")
        tar.addfile(info, io.BytesIO(b""))
    files = {"a.txt": b"A", "b.txt": b"B", "c.md": b"C", "pack.tar": buf.getvalue()}
    image = world.build(
        'FROM busybox\nWORKDIR /w\nCOPY *.txt out/\nCOPY pack.tar /p/\nCOPY ["c.md", "/json"]\n', files
    )
    assert read(world, image, "/w/out/a.txt") == b"A" and read(world, image, "/w/out/b.txt") == b"B"
    assert read(world, image, "/p/pack.tar") == buf.getvalue(), "copied as a file, not unpacked"
    assert read(world, image, "/json") == b"C"
    copies = [c for c in world.commands(image) if " COPY " in c]
    assert copies[0].startswith("/bin/sh -c #(nop) COPY multi:") and copies[0].endswith(" in /w/out/")
    with pytest.raises(DockerfileError, match="the destination must be a directory and end with a /"):
        world.build("FROM busybox\nCOPY *.txt /out\n", files)
    with pytest.raises(DockerfileError, match="Source can't be a URL for COPY"):
        world.build("FROM busybox\nCOPY http://example.com/x /x\n", files)
    with pytest.raises(DockerfileError, match="No source files were specified"):
        world.build("FROM busybox\nCOPY *.none /x/\n", files)


def test_copy_is_cached_by_content(world, as_root_or_not):  # noqa: F811
    dockerfile = "FROM busybox\nCOPY f /f\n"
    first = world.build(dockerfile, {"f": b"1"})
    assert world.build(dockerfile, {"f": b"1"}) == first
    assert world.build(dockerfile, {"f": b"2"}) != first


# -- ARG -----------------------------------------------------------------------------------------


def test_build_args_reach_run_and_substitution_but_not_the_image_env(world):
    dockerfile = "FROM busybox\nARG WHO=nobody\nARG PLAIN\nUSER $WHO\nRUN printenv\n"
    image = world.build(dockerfile, build_args={"PLAIN": "p"})
    config = world.config(image)
    assert config["User"] == "nobody"
    assert not [e for e in config["Env"] if e.startswith(("WHO=", "PLAIN="))]
    assert "WHO=nobody\n" in world.text and "PLAIN=p\n" in world.text
    run = world.commands(image)[-1]
    assert run == "|2 PLAIN=p WHO=nobody /bin/sh -c printenv", "the values are in the recorded command"
    assert world.build(dockerfile, build_args={"PLAIN": "p"}) == image, "same values: cache hit"
    other = world.build(dockerfile, build_args={"PLAIN": "q", "WHO": "root"})
    assert other != image and world.config(other)["User"] == "root"
    assert "PLAIN=q\n" in world.text


def test_env_wins_over_an_arg_of_the_same_name(world):
    dockerfile = "FROM busybox\nARG V=arg\nENV V env\nWORKDIR /$V\nRUN printenv\n"
    image = world.build(dockerfile, build_args={"V": "x"})
    assert world.config(image)["WorkingDir"] == "/env"
    assert world.commands(image)[-1] == "/bin/sh -c printenv", "ENV's V is no build arg any more"


def test_an_undeclared_build_arg_fails_at_1_24_and_warns_after(world):
    unused = r"^One or more build-args \[nope\] were not consumed, failing build.$"
    with pytest.raises(DockerError, match=unused):
        world.build("FROM busybox\nARG yes\n", build_args={"yes": "1", "nope": "2", "HTTP_PROXY": "p"})
    world.build("FROM busybox\n", build_args={"nope": "2"}, strict_build_args=False)
    assert "[Warning] One or more build-args [nope] were not consumed\n" in world.output


# -- STOPSIGNAL, SHELL, HEALTHCHECK --------------------------------------------------------------


def test_stopsignal_shell_and_healthcheck_set_the_config(world):
    image = world.build(
        'FROM busybox\nSTOPSIGNAL SIGUSR1\nSHELL ["/bin/sh", "-xc"]\nRUN echo hi\nCMD echo cmd\n'
        "ENTRYPOINT echo ep\nHEALTHCHECK --retries=5 CMD true\n"
    )
    config = world.config(image)
    assert config["StopSignal"] == "SIGUSR1"
    assert config["Shell"] == ["/bin/sh", "-xc"]
    assert config["Entrypoint"] == ["/bin/sh", "-xc", "echo ep"]
    assert config["Healthcheck"] == {"Test": ["CMD-SHELL", "true"], "Retries": 5}
    assert "/bin/sh -xc echo hi" in world.commands(image)
    with pytest.raises(DockerfileError, match="Invalid signal: SIGNOPE"):
        world.build("FROM busybox\nSTOPSIGNAL SIGNOPE\n")


def test_run_failure_wording_by_api_version(world):
    with pytest.raises(RunFailed, match=r"^The command \[/bin/sh -c exit 3\] returned a non-zero code: 3$"):
        world.build("FROM busybox\nRUN exit 3\n")
    with pytest.raises(RunFailed, match=r"^The command '/bin/sh -c exit 3' returned a non-zero code: 3$"):
        world.build("FROM busybox\nRUN exit 3\n", quoted_errors=True)


def test_from_scratch_starts_from_no_image_and_is_cached(world):
    image = world.build("FROM scratch\nARG who\nUSER $who\n", build_args={"who": "OK"})
    made = world.images.images[image]
    assert world.config(image)["User"] == "OK"
    assert world.images.images[made.parent].parent == "", "the first step's image has no parent"
    assert world.build("FROM scratch\nARG who\nUSER $who\n", build_args={"who": "OK"}) == image
