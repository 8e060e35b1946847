"""Docker 1.12's builder additions against a real daemon, through our CLI, the docker CLI 28
(classic builder, API 1.24) and the docker SDK for Python: COPY, ARG and build args, STOPSIGNAL
(and `docker stop` sending it), SHELL, HEALTHCHECK, a Dockerfile named anywhere in the context,
.dockerignore, labels, --force-rm, the failed-RUN wording by API version, and the cache."""

from __future__ import annotations

import io
import json
import os
import re

import pytest
from test_build import (  # noqa: F401  (real_cli is a fixture)
    api,
    build,
    built_id,
    containers,
    real_cli,
    tar_of,
    write_context,
)

from lib.poll import wait_for
from lib.require import require_module

DOCKERFILE = """FROM busybox
ARG GREETING=hello
ARG TARGET
COPY *.txt /copied/
COPY ["pack.tar", "/packed/"]
RUN echo "$GREETING $TARGET" > /greeting && env > /env-at-build
STOPSIGNAL SIGUSR1
SHELL ["/bin/sh", "-xc"]
RUN echo from-shell > /shell
HEALTHCHECK --interval=5s --retries=2 CMD wget -q -O- http://localhost/ || exit 1
CMD ["cat", "/greeting"]
"""


def context(tmp_path) -> str:
    return write_context(
        tmp_path / "ctx",
        {
            "sub/Build.df": DOCKERFILE,
            "a.txt": "A\n",
            "b.txt": "B\n",
            "secret.txt": "do not send\n",
            "debug.log": "noise\n",
            "pack.tar": tar_of({"inner": b"x"}),
            ".dockerignore": "secret.txt\n*.log\n",
        },
    )


def inspect(daemon, name: str) -> dict:
    status, _, data = api(daemon, "GET", f"/v1.24/images/{name}/json")
    assert status == 200, data
    return json.loads(data)


def build_by(client: str, daemon, real_cli, ctx: str, tag: str) -> str:  # noqa: F811
    if client == "ours":
        result = daemon.cli(
            "build",
            *("-f", os.path.join(ctx, "sub", "Build.df"), "--build-arg", "TARGET=world"),
            *("--label", "team=builders", "-t", tag, "--rm", ctx),
            timeout=120,
        )
        assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()
        return result.stdout.decode()
    if client == "cli28":
        result = real_cli(
            "build",
            *("-f", os.path.join(ctx, "sub", "Build.df"), "--build-arg", "TARGET=world"),
            *("--label", "team=builders", "-t", tag, ctx),
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.decode()
    docker = require_module("docker")
    sdk = docker.DockerClient(base_url=daemon.host, version="auto", timeout=120)
    try:
        _, logs = sdk.images.build(
            path=ctx,
            dockerfile="sub/Build.df",
            buildargs={"TARGET": "world"},
            labels={"team": "builders"},
            tag=tag,
            rm=True,
        )
        return "".join(m.get("stream", "") for m in logs)
    finally:
        sdk.close()


@pytest.mark.parametrize("client", ["ours", "cli28", "sdk"])
def test_new_instructions_through_each_client(daemon, real_cli, tmp_path, client):  # noqa: F811
    ctx = context(tmp_path)
    tag = f"instr/{client}"
    out = build_by(client, daemon, real_cli, ctx, tag)
    assert "Successfully built" in out
    doc = inspect(daemon, tag)
    cfg = doc["Config"]
    assert cfg["Labels"] == {"team": "builders"}
    assert cfg["StopSignal"] == "SIGUSR1"
    assert cfg["Shell"] == ["/bin/sh", "-xc"]
    assert cfg["Healthcheck"] == {
        "Test": ["CMD-SHELL", "wget -q -O- http://localhost/ || exit 1"],
        "Interval": 5_000_000_000,
        "Retries": 2,
    }
    assert not [e for e in cfg["Env"] if e.startswith(("GREETING=", "TARGET="))], "args stay out of Env"
    assert daemon.out("run", "--rm", tag) == "hello world\n"
    shown = daemon.out(
        "run",
        "--rm",
        tag,
        "sh",
        "-c",
        "cat /copied/a.txt /copied/b.txt /shell; ls /copied; ls /packed;"
        " grep -E '^(GREETING|TARGET)=' /env-at-build | sort",
    )
    assert shown == "A\nB\nfrom-shell\na.txt\nb.txt\npack.tar\nGREETING=hello\nTARGET=world\n"
    history = daemon.out("history", "--no-trunc", tag)
    assert "|2 GREETING=hello TARGET=world /bin/sh -c echo" in history
    assert re.search(r"#\(nop\) COPY multi:[0-9a-f]{64} in /copied/", history)


def test_dockerignore_also_hides_an_ignored_dockerfile_from_copy(daemon, real_cli, tmp_path):  # noqa: F811
    ctx = write_context(
        tmp_path / "ctx",
        {
            "Dockerfile": "FROM busybox\nCOPY . /ctx/\n",
            ".dockerignore": "Dockerfile\n.dockerignore\nlogs\n!logs/keep.txt\n**/*.tmp\n",
            "logs/keep.txt": "kept\n",
            "logs/drop.txt": "dropped\n",
            "deep/er/x.tmp": "tmp\n",
            "deep/er/y.txt": "y\n",
        },
    )
    expected = "/ctx/deep/er/y.txt\n/ctx/logs/keep.txt\n"
    built_id(build(daemon, ctx, "-t", "ignore/ours", "--rm"))
    listed = daemon.out("run", "--rm", "ignore/ours", "find", "/ctx", "-type", "f")
    assert sorted(listed.splitlines()) == expected.split()
    result = real_cli("build", "-t", "ignore/cli28", ctx)
    assert result.returncode == 0, result.stderr
    listed = daemon.out("run", "--rm", "ignore/cli28", "find", "/ctx", "-type", "f")
    assert sorted(listed.splitlines()) == expected.split()
    # Sent as a raw tar with everything in it: the daemon applies the same patterns.
    files = {n: b"x" for n in ("logs/keep.txt", "logs/drop.txt", "deep/er/x.tmp", "deep/er/y.txt")}
    files["Dockerfile"] = b"FROM busybox\nCOPY . /ctx/\n"
    files[".dockerignore"] = b"Dockerfile\n.dockerignore\nlogs\n!logs/keep.txt\n**/*.tmp\n"
    status, _, data = api(daemon, "POST", "/v1.24/build?t=ignore/raw", tar_of(files))
    assert status == 200 and b"Successfully built" in data, data
    listed = daemon.out("run", "--rm", "ignore/raw", "find", "/ctx", "-type", "f")
    assert sorted(listed.splitlines()) == expected.split()


def test_build_args_drive_the_cache_and_undeclared_ones_fail(daemon, real_cli, tmp_path):  # noqa: F811
    ctx = write_context(tmp_path / "ctx", {"Dockerfile": "FROM busybox\nARG V=0\nRUN echo v=$V > /v\n"})
    first = build(daemon, ctx, "--build-arg", "V=1", "-t", "args/a", "--rm")
    built_id(first)
    again = build(daemon, ctx, "--build-arg", "V=1", "-t", "args/a", "--rm")
    assert again.stdout.decode().count("Using cache") == 2 and "Running in" not in again.stdout.decode()
    changed = build(daemon, ctx, "--build-arg", "V=2", "-t", "args/b", "--rm")
    out = changed.stdout.decode()
    assert out.count("Using cache") == 1 and "Running in" in out, "the ARG step hits, the RUN misses"
    assert daemon.out("run", "--rm", "args/b", "cat", "/v") == "v=2\n"
    assert daemon.out("run", "--rm", "args/a", "cat", "/v") == "v=1\n"
    message = b"One or more build-args [nope] were not consumed, failing build."
    ours = build(daemon, ctx, "--build-arg", "nope=1")
    assert ours.returncode != 0 and message in ours.stderr, ours.stderr
    cli28 = real_cli("build", "--build-arg", "nope=1", ctx)
    assert cli28.returncode != 0 and message in cli28.stderr, cli28.stderr


def test_copy_content_changes_miss_the_cache(daemon, tmp_path):
    ctx = write_context(
        tmp_path / "ctx", {"Dockerfile": "FROM busybox\nCOPY f /f\nRUN cat /f\n", "f": "one\n"}
    )
    built_id(build(daemon, ctx, "-t", "copy/c", "--rm"))
    assert build(daemon, ctx, "--rm").stdout.decode().count("Using cache") == 2
    with open(os.path.join(ctx, "f"), "w") as f:
        f.write("two\n")
    out = build(daemon, ctx, "-t", "copy/c", "--rm").stdout.decode()
    assert "Using cache" not in out and "two\n" in out
    assert daemon.out("run", "--rm", "copy/c", "cat", "/f") == "two\n"


def test_failed_run_wording_follows_the_api_version(daemon, real_cli, tmp_path):  # noqa: F811
    body = tar_of({"Dockerfile": b"FROM busybox\nRUN false\n"})
    # Docker 1.7 (API 1.19) printed the Go list; Docker 1.8 (API 1.20) on quote the command.
    for version in ("1.9", "1.19"):
        _, _, old = api(daemon, "POST", f"/v{version}/build", body)
        assert b'"The command [/bin/sh -c false] returned a non-zero code: 1"' in old, old
    for version in ("1.20", "1.24"):
        _, _, new = api(daemon, "POST", f"/v{version}/build", body)
        assert b"\"The command '/bin/sh -c false' returned a non-zero code: 1\"" in new, new
    ctx = write_context(tmp_path / "ctx", {"Dockerfile": "FROM busybox\nRUN false\n"})
    cli28 = real_cli("build", ctx)
    assert b"The command '/bin/sh -c false' returned a non-zero code: 1" in cli28.stderr, cli28.stderr
    ours = build(daemon, ctx)
    assert b"The command [/bin/sh -c false] returned a non-zero code: 1" in ours.stderr


def test_force_rm_removes_the_failed_container(daemon, tmp_path):
    ctx = write_context(tmp_path / "ctx", {"Dockerfile": "FROM busybox\nRUN echo ok\nRUN exit 2\n"})
    before = containers(daemon)
    result = build(daemon, ctx, "--force-rm")
    assert result.returncode == 2
    assert containers(daemon) == before


def test_dockerfile_outside_the_context_is_refused(daemon, tmp_path):
    ctx = write_context(tmp_path / "ctx", {"Dockerfile": "FROM busybox\n"})
    outside = write_context(tmp_path / "other", {"Dockerfile": "FROM busybox\n"})
    result = build(daemon, ctx, "-f", os.path.join(outside, "Dockerfile"))
    assert result.returncode != 0 and b"must be within the build context" in result.stderr
    body = tar_of({"Dockerfile": b"FROM busybox\n"})
    status, _, data = api(daemon, "POST", "/v1.24/build?dockerfile=../Dockerfile", body)
    assert status == 400 and b"Forbidden path outside the build context" in data
    status, _, data = api(daemon, "POST", "/v1.24/build?labels=notjson", body)
    assert status == 400 and b"labels" in data


def test_docker_stop_sends_the_image_stop_signal(daemon, tmp_path):
    script = "trap 'echo got-usr1; exit 7' USR1; echo ready; while true; do sleep 0.1; done"
    ctx = write_context(
        tmp_path / "ctx",
        {"Dockerfile": f"FROM busybox\nSTOPSIGNAL SIGUSR1\nCMD {json.dumps(['sh', '-c', script])}\n"},
    )
    built_id(build(daemon, ctx, "-t", "stop/usr1", "--rm"))
    cid = daemon.out("run", "-d", "stop/usr1").strip()
    assert wait_for(lambda: "ready" in daemon.out("logs", cid), timeout=20), "the trap is set"
    assert (
        json.loads(api(daemon, "GET", f"/v1.24/containers/{cid}/json")[2])["Config"]["StopSignal"]
        == "SIGUSR1"
    )
    daemon.cli("stop", "-t", "30", cid, check=True, timeout=60)
    state = json.loads(api(daemon, "GET", f"/v1.24/containers/{cid}/json")[2])["State"]
    assert state["ExitCode"] == 7, "SIGUSR1 reached the trap (SIGTERM is ignored by PID 1, SIGKILL is 137)"
    assert "got-usr1" in daemon.out("logs", cid)


def test_sdk_build_errors_and_buildargs(daemon, tmp_path):
    docker = require_module("docker")
    client = docker.DockerClient(base_url=daemon.host, version="auto", timeout=120)
    try:
        fileobj = io.BytesIO(b'FROM busybox\nARG N\nRUN test "$N" = 3\n')
        img, _ = client.images.build(fileobj=fileobj, buildargs={"N": "3"}, labels={"k": "v"})
        assert img.labels == {"k": "v"}
        with pytest.raises(
            docker.errors.BuildError, match="'/bin/sh -c test \"\\$N\" = 3' returned a non-zero code: 1"
        ):
            client.images.build(fileobj=io.BytesIO(fileobj.getvalue()), buildargs={"N": "4"})
    finally:
        client.close()


def test_request_labels_are_a_cached_last_step(daemon, tmp_path):
    ctx = write_context(tmp_path / "ctx", {"Dockerfile": "FROM busybox\nLABEL from=file\nRUN true\n"})
    first = build(daemon, ctx, "--label", "a=1", "-t", "labels/x", "--rm")
    built_id(first)
    assert 'Step 4 : LABEL "a"="1"\n' in first.stdout.decode()
    again = build(daemon, ctx, "--label", "a=1", "--rm").stdout.decode()
    assert again.count("Using cache") == 3
    other = build(daemon, ctx, "--label", "a=2", "-t", "labels/y", "--rm").stdout.decode()
    assert other.count("Using cache") == 2, "only the labels step is new"
    assert inspect(daemon, "labels/y")["Config"]["Labels"] == {"from": "file", "a": "2"}
    assert inspect(daemon, "labels/x")["Config"]["Labels"] == {"from": "file", "a": "1"}


def test_a_stop_signal_given_at_create_is_kept_and_used(daemon):
    script = "trap 'exit 9' USR2; echo ready; while true; do sleep 0.1; done"
    body = json.dumps({"Image": "busybox", "Cmd": ["sh", "-c", script], "StopSignal": "USR2"}).encode()
    headers = {"Content-Type": "application/json"}
    status, _, data = api(daemon, "POST", "/v1.24/containers/create", body, headers)
    assert status == 201, data
    cid = json.loads(data)["Id"]
    assert api(daemon, "POST", f"/v1.24/containers/{cid}/start")[0] == 204
    assert wait_for(lambda: "ready" in daemon.out("logs", cid), timeout=20), "the trap is set"
    daemon.cli("stop", "-t", "30", cid, check=True, timeout=60)
    state = json.loads(api(daemon, "GET", f"/v1.24/containers/{cid}/json")[2])["State"]
    assert state["ExitCode"] == 9


def test_stream_details_of_today_s_engines_from_1_24(daemon):
    body = tar_of({"a.df": b"FROM busybox\nRUN echo to-stderr >&2\n"})
    query = "t=shape/x&nocache=1&dockerfile=a.df&dockerfile=FROM+nothing"  # the SDK's doubled value
    _, _, new = api(daemon, "POST", f"/v1.24/build?{query}", body)
    messages = [json.loads(line) for line in new.splitlines() if line.strip()]
    streams = [m.get("stream") for m in messages]
    assert "\x1b[91mto-stderr\n\x1b[0m" in streams, "standard error in red"
    assert streams[-1] == "Successfully tagged shape/x:latest\n"
    _, _, old = api(daemon, "POST", f"/v1.9/build?{query}", body)
    assert b"\\u001b[91m" not in old and b"Successfully tagged" not in old
    assert b"to-stderr" in old
