"""A daemon killed with SIGKILL at any moment of an import restarts onto a consistent store."""

from __future__ import annotations

import io
import os
import random
import socket
import tarfile
import time

from lxc_docker.storage.select import new_driver


def big_tar(files: int = 400, size: int = 20000) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for i in range(files):
            data = os.urandom(size)
            info = tarfile.TarInfo(f"d{i % 10}/f{i}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def start_import(sock_path: str, repo: str) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sock_path)
    s.sendall(
        f"POST /v1.9/images/create?fromSrc=-&repo={repo} HTTP/1.1\r\nHost: docker\r\n"
        "Transfer-Encoding: chunked\r\nContent-Type: application/x-tar\r\n\r\n".encode()
    )
    return s


def send_chunk(s: socket.socket, data: bytes) -> None:
    s.sendall(b"%x\r\n%s\r\n" % (len(data), data))


def check_consistent(d, expected_repos: set[str]) -> None:
    graph = os.path.join(d.root, "graph")
    assert not [n for n in os.listdir(graph) if n.startswith(".tmp")], os.listdir(graph)
    listing = d.out("images", "-a", "--no-trunc")
    repos = {line.split()[0] for line in listing.splitlines()[1:]}
    assert expected_repos <= repos
    ids = set(d.out("images", "-a", "-q", "--no-trunc").split())
    assert ids == set(os.listdir(graph)) - {"_"}
    # Every layer the driver holds belongs to an image: nothing half-imported survives.
    driver_dir = [n for n in ("overlay", "vfs") if os.path.isdir(os.path.join(d.root, n))][0]
    d.stop()
    driver = new_driver(driver_dir, d.root)
    try:
        assert set(driver.list_ids()) == ids
    finally:
        driver.cleanup()


def test_sigkill_during_import_leaves_a_consistent_store(daemon_factory, busybox_tar):
    d = daemon_factory().start()
    d.out("import", "-", "base/image", input=open(busybox_tar, "rb").read())
    payload = big_tar()
    rng = random.Random(1234)
    for attempt in range(4):
        s = start_import(d.sock, f"crash/attempt{attempt}")
        cut = rng.randrange(len(payload) // 4, len(payload))
        for off in range(0, cut, 65536):
            send_chunk(s, payload[off : min(off + 65536, cut)])
        time.sleep(0.05 * attempt)  # vary where the daemon is when it dies; not a wait for a condition
        d.proc.kill()
        d.proc.wait(10)
        s.close()
        d.start()
        check_consistent(d, {"base/image"})
        d.start()
        assert f"crash/attempt{attempt}" not in d.out("images")
    # The store still works: a full import succeeds and lists.
    d.out("import", "-", "after/crash", input=payload)
    assert "after/crash" in d.out("images")


def test_sigkill_after_complete_import_keeps_the_image(daemon_factory, busybox_tar):
    d = daemon_factory().start()
    d.out("import", "-", "kept/image", input=open(busybox_tar, "rb").read())
    d.proc.kill()
    d.proc.wait(10)
    d.start()
    assert "kept/image" in d.out("images")


def _mounts_under(path: str) -> list[str]:
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f if line.split()[4].startswith(path + "/")]


def test_a_running_container_keeps_its_one_root_mount_across_a_crash(daemon_factory, busybox_tar):
    """After a kill -9 the restarted daemon takes the running container's root mount back (no second
    overlay stacked on the same upper directory), and a clean stop afterwards leaves nothing mounted,
    not even the private bind of the layer store that the killed daemon made."""
    d = daemon_factory().start()
    d.out("import", "-", "busybox", input=open(busybox_tar, "rb").read())
    cid = d.out("run", "-d", "busybox", "sh", "-c", "echo before > /mark; sleep 300").strip()
    merged = [m for m in _mounts_under(d.root) if cid in m]
    assert len(merged) == 1, merged
    d.kill()
    d.start()
    assert [m for m in _mounts_under(d.root) if cid in m] == merged
    d.out("cp", f"{cid}:/mark", d.base)
    assert open(os.path.join(d.base, "mark")).read() == "before\n"
    d.out("stop", "-t", "1", cid)
    d.stop()
    assert _mounts_under(d.root) == []
