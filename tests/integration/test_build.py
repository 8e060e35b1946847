"""`docker build` against a real daemon: every instruction, the cache, ONBUILD, context sources,
bad input, the documentation's example Dockerfiles, and the docker CLI and SDK as clients."""

from __future__ import annotations

import base64
import http.client
import http.server
import io
import json
import os
import re
import shutil
import socket
import subprocess
import tarfile
import threading
import time

import pytest

from lib import unixhttp
from lib.require import require, require_module, require_tools

DOCKER_CLI = "/usr/local/bin/docker"


# -- helpers -------------------------------------------------------------------------------------


def write_context(base, files: dict) -> str:
    """Files by relative name: text, bytes, ("link", target) or (content, mode)."""
    os.makedirs(base, exist_ok=True)
    for name, spec in files.items():
        path = os.path.join(base, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if isinstance(spec, tuple) and spec[0] == "link":
            os.symlink(spec[1], path)
            continue
        mode = None
        if isinstance(spec, tuple):
            spec, mode = spec
        with open(path, "wb") as f:
            f.write(spec if isinstance(spec, bytes) else spec.encode())
        if mode is not None:
            os.chmod(path, mode)
    return str(base)


def build(daemon, context: str, *flags: str, input: bytes | None = None) -> subprocess.CompletedProcess:
    return daemon.cli("build", *flags, context, input=input, timeout=120)


def built_id(result: subprocess.CompletedProcess) -> str:
    out = result.stdout.decode()
    assert result.returncode == 0, (out, result.stderr.decode())
    return re.findall(r"Successfully built ([0-9a-f]{12})", out)[-1]


def image(daemon, name: str) -> dict:
    return api_json(daemon, "GET", f"/v1.9/images/{name}/json")


def config(daemon, name: str) -> dict:
    return image(daemon, name)["config"]


def exists(daemon, name: str) -> bool:
    return api(daemon, "GET", f"/v1.9/images/{name}/json")[0] == 200


def containers(daemon) -> set[str]:
    return {c["Id"] for c in api_json(daemon, "GET", "/containers/json?all=1")}


def run(daemon, img: str, *cmd: str) -> str:
    return daemon.out("run", "--rm", img, *cmd)


def api(daemon, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
    return unixhttp.request(daemon.sock, method, path, body, headers, timeout=120)


def api_json(daemon, method: str, path: str):
    status, _, data = api(daemon, method, path)
    assert status == 200, data
    return json.loads(data)


def tar_of(files: dict[str, bytes], mode: str = "w", owner: tuple[int, int] = (0, 0)) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, 1_700_000_000
            info.uid, info.gid = owner
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


class Served:
    """Files served over http on 127.0.0.1, for ADD URL and remote Dockerfiles."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.hits: list[str] = []
        files, hits = self.files, self.hits

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                hits.append(self.path)
                data = files.get(self.path)
                if data is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def served():
    s = Served()
    yield s
    s.close()


CLIENTS = ["ours", "cli28", "sdk"]


def build_with(client: str, daemon, ctx: str, tag: str, no_cache: bool = False) -> str:
    """Build `ctx` as `tag` with our CLI, the docker CLI 28 (classic builder) or the docker SDK;
    return the build output."""
    if client == "ours":
        result = build(daemon, ctx, "-t", tag, "--rm", *(["--no-cache"] if no_cache else []))
        built_id(result)
        return result.stdout.decode()
    if client == "cli28":
        require(shutil.which(DOCKER_CLI), "the docker CLI 28 is not installed at /usr/local/bin/docker")
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
        env.update(
            {
                "DOCKER_HOST": daemon.host,
                "DOCKER_CONFIG": "/tmp/lxc-docker-test-cli-config",
                "DOCKER_BUILDKIT": "0",
            }
        )
        args = [DOCKER_CLI, "build", "-t", tag, *(["--no-cache"] if no_cache else []), ctx]
        result = subprocess.run(args, capture_output=True, env=env, timeout=120)
        assert result.returncode == 0, result.stderr
        return result.stdout.decode()
    docker = require_module("docker")
    sdk = docker.DockerClient(base_url=daemon.host, version="auto", timeout=120)
    try:
        _, logs = sdk.images.build(path=ctx, tag=tag, rm=True, nocache=no_cache)
        return "".join(m.get("stream", "") for m in logs)
    finally:
        sdk.close()


# -- every instruction ---------------------------------------------------------------------------


@pytest.mark.parametrize("client", CLIENTS)
def test_all_instructions_make_the_expected_image(daemon, tmp_path, client):
    ctx = write_context(
        tmp_path / "ctx",
        {
            "hello.txt": "hello\n",
            "Dockerfile": """# Comment
FROM busybox
MAINTAINER Test <t@example.com>
RUN echo building; echo 'we are running some # of cool things' > /built.txt
env GREETING hello world
ADD hello.txt /app/
RUN cat /app/hello.txt && echo "$GREETING" > /greeting
EXPOSE 80 53/udp
VOLUME ["/data"]
WORKDIR /app
RUN pwd > /tmp/pwd
USER daemon
RUN id -u > /tmp/uid
ENTRYPOINT ["/bin/echo"]
CMD ["hi"]
""",
        },
    )
    tag = f"build/all-{client}"
    out = build_with(client, daemon, ctx, tag, no_cache=True)
    image_id = re.findall(r"Successfully built ([0-9a-f]{12})", out)[-1]
    assert "Step 1 : FROM busybox\n" in out
    assert "Step 3 : RUN echo building; echo 'we are running some # of cool things' > /built.txt\n" in out
    assert "Step 4 : ENV GREETING hello world\n" in out
    assert re.search(r" ---> Running in [0-9a-f]{12}\nbuilding\n ---> [0-9a-f]{12}\n", out)
    assert "hello\n" in out  # RUN output reaches the client
    assert "Removing intermediate container" in out
    doc = image(daemon, tag)
    assert doc["id"].startswith(image_id)
    assert doc["author"] == "Test <t@example.com>"
    cfg = doc["config"]
    assert cfg["Entrypoint"] == ["/bin/echo"] and cfg["Cmd"] == ["hi"]
    assert "GREETING=hello world" in cfg["Env"] and any(e.startswith("PATH=") for e in cfg["Env"])
    assert cfg["ExposedPorts"] == {"80/tcp": {}, "53/udp": {}}
    assert cfg["Volumes"] == {"/data": {}}
    assert cfg["WorkingDir"] == "/app" and cfg["User"] == "daemon"
    assert run(daemon, tag) == "hi\n"
    assert run(daemon, tag, "a", "b") == "a b\n"
    files = daemon.out(
        "run",
        "--rm",
        "--entrypoint",
        "/bin/cat",
        tag,
        "/built.txt",
        "/greeting",
        "/tmp/pwd",
        "/tmp/uid",
    )
    assert files == "we are running some # of cool things\nhello world\n/app\n1\n"
    history = daemon.out("history", "--no-trunc", tag)
    assert "/bin/sh -c #(nop) CMD [hi]" in history
    assert "/bin/sh -c #(nop) ENTRYPOINT [/bin/echo]" in history
    assert "/bin/sh -c #(nop) ENV GREETING=hello world" in history
    assert re.search(r"/bin/sh -c #\(nop\) ADD file:[0-9a-f]{64} in /app/", history)
    assert "/bin/sh -c echo building;" in history


def test_run_and_cmd_forms(daemon, tmp_path):
    ctx = write_context(
        tmp_path / "ctx",
        {
            "Dockerfile": """FROM busybox
RUN ["/bin/touch", "/exec-form"]
RUN ["/bin/sh", "-c", "echo $HOME > /exec-shell"]
RUN echo shell > /shell-form
CMD ["/bin/echo", "first"]
CMD echo "$HOME" last
""",
        },
    )
    built_id(build(daemon, ctx, "-t", "build/forms"))
    assert config(daemon, "build/forms")["Cmd"] == ["/bin/sh", "-c", 'echo "$HOME" last']
    assert run(daemon, "build/forms") == "/ last\n"  # only the last CMD counts
    assert run(daemon, "build/forms", "cat", "/exec-form", "/exec-shell", "/shell-form") == "/\nshell\n"


def test_entrypoint_forms_and_cmd_as_parameters(daemon, tmp_path):
    base = write_context(tmp_path / "base", {"Dockerfile": 'FROM busybox\nCMD ["echo", "from base"]\n'})
    built_id(build(daemon, base, "-t", "build/epbase"))
    shell = write_context(
        tmp_path / "shell", {"Dockerfile": "FROM build/epbase\nENTRYPOINT echo shell entry\n"}
    )
    built_id(build(daemon, shell, "-t", "build/epshell"))
    cfg = config(daemon, "build/epshell")
    assert cfg["Entrypoint"] == ["/bin/sh", "-c", "echo shell entry"]
    assert not cfg["Cmd"]  # the base image's CMD was meant for another entrypoint
    assert run(daemon, "build/epshell") == "shell entry\n"
    params = write_context(
        tmp_path / "params", {"Dockerfile": 'FROM busybox\nCMD ["-n", "3"]\nENTRYPOINT ["/usr/bin/seq"]\n'}
    )
    built_id(build(daemon, params, "-t", "build/epparams"))
    cfg = config(daemon, "build/epparams")
    assert cfg["Entrypoint"] == ["/usr/bin/seq"] and cfg["Cmd"] == ["-n", "3"]


def test_env_is_seen_by_later_steps_and_kept(daemon, tmp_path):
    ctx = write_context(
        tmp_path / "ctx",
        {
            "Dockerfile": """FROM busybox
ENV APP_DIR /opt/app
ENV FILE=${APP_DIR}/conf LEVEL="two words"
ADD Dockerfile $APP_DIR/
RUN test "$APP_DIR" = /opt/app && echo "$FILE|$LEVEL" > $APP_DIR/env.txt
ENV APP_DIR /srv
""",
        },
    )
    built_id(build(daemon, ctx, "-t", "build/env"))
    env = config(daemon, "build/env")["Env"]
    assert "APP_DIR=/srv" in env and "FILE=/opt/app/conf" in env and "LEVEL=two words" in env
    assert sum(1 for e in env if e.startswith("APP_DIR=")) == 1
    assert run(daemon, "build/env", "cat", "/opt/app/env.txt") == "/opt/app/conf|two words\n"
    assert "FROM busybox" in run(daemon, "build/env", "cat", "/opt/app/Dockerfile")
    assert run(daemon, "build/env", "sh", "-c", "echo $LEVEL") == "two words\n"


def test_volume_discards_what_later_steps_write_there(daemon, tmp_path):
    ctx = write_context(
        tmp_path / "ctx",
        {"Dockerfile": "FROM busybox\nVOLUME /data\nRUN echo lost > /data/x && echo kept > /outside\n"},
    )
    before = containers(daemon)
    built_id(build(daemon, ctx, "-t", "build/volume", "--rm"))
    assert containers(daemon) == before
    assert config(daemon, "build/volume")["Volumes"] == {"/data": {}}
    assert run(daemon, "build/volume", "sh", "-c", "cat /outside; ls /data") == "kept\n"


def test_add_files_directories_and_archives(daemon, tmp_path):
    ctx = write_context(
        tmp_path / "ctx",
        {
            "hello.txt": ("hello\n", 0o640),
            "dir/sub/file": ("in sub\n", 0o604),
            "dir/top": "top\n",
            "dir/link": ("link", "sub/file"),
            "data.tar.gz": tar_of({"etc/conf": b"gz\n"}, "w:gz", owner=(123, 45)),
            "data.tar.bz2": tar_of({"bz": b"bz2\n"}, "w:bz2"),
            "data.tar.xz": tar_of({"xz": b"xz\n"}, "w:xz"),
            "data.tar": tar_of({"plain": b"plain\n"}),
            "notes.gz": __import__("gzip").compress(b"not a tar\n"),
            "Dockerfile": """FROM busybox
ADD hello.txt /a/b/c/renamed.txt
ADD hello.txt /files/
ADD hello.txt /tmp
ADD dir /copied
ADD dir/ /merged/
ADD data.tar.gz /unpacked/gz/
ADD data.tar.bz2 /unpacked/bz2
ADD data.tar.xz /unpacked/xz
ADD data.tar /unpacked/plain
ADD notes.gz /notes/
""",
        },
    )
    os.chown(os.path.join(ctx, "hello.txt"), 1000, 1000)
    os.chmod(os.path.join(ctx, "dir"), 0o750)
    os.chmod(os.path.join(ctx, "dir", "sub"), 0o700)
    built_id(build(daemon, ctx, "-t", "build/add"))

    def stat(*paths: str) -> list[str]:
        out = run(daemon, "build/add", "stat", "-c", "%u:%g %a %F %n", *paths)
        return out.splitlines()

    assert stat("/a/b/c/renamed.txt", "/a/b", "/files/hello.txt", "/tmp/hello.txt") == [
        "0:0 640 regular file /a/b/c/renamed.txt",
        "0:0 755 directory /a/b",
        "0:0 640 regular file /files/hello.txt",
        "0:0 640 regular file /tmp/hello.txt",
    ]
    assert stat("/copied", "/copied/sub", "/copied/sub/file", "/copied/top", "/copied/link") == [
        "0:0 750 directory /copied",
        "0:0 700 directory /copied/sub",
        "0:0 604 regular file /copied/sub/file",
        "0:0 644 regular file /copied/top",
        "0:0 777 symbolic link /copied/link",
    ]
    assert run(daemon, "build/add", "cat", "/copied/link", "/merged/top") == "in sub\ntop\n"
    assert stat("/unpacked/gz/etc/conf")[0].startswith("123:45 644 regular file")
    assert run(
        daemon, "build/add", "cat", "/unpacked/bz2/bz", "/unpacked/xz/xz", "/unpacked/plain/plain"
    ) == ("bz2\nxz\nplain\n")
    assert stat("/notes/notes.gz")[0].startswith("0:0 644 regular file")  # gzip, but no tar inside


def test_add_into_an_existing_tree_keeps_what_was_there(daemon, tmp_path):
    ctx = write_context(
        tmp_path / "ctx",
        {
            "etc/added.conf": "added\n",
            "Dockerfile": "FROM busybox\nRUN echo keep > /etc/kept\nADD etc /etc/\n",
        },
    )
    built_id(build(daemon, ctx, "-t", "build/union"))
    assert run(daemon, "build/union", "cat", "/etc/kept", "/etc/added.conf", "/etc/passwd").startswith(
        "keep\nadded\nroot:"
    )
    assert run(daemon, "build/union", "stat", "-c", "%a", "/etc").strip() == "755"


def test_add_url(daemon, tmp_path, served):
    served.files["/files/data.tar.gz"] = tar_of({"inside": b"x"}, "w:gz")
    served.files["/files/plain.txt"] = b"downloaded\n"
    ctx = write_context(
        tmp_path / "ctx",
        {
            "Dockerfile": f"""FROM busybox
ADD {served.url("/files/data.tar.gz")} /dl/
ADD {served.url("/files/plain.txt")} /dl/renamed.txt
""",
        },
    )
    built_id(build(daemon, ctx, "-t", "build/url"))
    lines = run(daemon, "build/url", "stat", "-c", "%u:%g %a %s %n", "/dl/data.tar.gz", "/dl/renamed.txt")
    size = len(served.files["/files/data.tar.gz"])
    assert lines.splitlines() == [f"0:0 755 {size} /dl/data.tar.gz", "0:0 755 11 /dl/renamed.txt"]
    assert run(daemon, "build/url", "cat", "/dl/renamed.txt") == "downloaded\n"


# -- the cache -----------------------------------------------------------------------------------

CACHED = """FROM busybox
RUN echo one > /one
ENV MODE cached
ADD payload /payload
RUN cat /payload > /copy
CMD ["cat", "/copy"]
"""


def test_cache_hit_miss_and_no_cache(daemon, tmp_path):
    ctx = write_context(tmp_path / "ctx", {"payload": "v1\n", "Dockerfile": CACHED})
    first = built_id(build(daemon, ctx, "-t", "build/cache"))
    before = containers(daemon)
    again = build(daemon, ctx, "-t", "build/cache")
    assert built_id(again) == first
    assert again.stdout.decode().count(" ---> Using cache\n") == 5
    assert "Running in" not in again.stdout.decode()
    assert containers(daemon) == before  # a fully cached rebuild makes no container at all

    with open(os.path.join(ctx, "payload"), "w") as f:
        f.write("v2\n")
    changed = build(daemon, ctx, "-t", "build/cache")
    second = built_id(changed)
    out = changed.stdout.decode()
    assert second != first
    # RUN and ENV before the ADD hit; the ADD and what follows it miss.
    assert out.count(" ---> Using cache\n") == 2
    assert out.index("Step 4 : ADD") < out.index("Running in")
    assert run(daemon, "build/cache") == "v2\n"

    with open(os.path.join(ctx, "payload"), "w") as f:
        f.write("v1\n")
    assert built_id(build(daemon, ctx)) == first  # the old images are still the cache

    nocache = build(daemon, ctx, "--no-cache")
    assert "Using cache" not in nocache.stdout.decode()
    assert built_id(nocache) not in (first, second)


def test_cache_follows_directory_and_url_content(daemon, tmp_path, served):
    served.files["/remote.txt"] = b"r1\n"
    dockerfile = f"FROM busybox\nADD tree /tree\nADD {served.url('/remote.txt')} /remote.txt\n"
    ctx = write_context(tmp_path / "ctx", {"tree/a/b": "1", "tree/c": "2", "Dockerfile": dockerfile})
    first = built_id(build(daemon, ctx))
    assert built_id(build(daemon, ctx)) == first
    with open(os.path.join(ctx, "tree", "a", "b"), "w") as f:
        f.write("changed")
    second = built_id(build(daemon, ctx))
    assert second != first
    served.files["/remote.txt"] = b"r2\n"
    third = build(daemon, ctx)
    assert built_id(third) != second
    assert third.stdout.decode().count("Using cache") == 1  # the directory hit, the URL missed


def test_workdir_and_user_are_part_of_the_cache_key(daemon, tmp_path):
    one = write_context(tmp_path / "one", {"Dockerfile": "FROM busybox\nWORKDIR /a\nRUN pwd > /where\n"})
    two = write_context(tmp_path / "two", {"Dockerfile": "FROM busybox\nWORKDIR /b\nRUN pwd > /where\n"})
    a, b = built_id(build(daemon, one)), built_id(build(daemon, two))
    assert run(daemon, a, "cat", "/where") == "/a\n" and run(daemon, b, "cat", "/where") == "/b\n"
    rel = write_context(tmp_path / "rel", {"Dockerfile": "FROM busybox\nWORKDIR /a\nWORKDIR b/c\n"})
    assert config(daemon, built_id(build(daemon, rel)))["WorkingDir"] == "/a/b/c"


# -- ONBUILD ---------------------------------------------------------------------------------------


def test_onbuild_across_three_generations(daemon, tmp_path):
    parent = write_context(
        tmp_path / "parent",
        {
            "Dockerfile": """FROM busybox
ONBUILD ADD . /app/src
ONBUILD RUN cat /app/src/msg > /app/built
CMD ["cat", "/app/built"]
""",
        },
    )
    built_id(build(daemon, parent, "-t", "build/onparent"))
    assert config(daemon, "build/onparent")["OnBuild"] == [
        "ADD . /app/src",
        "RUN cat /app/src/msg > /app/built",
    ]
    assert daemon.cli("run", "--rm", "build/onparent", "ls", "/app").returncode != 0  # not run here

    child = write_context(
        tmp_path / "child", {"msg": "child message\n", "Dockerfile": "FROM build/onparent\n"}
    )
    result = build(daemon, child, "-t", "build/onchild")
    built_id(result)
    out = result.stdout.decode()
    assert "# Executing 2 build triggers\n" in out
    assert "Step onbuild-0 : ADD . /app/src\n" in out and "Step onbuild-1 : RUN cat /app/src/msg" in out
    assert run(daemon, "build/onchild") == "child message\n"
    assert not config(daemon, "build/onchild")["OnBuild"]

    grandchild = write_context(
        tmp_path / "grandchild",
        {"msg": "grandchild message\n", "Dockerfile": "FROM build/onchild\nRUN echo g > /g\n"},
    )
    result = build(daemon, grandchild, "-t", "build/ongrandchild")
    built_id(result)
    assert "Executing" not in result.stdout.decode()
    assert run(daemon, "build/ongrandchild") == "child message\n"
    assert not config(daemon, "build/ongrandchild")["OnBuild"]


def test_failing_trigger_fails_the_from(daemon, tmp_path):
    parent = write_context(tmp_path / "p", {"Dockerfile": "FROM busybox\nONBUILD RUN exit 7\n"})
    built_id(build(daemon, parent, "-t", "build/badtrigger"))
    child = write_context(tmp_path / "c", {"Dockerfile": "FROM build/badtrigger\nCMD x\n"})
    result = build(daemon, child, "-t", "build/badtriggerchild")
    assert result.returncode == 7
    assert b"The command [/bin/sh -c exit 7] returned a non-zero code: 7" in result.stderr
    assert not exists(daemon, "build/badtriggerchild")


# -- several FROMs, output options -----------------------------------------------------------------


def test_several_froms_make_several_images(daemon, tmp_path):
    ctx = write_context(
        tmp_path / "ctx",
        {
            "Dockerfile": "FROM busybox\nRUN echo foo > bar\n# ==> first\n\n"
            "FROM busybox\nRUN echo moo > oink\n"
        },
    )
    result = build(daemon, ctx, "-t", "build/multi")
    final = built_id(result)
    ids = re.findall(
        r"Step 2 : RUN echo foo > bar\n ---> Running in \w+\n ---> (\w+)", result.stdout.decode()
    )
    assert ids and ids[0] != final
    assert run(daemon, ids[0], "cat", "/bar") == "foo\n"
    assert run(daemon, "build/multi", "cat", "/oink") == "moo\n"
    assert daemon.cli("run", "--rm", "build/multi", "cat", "/bar").returncode != 0


def test_rm_and_quiet(daemon, tmp_path):
    ctx = write_context(tmp_path / "ctx", {"Dockerfile": "FROM busybox\nRUN echo visible-output\nRUN true\n"})
    before = containers(daemon)
    kept = build(daemon, ctx, "--no-cache")  # Docker 0.9's default: keep them
    built_id(kept)
    assert len(containers(daemon) - before) == 2
    before = containers(daemon)
    built_id(build(daemon, ctx, "--no-cache", "--rm=false"))
    assert len(containers(daemon) - before) == 2
    before = containers(daemon)
    removed = build(daemon, ctx, "--no-cache", "--rm")
    built_id(removed)
    assert containers(daemon) == before
    assert "Removing intermediate container" in removed.stdout.decode()
    quiet = build(daemon, ctx, "--no-cache", "-q", "--rm")
    out = quiet.stdout.decode()
    assert "Step 2 : RUN echo visible-output\n" in out and "\nvisible-output\n" not in out
    built_id(quiet)


def test_failing_run(daemon, tmp_path):
    ctx = write_context(tmp_path / "ctx", {"Dockerfile": "FROM busybox\nRUN echo before\nRUN exit 3\n"})
    before = containers(daemon)
    result = build(daemon, ctx, "-t", "build/failing", "--rm")
    assert result.returncode == 3
    assert b"The command [/bin/sh -c exit 3] returned a non-zero code: 3" in result.stderr
    assert not exists(daemon, "build/failing")
    # The failed step's container stays for inspection (as in Docker); the one before it went.
    assert len(containers(daemon) - before) == 1


# -- context sources -------------------------------------------------------------------------------


def test_dockerfile_from_stdin(daemon, served):
    served.files["/remote.txt"] = b"over http\n"
    text = f'FROM busybox\nADD {served.url("/remote.txt")} /remote.txt\nCMD ["cat", "/remote.txt"]\n'
    result = build(daemon, "-", "-t", "build/stdin", input=text.encode())
    built_id(result)
    assert run(daemon, "build/stdin") == "over http\n"
    no_context = build(daemon, "-", "-t", "build/stdinadd", input=b"FROM busybox\nADD file /file\n")
    assert no_context.returncode != 0
    assert b"Dockerfile line 2: ADD file /file" in no_context.stderr and b"build context" in no_context.stderr
    assert not exists(daemon, "build/stdinadd")


def test_context_tarball_from_stdin(daemon):
    data = tar_of({"Dockerfile": b"FROM busybox\nADD f /f\n", "f": b"from the tarball\n"}, "w:gz")
    image_id = built_id(build(daemon, "-", input=data))
    assert run(daemon, image_id, "cat", "/f") == "from the tarball\n"


def test_dockerfile_at_a_url(daemon, served):
    served.files["/Dockerfile"] = b'FROM busybox\nCMD ["echo", "remote dockerfile"]\n'
    built_id(build(daemon, served.url("/Dockerfile"), "-t", "build/url-dockerfile"))
    assert run(daemon, "build/url-dockerfile") == "remote dockerfile\n"
    missing = build(daemon, served.url("/nothing"), "-t", "build/url-missing")
    assert missing.returncode != 0 and b"404" in missing.stderr
    assert not exists(daemon, "build/url-missing")


@pytest.fixture
def git_server(tmp_path):
    require_tools("git")
    base = tmp_path / "git"
    repo = base / "repo"
    write_context(
        repo,
        {
            "Dockerfile": 'FROM busybox\nADD greeting /greeting\nCMD ["cat", "/greeting"]\n',
            "greeting": "from git\n",
        },
    )
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-C", str(repo)]
    for args in (["init", "-q"], ["add", "."], ["commit", "-q", "-m", "first"]):
        subprocess.run(git + args, check=True, capture_output=True)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [
            "git",
            "daemon",
            "--reuseaddr",
            "--export-all",
            f"--base-path={base}",
            "--listen=127.0.0.1",
            f"--port={port}",
            str(base),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    pytest.fail("git daemon did not start")
                time.sleep(0.02)
        yield f"git://127.0.0.1:{port}/repo"
    finally:
        proc.terminate()
        proc.wait(10)


def test_git_repository_context(daemon, git_server):
    built_id(build(daemon, git_server, "-t", "build/git"))
    assert run(daemon, "build/git") == "from git\n"
    bad = build(daemon, git_server + "-missing", "-t", "build/git-missing")
    assert bad.returncode != 0 and b"git" in bad.stderr
    assert not exists(daemon, "build/git-missing")


# -- bad input -------------------------------------------------------------------------------------

BAD = {
    "empty": ("", "cannot be empty", None, {}),
    "not-from-first": ("# c\nRUN echo hi\nFROM busybox\n", "FROM", 2, {}),
    "unknown": ("FROM busybox\nRUN true\nFROOM x\n", "Unknown instruction: FROOM", 3, {}),
    "parent-path": ("FROM busybox\nRUN true\nADD ../outside.txt /x\n", "outside the build context", 3, {}),
    "absolute": ("FROM busybox\nRUN true\nADD /etc/passwd /x\n", "relative to the build context", 3, {}),
    "symlink-file": (
        "FROM busybox\nRUN true\nADD evil /x\n",
        "outside the build context",
        3,
        {"evil": ("link", "/etc/passwd")},
    ),
    "symlink-up": (
        "FROM busybox\nRUN true\nADD sneaky /x\n",
        "outside the build context",
        3,
        {"sneaky": ("link", "../outside.txt")},
    ),
    "symlink-dir": (
        "FROM busybox\nRUN true\nADD etcdir/passwd /x\n",
        "outside the build context",
        3,
        {"etcdir": ("link", "/etc")},
    ),
    "missing-file": ("FROM busybox\nRUN true\nADD nothing /x\n", "no such file", 3, {}),
    "url-404": ("FROM busybox\nRUN true\nADD {url} /x\n", "404", 3, {}),
    "url-refused": ("FROM busybox\nRUN true\nADD http://127.0.0.1:1/x /x\n", "Error downloading", 3, {}),
    "url-no-name": ("FROM busybox\nADD {root} /dir/\n", "cannot determine filename", 2, {}),
    "json": ('FROM busybox\nRUN true\nCMD ["echo", hi]\n', "malformed JSON array", 3, {}),
    "no-image": ("FROM build/does-not-exist\nRUN true\n", "No such image", 1, {}),
    "onbuild-onbuild": ("FROM busybox\nONBUILD ONBUILD RUN x\n", "ONBUILD ONBUILD", 2, {}),
    "onbuild-from": ("FROM busybox\nONBUILD FROM busybox\n", "FROM isn't allowed", 2, {}),
    "onbuild-maintainer": ("FROM busybox\nONBUILD MAINTAINER me\n", "MAINTAINER isn't allowed", 2, {}),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input(daemon, tmp_path, served, case):
    text, message, line, files = BAD[case]
    (tmp_path / "outside.txt").write_text("a host file\n")
    text = text.format(url=served.url("/missing"), root=served.url(""))
    ctx = write_context(tmp_path / "ctx", dict(files, Dockerfile=text))
    tag = f"build/bad-{case}"
    before = containers(daemon)
    result = build(daemon, ctx, "-t", tag, "--rm")
    err = result.stderr.decode()
    assert result.returncode != 0, result.stdout
    assert message in err, err
    if line is not None:
        assert f"Dockerfile line {line}:" in err, err
    assert not exists(daemon, tag)
    assert containers(daemon) == before


def test_client_side_mistakes(daemon, tmp_path):
    missing = build(daemon, str(tmp_path / "nowhere"))
    assert missing.returncode != 0 and b"not a directory" in missing.stderr
    empty = write_context(tmp_path / "empty", {"README": "no Dockerfile here"})
    result = build(daemon, empty)
    assert result.returncode != 0 and b"no Dockerfile found in" in result.stderr
    bad_tag = build(daemon, empty, "-t", "Not/Valid")
    assert bad_tag.returncode != 0 and b"Not/Valid" in bad_tag.stderr


def test_contexts_are_cleaned_up(daemon, tmp_path):
    ctx = write_context(tmp_path / "ctx", {"f": "x", "Dockerfile": "FROM busybox\nADD f /f\n"})
    built_id(build(daemon, ctx))
    assert build(daemon, "-", input=b"FROM busybox\nADD f /f\n").returncode != 0
    leftovers = [n for n in os.listdir(os.path.join(daemon.root, "tmp")) if n.startswith("build-")]
    assert leftovers == []


def test_symlinks_inside_a_copied_directory_are_copied_as_links(daemon, tmp_path):
    ctx = write_context(
        tmp_path / "ctx",
        {
            "tree/passwd": ("link", "/etc/passwd"),
            "tree/x": "x",
            "Dockerfile": "FROM busybox\nADD tree /tree\n",
        },
    )
    image_id = built_id(build(daemon, ctx))
    assert run(daemon, image_id, "readlink", "/tree/passwd") == "/etc/passwd\n"
    # Inside the container the link names the image's own file, never the host's.
    assert run(daemon, image_id, "cat", "/tree/passwd") == run(daemon, "busybox", "cat", "/etc/passwd")


def test_add_does_not_write_through_symlinks_in_the_image(daemon, tmp_path):
    ctx = write_context(
        tmp_path / "ctx",
        {
            "f": "payload\n",
            "Dockerfile": "FROM busybox\nRUN ln -s / /escape && ln -s /etc /etclink\n"
            "ADD f /escape/tmp/via-root-link\nADD f /etclink/\n",
        },
    )
    image_id = built_id(build(daemon, ctx))
    assert run(daemon, image_id, "cat", "/tmp/via-root-link", "/etc/f") == "payload\npayload\n"
    assert not os.path.exists("/tmp/via-root-link") and not os.path.exists("/etc/f")


# -- the documentation's examples, on busybox ------------------------------------------------------

FAKE = "printf '#!/bin/sh\\necho {name} \"$@\"\\n' > {path} && chmod +x {path}"

EXAMPLES = {
    "nodejs": (
        {
            "index.js": "console.log('Hello World');\n",
            "package.json": '{"name": "docker-centos-hello"}\n',
            "Dockerfile": f"""# DOCKER-VERSION 0.3.4
FROM busybox

# Enable EPEL for Node.js
RUN echo epel > /epel-release
# Install Node.js and npm
RUN {FAKE.format(name="node", path="/bin/node")}

# Bundle app source
ADD . /src
# Install app dependencies
RUN cd /src; ls > /src/installed

EXPOSE 8080
CMD ["node", "/src/index.js"]
""",
        },
        {"Cmd": ["node", "/src/index.js"], "ExposedPorts": {"8080/tcp": {}}},
        [],
        "node /src/index.js\n",
    ),
    "redis": (
        {
            "Dockerfile": f"""FROM          busybox
RUN           echo update
RUN           {FAKE.format(name="redis-server", path="/usr/bin/redis-server")}
EXPOSE       6379
ENTRYPOINT   ["/usr/bin/redis-server"]
""",
        },
        {"Entrypoint": ["/usr/bin/redis-server"], "ExposedPorts": {"6379/tcp": {}}},
        ["--port", "7000"],
        "redis-server --port 7000\n",
    ),
    "mongodb": (
        {
            "Dockerfile": f"""FROM busybox:latest
# Add 10gen official apt source to the sources list
RUN echo 'deb http://downloads-distro.mongodb.org/repo/ubuntu-upstart dist 10gen' | tee /etc/mongodb.list
# Hack for initctl not being available in Ubuntu
RUN ln -s /bin/true /sbin/initctl
# Install MongoDB
RUN {FAKE.format(name="mongod", path="/usr/bin/mongod")}
# Create the MongoDB data directory
RUN mkdir -p /data/db
EXPOSE 27017
ENTRYPOINT ["usr/bin/mongod"]
""",
        },
        {"Entrypoint": ["usr/bin/mongod"], "ExposedPorts": {"27017/tcp": {}}},
        ["--smallfiles"],
        "mongod --smallfiles\n",
    ),
    "riak": (
        {
            "supervisord.conf": "[supervisord]\nnodaemon=true\n",
            "Dockerfile": f"""# Riak
#
# VERSION          0.1.0

# Use the Ubuntu base image provided by dotCloud
FROM busybox
MAINTAINER Hector Castro hector@basho.com

# Install and setup project dependencies
RUN mkdir -p /var/run/sshd
RUN mkdir -p /var/log/supervisor
ADD supervisord.conf /etc/supervisor/conf.d/supervisord.conf
RUN echo 'root:basho' > /tmp/chpasswd
RUN {FAKE.format(name="supervisord", path="/usr/bin/supervisord")}
RUN echo "ulimit -n 4096" >> /etc/default-riak

# Expose Riak Protocol Buffers and HTTP interfaces, along with SSH
EXPOSE 8087 8098 22
CMD ["/usr/bin/supervisord"]
""",
        },
        {"Cmd": ["/usr/bin/supervisord"], "ExposedPorts": {"8087/tcp": {}, "8098/tcp": {}, "22/tcp": {}}},
        [],
        "supervisord\n",
    ),
    "supervisor": (
        {
            "supervisord.conf": "[supervisord]\nnodaemon=true\n\n[program:sshd]\ncommand=/usr/sbin/sshd -D\n",
            "Dockerfile": f"""FROM busybox:latest
MAINTAINER examples@docker.io
RUN echo "deb http://archive.ubuntu.com/ubuntu precise main universe" > /etc/sources.list
RUN mkdir -p /var/run/sshd
RUN mkdir -p /var/log/supervisor
ADD supervisord.conf /etc/supervisor/conf.d/supervisord.conf
RUN {FAKE.format(name="supervisord", path="/usr/bin/supervisord")}
EXPOSE 22 80
CMD ["/usr/bin/supervisord"]
""",
        },
        {"Cmd": ["/usr/bin/supervisord"], "ExposedPorts": {"22/tcp": {}, "80/tcp": {}}},
        [],
        "supervisord\n",
    ),
    "cfengine": (
        {
            "Dockerfile": f"""FROM busybox
MAINTAINER Eystein Måløy Stenberg <eytein.stenberg@gmail.com>

RUN mkdir -p /var/cfengine/bin /var/cfengine/inputs
# install cfe-docker process management policy
RUN {FAKE.format(name="managing", path="/var/cfengine/bin/docker_processes_run.sh")}
RUN mkdir -p /var/run/sshd
RUN echo "root:password" > /tmp/chpasswd # need a password for ssh

ENTRYPOINT ["/var/cfengine/bin/docker_processes_run.sh"]
""",
        },
        {"Entrypoint": ["/var/cfengine/bin/docker_processes_run.sh"], "Cmd": None},
        ["/usr/sbin/sshd", "/etc/init.d/apache2 start"],
        "managing /usr/sbin/sshd /etc/init.d/apache2 start\n",
    ),
    "volumes": (
        {
            "Dockerfile": """# BUILD-USING:      docker build -t data .
# RUN-USING:        docker run -name DATA data
FROM               busybox
VOLUME             ["/var/volume1", "/var/volume2"]
CMD                ["/usr/bin/true"]
""",
        },
        {"Volumes": {"/var/volume1": {}, "/var/volume2": {}}, "Cmd": ["/usr/bin/true"]},
        None,
        None,
    ),
}


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_documentation_examples(daemon, tmp_path, name, client):
    files, expected, args, output = EXAMPLES[name]
    ctx = write_context(tmp_path / name, files)
    tag = f"build/example-{name}-{client}"
    before = containers(daemon)
    assert "Successfully built" in build_with(client, daemon, ctx, tag)
    assert containers(daemon) == before
    cfg = config(daemon, tag)
    for key, value in expected.items():
        assert (cfg.get(key) or None) == value, (key, cfg.get(key))
    assert cfg["User"] == "" and cfg["WorkingDir"] == ""
    if args is not None:
        assert run(daemon, tag, *args) == output
    if name == "cfengine":
        assert image(daemon, tag)["author"] == "Eystein Måløy Stenberg <eytein.stenberg@gmail.com>"


# -- the Remote API, the docker CLI and the docker SDK ---------------------------------------------


def test_api_stream_error_detail_and_registry_header(daemon):
    body = tar_of({"Dockerfile": b"FROM busybox\nRUN echo api-output\nRUN exit 2\n"})
    auth = base64.urlsafe_b64encode(json.dumps({"https://index.docker.io/v1/": {"auth": ""}}).encode())
    status, headers, data = api(
        daemon,
        "POST",
        "/v1.9/build?rm=1",
        body,
        {"Content-Type": "application/tar", "X-Registry-Config": auth.decode()},
    )
    assert status == 200 and headers["Content-Type"] == "application/json"
    messages = [json.loads(line) for line in data.splitlines() if line.strip()]
    streams = "".join(m.get("stream", "") for m in messages)
    assert "Step 1 : FROM busybox\n" in streams and "api-output\n" in streams
    assert messages[-1] == {
        "errorDetail": {"message": "The command [/bin/sh -c exit 2] returned a non-zero code: 2", "code": 2},
        "error": "The command [/bin/sh -c exit 2] returned a non-zero code: 2",
    }
    status, _, data = api(daemon, "POST", "/v1.9/build?t=Bad%20Name", body, {"X-Registry-Config": "%%%"})
    assert status == 400
    status, headers, data = api(daemon, "POST", "/v1.7/build", tar_of({"Dockerfile": b"FROM busybox\n"}))
    assert status == 200 and headers["Content-Type"].startswith("text/plain")
    assert data.decode().startswith("Step 1 : FROM busybox\n") and "Successfully built" in data.decode()


def test_api_remote_and_bare_dockerfile_body(daemon, served):
    served.files["/Dockerfile"] = b'FROM busybox\nCMD ["true"]\n'
    status, _, data = api(daemon, "POST", "/v1.9/build?t=build/apiremote&remote=" + served.url("/Dockerfile"))
    assert status == 200 and b"Successfully built" in data, data
    assert config(daemon, "build/apiremote")["Cmd"] == ["true"]
    status, _, data = api(daemon, "POST", "/v1.9/build?t=build/apibare", b'FROM busybox\nCMD ["bare"]\n')
    assert status == 200 and b"Successfully built" in data, data
    assert config(daemon, "build/apibare")["Cmd"] == ["bare"]
    status, _, data = api(daemon, "POST", "/v1.24/build", b"FROM busybox\nNOPE x\n")
    assert status == 400 and b"Dockerfile line 2: Unknown instruction: NOPE" in data


@pytest.fixture
def real_cli(daemon):
    require(shutil.which(DOCKER_CLI), "the docker CLI 28 is not installed at /usr/local/bin/docker")

    def run_cli(*args: str, input: bytes | None = None) -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
        env.update(
            {
                "DOCKER_HOST": daemon.host,
                "DOCKER_CONFIG": "/tmp/lxc-docker-test-cli-config",
                "DOCKER_BUILDKIT": "0",
            }
        )
        return subprocess.run([DOCKER_CLI, *args], input=input, capture_output=True, env=env, timeout=120)

    return run_cli


def test_docker_cli_builds(daemon, real_cli, tmp_path):
    ctx = write_context(
        tmp_path / "ctx",
        {
            "f": "cli\n",
            "Dockerfile": 'FROM busybox\nADD f /f\nRUN cat /f\nENV WHO cli28\nCMD ["cat", "/f"]\n',
        },
    )
    before = containers(daemon)
    first = real_cli("build", "-t", "cli28/build:v1", ctx)
    assert first.returncode == 0, first.stderr
    assert b"Successfully built" in first.stdout
    assert containers(daemon) == before  # API 1.24 removes intermediate containers by default
    again = real_cli("build", "-t", "cli28/build:v1", ctx)
    assert again.stdout.count(b"Using cache") == 4
    assert "WHO=cli28" in config(daemon, "cli28/build:v1")["Env"]
    assert run(daemon, "cli28/build:v1") == "cli\n"
    quiet = real_cli("build", "-q", ctx)
    assert quiet.returncode == 0 and re.fullmatch(rb"sha256:[0-9a-f]{64}\n", quiet.stdout), quiet.stdout
    failed = real_cli("build", "-", input=b"FROM busybox\nRUN exit 4\n")
    assert failed.returncode == 4
    assert b"returned a non-zero code: 4" in failed.stderr


def test_docker_sdk_builds(daemon, tmp_path):
    docker = require_module("docker")
    ctx = write_context(tmp_path / "ctx", {"Dockerfile": 'FROM busybox\nEXPOSE 8000\nCMD ["echo", "sdk"]\n'})
    client = docker.DockerClient(base_url=daemon.host, version="auto", timeout=120)
    try:
        img, logs = client.images.build(path=ctx, tag="sdk/build:v1", rm=True)
        assert "sdk/build:v1" in img.tags
        assert img.attrs["Config"]["ExposedPorts"] == {"8000/tcp": {}}
        assert any("Successfully built" in m.get("stream", "") for m in logs)
        img2, _ = client.images.build(fileobj=io.BytesIO(b'FROM busybox\nCMD ["echo", "fileobj"]\n'))
        assert img2.attrs["Config"]["Cmd"] == ["echo", "fileobj"]
        with pytest.raises(docker.errors.BuildError, match="returned a non-zero code: 5"):
            client.images.build(fileobj=io.BytesIO(b"FROM busybox\nRUN exit 5\n"))
        with pytest.raises(docker.errors.APIError, match="Unknown instruction"):
            client.images.build(fileobj=io.BytesIO(b"FROM busybox\nWHAT x\n"))
    finally:
        client.close()


def test_build_on_vfs(daemon_factory, busybox_tar, tmp_path):
    d = daemon_factory("-s", "vfs").start()
    with open(busybox_tar, "rb") as f:
        d.cli("import", "-", "busybox", input=f.read(), check=True)
    ctx = write_context(
        tmp_path / "ctx",
        {"a/b": "vfs\n", "Dockerfile": 'FROM busybox\nADD a /a\nRUN cat /a/b > /c\nCMD ["cat", "/c"]\n'},
    )
    built_id(build(d, ctx, "-t", "vfs/build", "--rm"))
    assert d.out("run", "--rm", "vfs/build") == "vfs\n"
    assert "Using cache" in build(d, ctx).stdout.decode()
