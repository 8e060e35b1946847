"""TLS for the daemon in the VM, made at `init` with the `openssl` command (there on macOS, Linux and
Git for Windows; Python's own ssl module cannot make certificates).

~/.boot2docker/certs holds ca.pem, cert.pem and key.pem for the client (DOCKER_CERT_PATH) and the
CA's key; server/ holds the daemon's pair, which is the only part passed into the VM."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

CLIENT_FILES = ("ca.pem", "cert.pem", "key.pem")
SERVER_FILES = ("ca.pem", "server-cert.pem", "server-key.pem")
DAYS = "3650"


class CertError(Exception):
    pass


def _openssl(args: list[str], cwd: str) -> None:
    try:
        done = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True)
    except FileNotFoundError:
        raise CertError("TLS needs the openssl command; install it or turn TLS off (--no-tls)") from None
    if done.returncode != 0:
        raise CertError(f"openssl {args[0]} failed: {done.stderr.strip()}")


def have_certs(certs: str) -> bool:
    return all(os.path.exists(os.path.join(certs, n)) for n in CLIENT_FILES) and all(
        os.path.exists(os.path.join(certs, "server", n)) for n in SERVER_FILES
    )


def make_certs(certs: str) -> bool:
    """A CA, a server certificate for 127.0.0.1/localhost and a client certificate, unless all are
    there already. Written in a temporary directory and moved into place, so a failure leaves none."""
    if have_certs(certs):
        return False
    parent = os.path.dirname(certs) or "."
    os.makedirs(parent, exist_ok=True)
    work = tempfile.mkdtemp(prefix=".certs-", dir=parent)
    try:
        os.chmod(work, 0o700)
        os.mkdir(os.path.join(work, "server"), 0o700)
        _openssl(["genrsa", "-out", "ca-key.pem", "2048"], work)
        _openssl(
            ["req", "-new", "-x509", "-days", DAYS, "-key", "ca-key.pem", "-out", "ca.pem"]
            + ["-subj", "/CN=boot2docker CA"],
            work,
        )
        with open(os.path.join(work, "server.ext"), "w") as f:
            f.write(
                "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:boot2docker\nextendedKeyUsage=serverAuth\n"
            )
        with open(os.path.join(work, "client.ext"), "w") as f:
            f.write("extendedKeyUsage=clientAuth\n")
        for name, subj in (("server/server", "/CN=boot2docker"), ("client", "/CN=boot2docker client")):
            _openssl(["genrsa", "-out", f"{name}-key.pem", "2048"], work)
            _openssl(["req", "-new", "-key", f"{name}-key.pem", "-out", f"{name}.csr", "-subj", subj], work)
            ext = "server.ext" if name.startswith("server") else "client.ext"
            _openssl(
                ["x509", "-req", "-days", DAYS, "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem"]
                + ["-CAcreateserial", "-out", f"{name}-cert.pem", "-extfile", ext],
                work,
            )
        os.rename(os.path.join(work, "client-cert.pem"), os.path.join(work, "cert.pem"))
        os.rename(os.path.join(work, "client-key.pem"), os.path.join(work, "key.pem"))
        shutil.copyfile(os.path.join(work, "ca.pem"), os.path.join(work, "server", "ca.pem"))
        for junk in ("server.ext", "client.ext", "client.csr", "server/server.csr", "ca.srl"):
            if os.path.exists(os.path.join(work, junk)):
                os.unlink(os.path.join(work, junk))
        for root, _dirs, files in os.walk(work):
            for name in files:
                os.chmod(os.path.join(root, name), 0o600 if "key" in name else 0o644)
        if os.path.exists(certs):
            shutil.rmtree(certs)
        os.rename(work, certs)
    finally:
        if os.path.exists(work):
            shutil.rmtree(work)
    return True
