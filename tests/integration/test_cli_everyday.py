"""Issue 11, item 8: our CLI as users type it today, against a real daemon: `rmi` of an id tagged in
several repositories, `save -o` / `load -i`, `import FILE`, `rm -f`, `ps --format` and
`images --format`, `--help` on every command, and a reader that closes the pipe early."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time

import pytest

from lib.daemon import docker_cmd, our_env
from lib.require import require
from lib.tarballs import tar_of
from lib.unixhttp import api
from lxc_docker.cli.main import COMMANDS


def fresh_image(daemon, name: str, content: bytes) -> str:
    """A small image of its own (a file with `content`), tagged `name`; its full id."""
    return daemon.out("import", "-", name, input=tar_of({"f": content})).split()[-1]


def test_rmi_by_id_tagged_in_several_repositories_needs_force(daemon):
    image = fresh_image(daemon, "everyday/one", b"rmi")
    daemon.out("tag", image, "everyday/two")
    refused = daemon.cli("rmi", image[:12])
    assert refused.returncode == 1
    assert (
        f"Error: conflict: unable to delete {image[:12]} (must be forced) - "
        "image is referenced in multiple repositories\n"
    ).encode() in refused.stderr
    status, _ = api(daemon, "DELETE", f"/v1.24/images/{image[:12]}")
    assert status == 409
    status, _ = api(daemon, "DELETE", f"/v1.9/images/{image}")
    assert status == 409
    listed = daemon.out("images")
    assert "everyday/one" in listed and "everyday/two" in listed  # nothing was untagged
    forced = daemon.out("rmi", "-f", image[:12])
    assert forced == f"Untagged: {image}\nUntagged: {image}\nDeleted: {image}\n"  # Docker 0.9's lines
    assert image[:12] not in daemon.out("images", "-a")


def test_rmi_by_id_with_one_repository_untags_and_deletes(daemon):
    image = fresh_image(daemon, "everyday/single", b"single")
    daemon.out("tag", image, "everyday/single:v2")  # two tags, one repository: Docker 0.9 deletes
    out = daemon.out("rmi", image[:12])
    assert f"Deleted: {image}" in out
    assert "everyday/single" not in daemon.out("images")


def test_save_to_a_file_and_load_from_a_file(daemon, tmp_path):
    image = fresh_image(daemon, "everyday/saved", b"saved content")
    archive = tmp_path / "saved.tar"
    assert daemon.cli("save", "-o", str(archive), "everyday/saved", check=True).stdout == b""
    assert archive.stat().st_size > 0
    assert [p for p in os.listdir(tmp_path) if p != "saved.tar"] == []  # no temporary left behind
    daemon.out("rmi", "everyday/saved")
    assert image[:12] not in daemon.out("images", "-a", "-q")
    daemon.cli("load", "-i", str(archive), check=True)
    assert image[:12] in daemon.out("images", "everyday/saved")
    missing = daemon.cli("load", "-i", str(tmp_path / "nope.tar"))
    assert missing.returncode == 1 and b"nope.tar" in missing.stderr
    daemon.out("rmi", "everyday/saved")


def test_import_from_a_file(daemon, tmp_path):
    rootfs = tmp_path / "rootfs.tar"
    rootfs.write_bytes(tar_of({"hello": b"from a file\n"}))
    image = daemon.out("import", str(rootfs), "everyday/imported:v1").split()[-1]
    assert image[:12] in daemon.out("images", "everyday/imported")
    missing = daemon.cli("import", str(tmp_path / "absent.tar"))
    assert missing.returncode == 1
    assert f"Error: open {tmp_path / 'absent.tar'}: no such file or directory\n".encode() == missing.stderr
    daemon.out("rmi", "everyday/imported:v1")


def test_rm_force_removes_a_running_container(daemon):
    cid = daemon.out("run", "-d", "busybox", "sleep", "600").strip()
    refused = daemon.cli("rm", cid)
    assert refused.returncode == 1
    assert daemon.out("rm", "-f", cid) == cid + "\n"
    assert cid[:12] not in daemon.out("ps", "-a", "-q")


def test_ps_format(daemon):
    cid = daemon.out("run", "-d", "--name", "everyday_fmt", "busybox", "sleep", "600").strip()
    try:
        out = daemon.out("ps", "--format", "{{.ID}} {{.Names}} {{.Image}} {{.Command}} {{.Status}}")
        line = next(line for line in out.splitlines() if line.startswith(cid[:12]))
        assert line.startswith(f"{cid[:12]} everyday_fmt busybox ") and '"sleep 600"' in line
        assert line.split('" ')[-1].startswith("Up ")
        out = daemon.out("ps", "--no-trunc", "--format", "{{.ID}}|{{.RunningFor}}|{{.CreatedAt}}|{{.Ports}}")
        row = next(line for line in out.splitlines() if line.startswith(cid)).split("|")
        assert row[1].endswith(" ago") and row[3] == ""
        assert time.strptime(row[2][:19], "%Y-%m-%d %H:%M:%S")  # Go's time.Time.String()
        # `table`: a header from the same template, aligned columns; `\t` typed literally is a tab.
        out = daemon.out("ps", "--format", r"table {{.Names}}\t{{.ID}}")
        lines = out.splitlines()
        assert lines[0].split() == ["NAMES", "CONTAINER", "ID"]
        assert any(line.split() == ["everyday_fmt", cid[:12]] for line in lines[1:])
        assert lines[0].index("CONTAINER") == next(line for line in lines if "everyday_fmt" in line).index(
            cid[:12]
        )
        default = daemon.out("ps", "--format", "table").splitlines()[0]
        assert default.split() == [
            "CONTAINER",
            "ID",
            "IMAGE",
            "COMMAND",
            "CREATED",
            "STATUS",
            "PORTS",
            "NAMES",
        ]
        bad = daemon.cli("ps", "--format", "{{.ID")
        assert bad.returncode == 1 and bad.stderr.startswith(b"Template parsing error: ")
        # A misspelt placeholder is an error, as on Docker's structs, not "<no value>".
        typo = daemon.cli("ps", "-a", "--format", "{{.Nmes}}")
        assert typo.returncode == 1 and b"can't evaluate field Nmes" in typo.stderr and typo.stdout == b""
    finally:
        daemon.out("rm", "-f", cid)


def test_images_format(daemon):
    image = fresh_image(daemon, "everyday/listed:v3", b"listed")
    try:
        out = daemon.out("images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}} {{.Digest}} {{.Size}}")
        assert f"everyday/listed:v3 {image[:12]} <none> " in out
        out = daemon.out("images", "--format", "{{.ID}} {{.CreatedSince}} {{.CreatedAt}}", "everyday/listed")
        assert out.startswith(f"{image[:12]} ") and " ago " in out and out.count("\n") == 1
        out = daemon.out("images", "--format", r"table {{.Repository}}\t{{.Tag}}\t{{.ID}}", "everyday/listed")
        assert [line.split() for line in out.splitlines()] == [
            ["REPOSITORY", "TAG", "IMAGE", "ID"],
            ["everyday/listed", "v3", image[:12]],
        ]
        assert daemon.out("images", "--no-trunc", "--format", "{{.ID}}", "everyday/listed") == image + "\n"
    finally:
        daemon.out("rmi", "everyday/listed:v3")


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_help_on_every_command(daemon, command):
    # `run -h` and `create -h` name the container's hostname, as in every Docker.
    for flag in ("--help",) if command in ("run", "create") else ("--help", "-h"):
        result = daemon.cli(command, flag)
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith(f"\nUsage: docker {command}".encode())
        assert result.stderr == b""
    assert daemon.cli("help", command).stdout == daemon.cli(command, "--help").stdout


def test_images_into_a_closed_pipe_ends_quietly(daemon):
    # The reader is gone before the first write: Docker's Go client dies of SIGPIPE, silently.
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = subprocess.run(
            [*docker_cmd(), "-H", daemon.host, "images"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            env=our_env(),
            timeout=60,
        )
    finally:
        os.close(write_end)
    assert proc.stderr == b""
    assert proc.returncode == -signal.SIGPIPE


@pytest.mark.parametrize("command", ["logs", "run"])
def test_output_piped_into_head_ends_quietly(daemon, command):
    cid = daemon.out("run", "-d", "busybox", "sh", "-c", "seq 1 300000").strip()
    daemon.out("wait", cid)
    args = ["logs", cid] if command == "logs" else ["run", "--rm", "busybox", "seq", "1", "300000"]
    proc = subprocess.Popen(
        [*docker_cmd(), "-H", daemon.host, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=our_env(),
    )
    try:
        assert proc.stdout.readline() == b"1\n"  # `| head -1`
        proc.stdout.close()
        err = proc.stderr.read()
        proc.wait(timeout=60)
    finally:
        proc.kill()
        proc.wait()
    assert err == b""
    assert proc.returncode == -signal.SIGPIPE
    daemon.out("rm", cid)


def test_inspect_after_everyday_commands_still_parses(daemon):
    # `ps --format '{{json .}}'` as scripts use it: one JSON object per line.
    cid = daemon.out("run", "-d", "busybox", "true").strip()
    daemon.out("wait", cid)
    out = daemon.out("ps", "-a", "--format", "{{json .}}")
    rows = [json.loads(line) for line in out.splitlines()]
    assert any(row["ID"] == cid[:12] and row["Status"] == "Exit 0" for row in rows)
    daemon.out("rm", cid)


def test_docker_cli_28_rmi_by_id_in_two_repositories(daemon):
    # The same rule for today's docker CLI (API 1.24): refused with its wording, then forced.
    cli28 = "/usr/local/bin/docker"
    require(shutil.which(cli28), "the docker CLI 28 is not installed at /usr/local/bin/docker")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    env.update({"DOCKER_HOST": daemon.host, "DOCKER_CONFIG": "/tmp/lxc-docker-test-cli-config"})
    image = fresh_image(daemon, "everyday/cli28a", b"cli28")
    daemon.out("tag", image, "everyday/cli28b")
    refused = subprocess.run([cli28, "rmi", image[:12]], capture_output=True, env=env, timeout=60)
    assert refused.returncode == 1
    assert b"conflict: unable to delete" in refused.stderr and b"(must be forced)" in refused.stderr
    assert "everyday/cli28a" in daemon.out("images")
    forced = subprocess.run([cli28, "rmi", "-f", image[:12]], capture_output=True, env=env, timeout=60)
    assert forced.returncode == 0, forced.stderr
    assert image[:12] not in daemon.out("images", "-a")
