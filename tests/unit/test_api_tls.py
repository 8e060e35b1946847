"""TLS on tcp, in one process: the daemon's settings and warning, the server's TLS listener and the
client's transport with and without a client certificate (certificates made with openssl)."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys

import pytest

from lib.require import require_tools
from lxc_docker.api.router import Route, Router
from lxc_docker.api.server import ApiServer
from lxc_docker.client import transport
from lxc_docker.client.api import Client
from lxc_docker.client.tls import TLSOptions
from lxc_docker.daemon.config import DaemonConfig
from lxc_docker.errors import InvalidParameter
from lxc_docker.hosts import DEFAULT_TLS_PORT


def openssl(cwd, *args):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def key(cwd, name):
    openssl(cwd, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", name)


def signed(cwd, name, cn, ext):
    key(cwd, f"{name}-key.pem")
    openssl(cwd, "req", "-new", "-key", f"{name}-key.pem", "-subj", f"/CN={cn}", "-out", f"{name}.csr")
    with open(os.path.join(cwd, f"{name}.cnf"), "w") as f:
        f.write(ext)
    openssl(cwd, "x509", "-req", "-days", "2", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem",
            "-CAcreateserial", "-extfile", f"{name}.cnf", "-out", f"{name}-cert.pem")  # fmt: skip


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    require_tools("openssl")
    d = str(tmp_path_factory.mktemp("pki"))
    key(d, "ca-key.pem")
    openssl(d, "req", "-new", "-x509", "-days", "2", "-key", "ca-key.pem", "-subj", "/CN=test CA",
            "-addext", "basicConstraints=critical,CA:TRUE", "-out", "ca.pem")  # fmt: skip
    signed(d, "server", "localhost", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    signed(d, "client", "client", "extendedKeyUsage=clientAuth\n")
    return d


@pytest.fixture(scope="module")
def tls_server(pki):
    from lxc_docker.api.tls import server_context

    router = Router()
    router.add_routes([Route("GET", "/_ping", lambda backend, req, res: res.text("OK"))], None)
    ctx = server_context(f"{pki}/server-cert.pem", f"{pki}/server-key.pem", f"{pki}/ca.pem", verify=True)
    server = ApiServer(router, group="", tls=ctx)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    # As the daemon's: with a backlog of 8, connections made in a burst wait for SYN retries.
    sock.listen(socket.SOMAXCONN)
    server.listen_socket(sock)
    server.serve()
    yield f"tcp://127.0.0.1:{sock.getsockname()[1]}"
    server.close()


def test_client_with_a_certificate_is_served(tls_server, pki):
    client = Client(
        tls_server, tls=TLSOptions(True, f"{pki}/ca.pem", f"{pki}/client-cert.pem", f"{pki}/client-key.pem")
    )
    with client.call("GET", "/_ping") as resp:
        assert resp.read() == b"OK"


def test_client_without_a_certificate_is_refused(tls_server, pki):
    client = Client(tls_server, tls=TLSOptions(True, f"{pki}/ca.pem", "/nonexistent", "/nonexistent"))
    with pytest.raises(transport.DaemonUnreachable, match="TLS"):
        client.call("GET", "/_ping")


def test_client_verifying_against_the_wrong_ca_is_refused(tls_server, pki):
    client = Client(tls_server, tls=TLSOptions(True, f"{pki}/client-cert.pem", "/x", "/x"))
    with pytest.raises(transport.DaemonUnreachable, match="TLS"):
        client.call("GET", "/_ping")


def test_plain_http_to_a_tls_listener_is_told_so(tls_server):
    with pytest.raises(Exception) as e:
        Client(tls_server).json("GET", "/_ping")
    assert "Client sent an HTTP request to an HTTPS server." in str(e.value)


def test_tls_takes_2376_as_the_default_port():
    assert DEFAULT_TLS_PORT == 2376
    assert Client("tcp://127.0.0.1", tls=TLSOptions(False, "", "", "")).host.port == 2376
    assert Client("tcp://127.0.0.1").host.port == 4243


def test_plain_client_start_path_does_not_import_ssl():
    code = (
        "import sys, lxc_docker.cli.main, lxc_docker.client.api, lxc_docker.client.transport;"
        "print('ssl' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# -- the daemon's settings ---------------------------------------------------------------------------


def test_tlsverify_implies_tls_and_needs_its_files(tmp_path):
    config = DaemonConfig(tls_verify=True, tls_ca=str(tmp_path / "ca.pem"), tls_cert="/x", tls_key="/y")
    with pytest.raises(InvalidParameter, match="--tlscacert"):
        config.validate()
    assert config.tls
    for name in ("ca.pem", "cert.pem", "key.pem"):
        (tmp_path / name).write_text("x")
    config = DaemonConfig(tls=True, tls_cert=str(tmp_path / "cert.pem"), tls_key=str(tmp_path / "nokey.pem"))
    with pytest.raises(InvalidParameter, match="--tlskey"):
        config.validate()


def test_bad_certificate_files_name_the_flag(tmp_path):
    from lxc_docker.api.tls import server_context

    (tmp_path / "junk.pem").write_text("not a certificate")
    with pytest.raises(InvalidParameter, match="--tlscert"):
        server_context(str(tmp_path / "junk.pem"), str(tmp_path / "junk.pem"), "", verify=False)


@pytest.mark.parametrize(
    "hosts,tls_verify,exposed",
    [
        (["tcp://0.0.0.0:2375"], False, ["tcp://0.0.0.0:2375"]),
        (["tcp://192.168.1.5:2375", "unix:///var/run/docker.sock"], False, ["tcp://192.168.1.5:2375"]),
        (["tcp://myhost.example"], False, ["tcp://myhost.example:4243"]),
        (["tcp://127.0.0.1:2375", "tcp://localhost:1", "tcp://[::1]:2"], False, []),
        (["tcp://0.0.0.0:2376"], True, []),
        (["unix:///var/run/docker.sock", "fd://"], False, []),
    ],
)
def test_exposed_hosts(hosts, tls_verify, exposed):
    assert DaemonConfig(hosts=hosts, tls_verify=tls_verify).exposed_hosts() == exposed


def test_the_daemon_warns_loudly_about_tcp_without_tlsverify(caplog):
    from lxc_docker.engine import _warn_exposed

    with caplog.at_level(logging.WARNING, logger="lxc_docker"):
        _warn_exposed(DaemonConfig(hosts=["tcp://0.0.0.0:2375"]))
    text = caplog.text
    assert "tcp://0.0.0.0:2375 without --tlsverify is insecure" in text and "root access" in text


def test_idle_tls_connections_hold_no_threads(tls_server, pki):
    import threading

    port = int(tls_server.rsplit(":", 1)[1])
    before = threading.active_count()
    idle = []
    try:
        for i in range(200):
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            if i % 2:
                s.sendall(b"\x16\x03\x01\x00")  # the start of a ClientHello, never finished
            idle.append(s)
        client = Client(
            tls_server,
            tls=TLSOptions(True, f"{pki}/ca.pem", f"{pki}/client-cert.pem", f"{pki}/client-key.pem"),
        )
        with client.call("GET", "/_ping") as resp:
            assert resp.read() == b"OK"
        assert threading.active_count() < before + 10
    finally:
        for s in idle:
            s.close()
