"""A container that swaps a directory for a symlink to / in a tight loop, raced against every file
endpoint (GET/HEAD archive, POST copy, PUT archive, `docker cp` both ways): no byte of the host's
files ever comes back, and nothing is ever written on the host (issue 15, item 1; the class of
CVE-2018-15664). Each race runs for a bounded few seconds."""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
import uuid

import pytest

from lib import tarballs, unixhttp
from lib.poll import poll
from lib.require import require

DOCKER_CLI = "/usr/local/bin/docker"
RACE_SECONDS = 4.0

# /w/d flips: a directory (holding the decoy tree), gone, a symlink to /, gone, the directory again.
# Through the symlink, /w/d/<host dir> names the host directory to any code that resolves the
# path once and then uses it by name on the host.
SWAPPER = """
set -e
mkdir -p /w/d{host}
echo decoy > /w/d{host}/marker
cd /w
touch /w/ready
while :; do mv d dd; ln -s / d; rm d; mv dd d; done
"""


@pytest.fixture
def host_secret():
    """A host directory outside every container root, with a file whose name and content are a
    token no container has: (directory, token)."""
    token = uuid.uuid4().hex
    base = tempfile.mkdtemp(prefix="ldt-secret-", dir="/tmp")
    with open(os.path.join(base, "marker"), "w") as f:
        f.write(f"HOST-{token}\n" * 50)
    with open(os.path.join(base, f"host-{token}"), "w") as f:
        f.write(token)
    yield base, token
    shutil.rmtree(base, ignore_errors=True)


def racing_container(daemon, script: str):
    """A container running `script` (which touches /w/ready once it has started), removed afterwards."""
    cid = daemon.out("run", "-d", "busybox", "sh", "-c", script).strip()

    def ready() -> bool:
        status, _, _ = unixhttp.request(daemon.sock, "HEAD", f"/v1.24/containers/{cid}/archive?path=/w/ready")
        return status == 200

    poll(ready, timeout=15, what="the swapping container to start")
    yield cid
    daemon.cli("rm", "-f", cid)


@pytest.fixture
def swapper(daemon, host_secret):
    yield from racing_container(daemon, SWAPPER.format(host=host_secret[0]))


def host_listing(base: str) -> dict[str, bytes]:
    return {name: open(os.path.join(base, name), "rb").read() for name in sorted(os.listdir(base))}


def race(action, workers: int = 1, seconds: float = RACE_SECONDS) -> int:
    """Call `action` from `workers` threads until RACE_SECONDS have passed; return how many times
    it ran. The first exception (a failed assertion) is raised here."""
    deadline = time.monotonic() + seconds
    rounds = [0] * workers
    errors: list[BaseException] = []

    def loop(i: int) -> None:
        try:
            while time.monotonic() < deadline and not errors:
                action()
                rounds[i] += 1
        except BaseException as exc:  # handed to the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=loop, args=(i,)) for i in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return sum(rounds)


def test_get_archive_never_returns_host_files(daemon, swapper, host_secret):
    base, token = host_secret
    seen = {"ok": 0}

    def get() -> None:
        status, headers, body = unixhttp.request(
            daemon.sock, "GET", f"/v1.24/containers/{swapper}/archive?path=/w/d{base}"
        )
        assert token.encode() not in body, "a host file came back through GET archive"
        assert token not in headers.get("X-Docker-Container-Path-Stat", "")
        seen["ok"] += status == 200

    assert race(get) > 10
    assert seen["ok"] > 0  # the race really read the container's directory, some of the time


def test_head_archive_never_stats_host_files(daemon, swapper, host_secret):
    base, _ = host_secret
    host_size = os.stat(os.path.join(base, "marker")).st_size
    sizes = set()

    def head() -> None:
        status, headers, _ = unixhttp.request(
            daemon.sock, "HEAD", f"/v1.24/containers/{swapper}/archive?path=/w/d{base}/marker"
        )
        if status == 200:
            stat = json.loads(base64.b64decode(headers["X-Docker-Container-Path-Stat"]))
            sizes.add(stat["size"])

    assert race(head) > 10
    assert host_size not in sizes, "HEAD archive gave the stat of a host file"
    assert sizes == {len(b"decoy\n")}


def test_post_copy_never_returns_host_files(daemon, swapper, host_secret):
    base, token = host_secret
    body = json.dumps({"Resource": f"/w/d{base}"}).encode()

    def copy() -> None:
        _, _, answer = unixhttp.request(
            daemon.sock,
            "POST",
            f"/v1.9/containers/{swapper}/copy",
            body,
            {"Content-Type": "application/json"},
        )
        assert token.encode() not in answer, "a host file came back through POST copy"

    assert race(copy) > 10


def test_put_archive_never_writes_on_the_host(daemon, swapper, host_secret):
    base, token = host_secret
    before = host_listing(base)
    upload = tarballs.tar_of({f"put-{token}": b"from the client\n"})

    def put() -> None:
        try:
            unixhttp.request(
                daemon.sock,
                "PUT",
                f"/v1.24/containers/{swapper}/archive?path=/w/d{base}",
                upload,
                {"Content-Type": "application/x-tar"},
            )
        except (BrokenPipeError, ConnectionResetError):
            pass  # a 404 (the directory was the symlink) may be sent before the body is read

    assert race(put) > 10
    assert host_listing(base) == before, "PUT archive wrote into a host directory"


def test_our_cp_never_returns_host_files(daemon, swapper, host_secret, tmp_path):
    base, token = host_secret
    out_dir = tmp_path / "ours"
    out_dir.mkdir()

    def ours() -> None:
        daemon.cli("cp", f"{swapper}:/w/d{base}", str(out_dir))

    # A client program per round is slow: more rounds, in parallel, to hit the window.
    assert race(ours, workers=4, seconds=2 * RACE_SECONDS) > 4
    assert token.encode() not in _tree_bytes(str(out_dir)), "docker cp brought a host file back"


def test_docker_cli_cp_both_ways_never_reads_or_writes_the_host(daemon, swapper, host_secret, tmp_path):
    # The docker CLI 28 uses HEAD + GET archive to copy out, HEAD + PUT archive to copy in.
    require(shutil.which(DOCKER_CLI), "the docker CLI 28 is not installed at /usr/local/bin/docker")
    base, token = host_secret
    before = host_listing(base)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    env.update({"DOCKER_HOST": daemon.host, "DOCKER_CONFIG": "/tmp/lxc-docker-test-cli-config"})
    src = tmp_path / f"put-{token}"
    src.write_text("from the docker CLI\n")
    out_dir = tmp_path / "cli"
    out_dir.mkdir()

    def cli28() -> None:
        for args in (
            ["cp", f"{swapper}:/w/d{base}", str(out_dir)],
            ["cp", str(src), f"{swapper}:/w/d{base}/"],
        ):
            subprocess.run([DOCKER_CLI, *args], capture_output=True, env=env, timeout=60)

    assert race(cli28, workers=4, seconds=2 * RACE_SECONDS) > 4
    # The file copied in may come back out (from the container's directory): only its name, then.
    got = _tree_bytes(str(out_dir)).replace(b"put-" + token.encode(), b"")
    assert token.encode() not in got, "docker cp brought a host file back"
    assert host_listing(base) == before, "docker cp wrote into a host directory"


def _tree_bytes(top: str) -> bytes:
    """Every name and file content under `top`, concatenated (symlinks not followed)."""
    buf = io.BytesIO()
    for dirpath, dirnames, filenames in os.walk(top):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            buf.write(name.encode() + b"\n")
            if os.path.isfile(path) and not os.path.islink(path):
                with open(path, "rb") as f:
                    buf.write(f.read())
    return buf.getvalue()


def test_the_race_fixture_really_swaps(daemon, swapper, host_secret):
    # Without a swap the tests above would prove nothing: both states are seen. /w/d/w/ready exists
    # only while /w/d is the symlink to /, the decoy only while it is the directory.
    base, _ = host_secret
    seen = set()

    def look() -> bool:
        for kind, path in (("link", "/w/d/w/ready"), ("dir", f"/w/d{base}/marker")):
            status, _, _ = unixhttp.request(
                daemon.sock, "HEAD", f"/v1.24/containers/{swapper}/archive?path={path}"
            )
            if status == 200:
                seen.add(kind)
        return len(seen) == 2

    poll(look, timeout=RACE_SECONDS * 2, what="/w/d to be seen both as a directory and as a symlink")


# /w/e flips between a directory and a symlink straight to the host directory (dangling inside the
# container, where that path does not exist): what lists the container's changes by path would
# list the host directory.
LINKER = """
set -e
mkdir -p /w/e
echo decoy > /w/e/decoy
touch /w/ready
cd /w
while :; do mv e ee; ln -s {host} e; rm e; mv ee e; done
"""


@pytest.fixture
def linker(daemon, host_secret):
    yield from racing_container(daemon, LINKER.format(host=host_secret[0]))


def test_diff_never_lists_host_files(daemon, linker, host_secret):
    _, token = host_secret
    seen = {"ok": 0}

    def diff() -> None:
        status, _, body = unixhttp.request(daemon.sock, "GET", f"/v1.24/containers/{linker}/changes")
        assert token.encode() not in body, "docker diff listed a host directory"
        seen["ok"] += status == 200

    assert race(diff) > 10
    assert seen["ok"] > 0


def test_size_never_counts_host_files(daemon, linker, host_secret):
    # `ps -s` adds up the container's layer: a (sparse) host file of 1 TB must never be in it.
    # (The path-based walk before had a window too narrow to hit in seconds: os.walk checks
    # islink just before it descends; this holds the descriptor walk to the same guarantee.)
    base, _ = host_secret
    huge = 1 << 40
    with open(os.path.join(base, "huge"), "wb") as f:
        f.truncate(huge)
    sizes = []

    def size() -> None:
        status, _, body = unixhttp.request(daemon.sock, "GET", "/v1.24/containers/json?size=1")
        if status == 200:
            sizes.extend(c.get("SizeRw", 0) for c in json.loads(body) if c["Id"] == linker)

    assert race(size) > 5
    assert sizes and max(sizes) < huge, "a host file was counted in the container's size"


def test_errors_name_container_paths_not_host_paths(daemon):
    cid = daemon.out("create", "busybox", "true").strip()
    try:
        daemon.out("start", "-a", cid)  # the container's layer now exists on the host
        upload = tarballs.tar_of({"f": b"x"})
        answers = [
            unixhttp.request(daemon.sock, "HEAD", f"/v1.24/containers/{cid}/archive?path=/no/such"),
            unixhttp.request(daemon.sock, "GET", f"/v1.24/containers/{cid}/archive?path=/bin/sh/x"),
            unixhttp.request(daemon.sock, "PUT", f"/v1.24/containers/{cid}/archive?path=/bin/sh", upload),
            unixhttp.request(daemon.sock, "PUT", f"/v1.24/containers/{cid}/archive?path=/no/dir", upload),
        ]
        for status, headers, body in answers:
            assert status in (400, 404), (status, body)
            assert daemon.base.encode() not in body and daemon.base not in str(headers)
    finally:
        daemon.cli("rm", "-f", cid)
