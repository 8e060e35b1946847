"""The zipapp and the one-file binary behave alike: the same smoke test, the same answers, systemd's
socket activation (`-H fd://`), and each is run by the interpreter it claims."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import e2e_support as e2e
import pytest

from lib.require import require

KINDS = ["zipapp", "binary"]


def run(kind: str, shiv_root: str, *args: str) -> subprocess.CompletedProcess:
    cmd, env = e2e.program(kind, shiv_root)
    return subprocess.run([*cmd, *args], capture_output=True, text=True, env=env, timeout=120)


@pytest.mark.parametrize("kind", KINDS)
def test_smoke(dist, shiv_root, short_tmp, kind):
    """Start the daemon, `docker version`, `docker images`, and `docker run busybox echo hi`."""
    daemon = e2e.ArtifactDaemon(kind, short_tmp, shiv_root).start()
    try:
        version = daemon.cli("version")
        assert version.returncode == 0, version.stderr
        assert f"Server version: {e2e.version()}".encode() in version.stdout
        images = daemon.cli("images")
        assert images.returncode == 0 and images.stdout.startswith(b"REPOSITORY"), images
        from lib.busybox import write_rootfs_tar

        tar = write_rootfs_tar(str(short_tmp / "busybox.tar"))
        with open(tar, "rb") as f:
            imported = daemon.cli("import", "-", "busybox", input=f.read())
        assert imported.returncode == 0, imported.stderr
        # The native driver's init is this same artifact, run again (sysutil/selfexec.py).
        ran = daemon.cli("run", "busybox", "echo", "hi")
        assert ran.returncode == 0, f"{ran.stderr.decode()}\n{daemon.log()}"
        assert ran.stdout == b"hi\n"
    finally:
        daemon.stop()


def test_artifacts_answer_alike(dist, shiv_root):
    """Same version line, same help, same errors, same exit codes, from one source."""
    for args in (["-v"], ["help"], ["nosuchcommand"], ["-H", "unix:///nonexistent.sock", "version"]):
        zipapp, binary = (run(kind, shiv_root, *args) for kind in KINDS)
        assert (zipapp.returncode, zipapp.stdout) == (binary.returncode, binary.stdout), args
        # The client's Python version line is the only expected difference (the binary carries its own).
        strip = [line for line in zipapp.stderr.splitlines() if "Python" not in line]
        assert strip == [line for line in binary.stderr.splitlines() if "Python" not in line], args


def test_init_mode_is_routed_to_the_init(dist, shiv_root):
    """`<artifact> init` reaches the container init, not the CLI's "not a docker command"."""
    for kind in KINDS:
        result = run(kind, shiv_root, "init")
        assert "is not a docker command" not in result.stderr, (kind, result.stderr)


def test_zipapp_names_its_interpreter(dist):
    with open(e2e.artifact("zipapp"), "rb") as f:
        # Debian's interpreter, isolated (-I: no user site, no PYTHON* variables) and without site
        # (-S), importing the archive's light entry directly (see packaging/zipapp/pack.py).
        line = f.readline()
    assert line.startswith(b"#!/usr/bin/python3 -ISc")
    assert line.rstrip().endswith(b"import lxc_docker_zipapp")


@pytest.mark.parametrize("python", ["3.10", "3.11", "3.12", "3.13"])
def test_zipapp_python_versions(dist, shiv_root, python):
    """3.11 and newer run it; an older one gets a clear refusal, not a traceback."""
    candidates = [f"/usr/bin/python{python}", f"/root/.pyenv/versions/{python}/bin/python{python}"]
    candidates += [
        os.path.join(f"/root/.pyenv/versions/{v}", "bin", f"python{python}")
        for v in (os.listdir("/root/.pyenv/versions") if os.path.isdir("/root/.pyenv/versions") else [])
        if v.startswith(python + ".")
    ]
    interpreter = next((c for c in candidates if os.access(c, os.X_OK)), None)
    require(interpreter, f"no Python {python} on this machine (/usr/bin or pyenv)")
    env = {**os.environ, "SHIV_ROOT": shiv_root + "-" + python}
    result = subprocess.run(
        [interpreter, str(e2e.artifact("zipapp")), "-v"], capture_output=True, text=True, env=env
    )
    if python == "3.10":
        assert result.returncode == 1
        assert "needs Python 3.11 or newer" in result.stderr and "Traceback" not in result.stderr
    else:
        assert result.returncode == 0, result.stderr
        assert result.stdout == f"Docker version {e2e.version()}, build lxc-docker\n"


@pytest.mark.parametrize("kind", ["source", *KINDS])
def test_socket_activation(dist, shiv_root, short_tmp, kind):
    """A listening unix socket handed over as systemd does (fd 3, LISTEN_FDS=1, LISTEN_PID = the
    started process): `docker -d -H fd://` serves it. For the one-file binary, LISTEN_PID names the
    launcher, not the daemon it runs as a child: the binary's run-time hook has to bridge that."""
    path = str(short_tmp / "activated.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(16)
    cmd, env = e2e.program(kind, shiv_root)
    # What systemd does between fork and exec: the sockets from fd 3 on, and its own pid.
    launcher = (
        "import os, sys; fd = int(sys.argv[1]); os.dup2(fd, 3); os.close(fd); "
        "os.environ['LISTEN_PID'] = str(os.getpid()); os.environ['LISTEN_FDS'] = '1'; "
        "os.execvp(sys.argv[2], sys.argv[2:])"
    )
    args = [
        *cmd,
        "-d",
        "-D",
        "-H",
        "fd://",
        "-g",
        str(short_tmp / "graph"),
        "-p",
        str(short_tmp / "pid"),
        "-b",
        "none",
        "--iptables=false",
    ]
    with open(short_tmp / "daemon.log", "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-c", launcher, str(listener.fileno()), *args],
            pass_fds=[listener.fileno()],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    listener.close()
    try:
        e2e.deadline_poll(lambda: proc.poll() is not None or e2e.ping(path), 60, what="the activated daemon")
        assert proc.poll() is None, (short_tmp / "daemon.log").read_text()
        client_cmd, client_env = e2e.program(kind, shiv_root)
        result = subprocess.run(
            [*client_cmd, "-H", "unix://" + path, "version"],
            capture_output=True,
            text=True,
            env=client_env,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        assert f"Server version: {e2e.version()}" in result.stdout
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()
