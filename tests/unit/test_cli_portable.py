"""The client's pieces for macOS and Windows hosts (issue 14): `docker cp`'s portable extractor, the
blocking stdin feeder, the default daemon address."""

from __future__ import annotations

import io
import os
import socket
import tarfile

import pytest

from lxc_docker.cli.feeders import PollFeeder, ThreadFeeder
from lxc_docker.cli.untar import UnsafeArchive, extract
from lxc_docker.client import api


def tar_of(*members: tuple[tarfile.TarInfo, bytes | None]) -> io.BytesIO:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            t.addfile(info, io.BytesIO(data) if data is not None else None)
    buf.seek(0)
    return buf


def entry(name: str, kind: bytes = tarfile.REGTYPE, mode: int = 0o644, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.linkname, info.mtime = kind, mode, linkname, 1_000_000_000
    return info


def test_extracts_files_directories_and_links(tmp_path):
    archive = tar_of(
        (entry("d", tarfile.DIRTYPE, 0o750), None),
        (entry("d/f", mode=0o4755), b"data"),
        (entry("d/l", tarfile.SYMTYPE, linkname="f"), None),
        (entry("d/h", tarfile.LNKTYPE, linkname="d/f"), None),
        (entry("d/null", tarfile.CHRTYPE), None),
    )
    warnings: list[str] = []
    extract(archive, str(tmp_path), warnings.append)
    assert (tmp_path / "d" / "f").read_bytes() == b"data"
    assert os.stat(tmp_path / "d" / "f").st_mode & 0o7777 == 0o755  # no setuid on the host
    assert os.stat(tmp_path / "d").st_mode & 0o777 == 0o750
    assert os.readlink(tmp_path / "d" / "l") == "f"
    assert (tmp_path / "d" / "h").read_bytes() == b"data"
    assert os.stat(tmp_path / "d" / "f").st_mtime == 1_000_000_000
    assert not (tmp_path / "d" / "null").exists()
    assert warnings == ["d/null: device files are not copied"]


@pytest.mark.parametrize(
    "members",
    [
        [(entry("/etc/evil"), b"x")],
        [(entry("../evil"), b"x")],
        [(entry("a/../../evil"), b"x")],
        # A symlink out of the destination, then a file written through it.
        [(entry("esc", tarfile.SYMTYPE, linkname="/tmp"), None), (entry("esc/evil"), b"x")],
        [(entry("esc", tarfile.SYMTYPE, linkname="../.."), None), (entry("esc/evil"), b"x")],
        # A hard link to a host file.
        [(entry("h", tarfile.LNKTYPE, linkname="../outside"), None)],
    ],
)
def test_refuses_members_escaping_the_destination(tmp_path, members):
    dest = tmp_path / "dest"
    dest.mkdir()
    (tmp_path / "outside").write_text("host file")
    with pytest.raises(UnsafeArchive):
        extract(tar_of(*members), str(dest))
    assert not os.path.exists("/tmp/evil") or os.path.getmtime("/tmp/evil") != 1_000_000_000
    assert not (tmp_path / "evil").exists()
    assert (tmp_path / "outside").read_text() == "host file"


def test_replaces_a_symlink_at_a_member_path_instead_of_writing_through_it(tmp_path):
    dest = tmp_path / "dest"
    dest.mkdir()
    (tmp_path / "target").write_text("host file")
    os.symlink(tmp_path / "target", dest / "f")
    extract(tar_of((entry("f"), b"new")), str(dest))
    assert (tmp_path / "target").read_text() == "host file"
    assert not os.path.islink(dest / "f") and (dest / "f").read_bytes() == b"new"


def test_thread_feeder_copies_and_half_closes_at_end_of_input():
    r, w = os.pipe()
    ours, theirs = socket.socketpair()
    try:
        ThreadFeeder(ours, r)
        os.write(w, b"hello\n")
        os.close(w)
        theirs.settimeout(5)
        data = b""
        while chunk := theirs.recv(100):
            data += chunk
        assert data == b"hello\n"  # and then end-of-file: the feeder shut down its side
    finally:
        os.close(r)
        ours.close()
        theirs.close()


@pytest.mark.parametrize("use_select", [False, True])
def test_poll_feeder_copies_and_stops_while_idle(use_select):
    # use_select is macOS's way (its poll() refuses terminals).
    r, w = os.pipe()
    ours, theirs = socket.socketpair()
    try:
        feeder = PollFeeder(ours, r, use_select=use_select)
        os.write(w, b"typed\n")
        theirs.settimeout(5)
        assert theirs.recv(100) == b"typed\n"
        feeder.stop()  # returns although nothing more is typed
        os.write(w, b"after\n")
        theirs.setblocking(False)
        with pytest.raises(BlockingIOError):
            theirs.recv(100)
    finally:
        os.close(r)
        os.close(w)
        ours.close()
        theirs.close()


def test_default_host_by_platform(monkeypatch):
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.setattr("sys.platform", "win32")
    assert api.default_host() == "tcp://127.0.0.1:4243"
    monkeypatch.setattr("sys.platform", "darwin")
    assert api.default_host() == "unix:///var/run/docker.sock"
    monkeypatch.setenv("DOCKER_HOST", "tcp://10.0.0.1:2375")
    monkeypatch.setattr("sys.platform", "win32")
    assert api.default_host() == "tcp://10.0.0.1:2375"


def test_windows_einval_on_stdout_is_a_closed_pipe(monkeypatch, capsys):
    import errno

    from lxc_docker.cli import main as cli_main

    def broken(cli, name, args):
        raise OSError(errno.EINVAL, "Invalid argument")

    monkeypatch.setattr(cli_main, "run_command", broken)
    monkeypatch.setattr(cli_main, "_PIPE_CLOSED", [])
    monkeypatch.setattr("sys.platform", "linux")
    assert cli_main.dispatch(cli_main.Cli([], False), "images", []) == 1
    assert capsys.readouterr().err == "Error: [Errno 22] Invalid argument\n"
    assert cli_main._PIPE_CLOSED == []
    monkeypatch.setattr("sys.platform", "win32")
    assert cli_main.dispatch(cli_main.Cli([], False), "images", []) == 1
    assert capsys.readouterr().err == ""
    assert cli_main._PIPE_CLOSED == [True]
