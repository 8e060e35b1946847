"""TLS on tcp (issue 15, item 5): a daemon started with `--tlsverify` serves our CLI, the docker CLI 28
and the docker SDK when they present a client certificate signed by its CA, and refuses them without
one. The certificates are made here with openssl, as docs/security.md shows."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess

import pytest

from lib.daemon import docker_cmd, our_env
from lib.require import require, require_module, require_tools

DOCKER_CLI = "/usr/local/bin/docker"


def openssl(cwd: str, *args: str) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_ca(cwd: str, name: str) -> None:
    openssl(
        cwd, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", f"{name}-key.pem"
    )
    openssl(
        cwd, "req", "-new", "-x509", "-days", "30", "-sha256", "-key", f"{name}-key.pem",
        "-subj", f"/CN={name}", "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        "-out", f"{name}.pem",
    )  # fmt: skip


def make_cert(cwd: str, ca: str, name: str, cn: str, extensions: str) -> None:
    openssl(
        cwd, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", f"{name}-key.pem"
    )
    openssl(cwd, "req", "-new", "-key", f"{name}-key.pem", "-subj", f"/CN={cn}", "-out", f"{name}.csr")
    with open(os.path.join(cwd, f"{name}.cnf"), "w") as f:
        f.write(extensions)
    openssl(
        cwd, "x509", "-req", "-days", "30", "-sha256", "-in", f"{name}.csr", "-CA", f"{ca}.pem",
        "-CAkey", f"{ca}-key.pem", "-CAcreateserial", "-extfile", f"{name}.cnf", "-out", f"{name}-cert.pem",
    )  # fmt: skip


def cert_dir(path: str, files: dict[str, str]) -> str:
    """A DOCKER_CERT_PATH directory: {ca,cert,key}.pem copied from `files`."""
    os.makedirs(path)
    for dest, src in files.items():
        shutil.copy(src, os.path.join(path, dest))
    return path


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    require_tools("openssl")
    d = str(tmp_path_factory.mktemp("tls"))
    make_ca(d, "ca")
    make_cert(
        d,
        "ca",
        "server",
        "localhost",
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
    )
    make_cert(d, "ca", "client", "client", "extendedKeyUsage=clientAuth\n")
    # A client certificate from a CA the daemon does not trust.
    make_ca(d, "rogue")
    make_cert(d, "rogue", "intruder", "client", "extendedKeyUsage=clientAuth\n")
    p = lambda name: os.path.join(d, name)  # noqa: E731
    return {
        "dir": d,
        "ca": p("ca.pem"),
        "server_cert": p("server-cert.pem"),
        "server_key": p("server-key.pem"),
        "good": cert_dir(p("good"), {"ca.pem": p("ca.pem"), "cert.pem": p("client-cert.pem"),
                                     "key.pem": p("client-key.pem")}),
        "none": cert_dir(p("none"), {"ca.pem": p("ca.pem")}),
        "rogue": cert_dir(p("rogue"), {"ca.pem": p("ca.pem"), "cert.pem": p("intruder-cert.pem"),
                                       "key.pem": p("intruder-key.pem")}),
    }  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def tls_daemon(certs, busybox_tar):
    import tempfile

    from lib.daemon import Daemon

    port = free_port()
    d = Daemon(
        tempfile.mkdtemp(prefix="ldt-", dir="/tmp"),
        ["-H", f"tcp://127.0.0.1:{port}", "--tlsverify", "--tlscacert", certs["ca"],
         "--tlscert", certs["server_cert"], "--tlskey", certs["server_key"]],
    ).start()  # fmt: skip
    # The unix socket needs no certificate.
    d.cli("import", "-", "busybox", input=open(busybox_tar, "rb").read(), check=True)
    d.url = f"tcp://127.0.0.1:{port}"
    yield d
    try:
        d.stop()
    finally:
        d.kill()
        shutil.rmtree(d.base, ignore_errors=True)


def ours(
    *args: str, env: dict[str, str] | None = None, input: bytes | None = None
) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in our_env().items() if not k.startswith("DOCKER_")}
    environment.update(env or {})
    return subprocess.run(
        [*docker_cmd(), *args], capture_output=True, env=environment, timeout=120, input=input
    )


def test_our_cli_with_tls_flags(tls_daemon, certs):
    good = certs["good"]
    flags = ["-H", tls_daemon.url, "--tlsverify", "--tlscacert", f"{good}/ca.pem",
             "--tlscert", f"{good}/cert.pem", "--tlskey", f"{good}/key.pem"]  # fmt: skip
    out = ours(*flags, "version")
    assert out.returncode == 0, out.stderr
    assert b"Server version" in out.stdout


def test_our_cli_with_docker_cert_path_runs_a_container(tls_daemon, certs):
    env = {"DOCKER_HOST": tls_daemon.url, "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": certs["good"]}
    out = ours("run", "--rm", "busybox", "echo", "over-tls", env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout == b"over-tls\n"
    out = ours("run", "-i", "--rm", "busybox", "cat", env=env, input=b"stdin over tls\n")
    assert out.returncode == 0, out.stderr
    assert out.stdout == b"stdin over tls\n"


@pytest.mark.parametrize("which", ["none", "rogue"])
def test_our_cli_without_a_trusted_client_certificate_is_refused(tls_daemon, certs, which):
    env = {"DOCKER_HOST": tls_daemon.url, "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": certs[which]}
    out = ours("ps", env=env)
    assert out.returncode != 0
    assert b"TLS" in out.stderr and b"Traceback" not in out.stderr, out.stderr


def test_plain_http_to_the_tls_port_is_told_so(tls_daemon):
    out = ours("-H", tls_daemon.url, "ps")
    assert out.returncode != 0
    assert b"Client sent an HTTP request to an HTTPS server." in out.stderr, out.stderr


def cli28(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    require(shutil.which(DOCKER_CLI), "the docker CLI 28 is not installed at /usr/local/bin/docker")
    environment = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    environment.update(env, DOCKER_CONFIG="/tmp/lxc-docker-test-cli-config")
    return subprocess.run([DOCKER_CLI, *args], capture_output=True, env=environment, timeout=120)


def test_docker_cli_28_with_client_certificates(tls_daemon, certs):
    env = {"DOCKER_HOST": tls_daemon.url, "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": certs["good"]}
    out = cli28(env, "version")
    assert out.returncode == 0, out.stderr
    assert b"0.9.1" in out.stdout
    out = cli28(env, "run", "--rm", "busybox", "echo", "cli28-tls")
    assert out.returncode == 0, out.stderr
    assert out.stdout == b"cli28-tls\n"


@pytest.mark.parametrize("which", ["none", "rogue"])
def test_docker_cli_28_without_a_trusted_client_certificate_is_refused(tls_daemon, certs, which):
    env = {"DOCKER_HOST": tls_daemon.url, "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": certs[which]}
    out = cli28(env, "ps")
    assert out.returncode != 0
    assert b"certificate" in out.stderr, out.stderr


def test_docker_sdk_with_and_without_client_certificates(tls_daemon, certs, monkeypatch):
    docker = require_module("docker", "scripts/setup-dev.sh installs it")
    # requests lets these override the CA the SDK passes (psf/requests#3829); a machine with a
    # proxy's CA bundle sets them.
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    env = {"DOCKER_HOST": tls_daemon.url, "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": certs["good"]}
    client = docker.from_env(environment=env, version="auto", timeout=60)
    try:
        assert client.ping()
        assert any("busybox:latest" in image.tags for image in client.images.list())
        assert client.containers.run("busybox", ["echo", "sdk-tls"], remove=True) == b"sdk-tls\n"
    finally:
        client.close()
    import requests

    tls = docker.tls.TLSConfig(ca_cert=certs["ca"], verify=True)
    bare = docker.DockerClient(base_url=tls_daemon.url, tls=tls, version="1.24", timeout=20)
    try:
        with pytest.raises((requests.exceptions.SSLError, requests.exceptions.ConnectionError)):
            bare.ping()
    finally:
        bare.close()
