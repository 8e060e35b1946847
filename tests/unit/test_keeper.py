"""The keeper's protocol, with plain processes in place of container inits (no root needed): it
spawns with the given stdio, reports the exit code of what it holds, even of a process that died
before it was held, gives the held descriptors back, and passes a stdin close on."""

from __future__ import annotations

import os
import queue
import shutil

import pytest

from lxc_docker.execution.keptio import KeptIO
from lxc_docker.execution.native.keeperclient import KeeperClient, KeeperError

SH = shutil.which("sh") or "/bin/sh"


@pytest.fixture
def keeper():
    exits: queue.Queue[tuple[str, int]] = queue.Queue()
    client = KeeperClient(None, on_exit=lambda id, code: exits.put((id, code)), on_lost=lambda: None)
    client.exits = exits
    yield client
    client.close()


def spawn(keeper, script: str, stdin: int | None = None) -> tuple[int, int]:
    """Run `sh -c script` through the keeper; returns (pid, read end of its stdout)."""
    out_r, out_w = os.pipe2(os.O_CLOEXEC)
    sync_r, sync_w = os.pipe2(os.O_CLOEXEC)  # stands for the init's socket (fd 3)
    fds = ([] if stdin is None else [stdin]) + [out_w, out_w, sync_w]
    answer, _ = keeper.request({"op": "spawn", "argv": [SH, "-c", script], "stdin": stdin is not None}, fds)
    for fd in (out_w, sync_r, sync_w):
        os.close(fd)
    return answer["pid"], out_r


def read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 4096):
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks)


def test_spawn_and_exit_code_with_fd_3(keeper):
    pid, out = spawn(keeper, "echo hi; [ -e /proc/self/fd/3 ] && echo sync; read x; exit 3", None)
    keeper.request({"op": "hold", "id": "c1", "pid": pid, "names": []})
    assert read_all(out) == b"hi\nsync\n"
    assert keeper.exits.get(timeout=10) == ("c1", 3)
    listing, _ = keeper.request({"op": "list"})
    assert listing["containers"] == [{"id": "c1", "pid": pid, "code": 3}]
    keeper.request({"op": "release", "id": "c1"})
    assert keeper.request({"op": "list"})[0]["containers"] == []


def test_a_process_that_dies_before_it_is_held_still_reports(keeper):
    pid, out = spawn(keeper, "exit 7")
    assert read_all(out) == b""  # it is gone, and reaped, before the hold
    keeper.request({"op": "hold", "id": "early", "pid": pid, "names": []})
    assert keeper.exits.get(timeout=10) == ("early", 7)


def test_held_descriptors_come_back_and_a_stdin_close_is_passed_on(keeper):
    stdin_r, stdin_w = os.pipe2(os.O_CLOEXEC)
    pid, out = spawn(keeper, "cat; exit 5", stdin_r)
    os.close(stdin_r)
    kept = KeptIO({"stdout": out, "stdin": stdin_w})
    kept.share(
        lambda names, fds: keeper.request({"op": "hold", "id": "c2", "pid": pid, "names": names}, fds),
        lambda name: keeper.request({"op": "drop", "id": "c2", "name": name}),
    )
    answer, fds = keeper.request({"op": "fds", "id": "c2"})
    assert sorted(answer["names"]) == ["stdin", "stdout"]
    copies = dict(zip(answer["names"], fds, strict=True))
    os.write(copies["stdin"], b"through the keeper's copy\n")
    os.close(copies["stdin"])
    os.close(copies["stdout"])
    # Our end closed: cat sees EOF only because the keeper drops its copy too.
    kept.close_stdin()
    os.close(stdin_w)
    assert read_all(out) == b"through the keeper's copy\n"
    assert keeper.exits.get(timeout=10) == ("c2", 5)


def test_a_bad_request_is_refused_and_the_keeper_goes_on(keeper):
    with pytest.raises(KeeperError, match="unknown request"):
        keeper.request({"op": "nonsense"})
    with pytest.raises(KeeperError):
        keeper.request({"op": "fds", "id": "nobody"})
    assert keeper.request({"op": "list"})[0] == {"op": "list", "containers": []}
