"""`docker search` and `GET /images/search` against our `docker registry --index` on 127.0.0.1 (our CLI,
the docker CLI 28, the docker SDK); search of a v2-only registry; `docker login` against a v1-only
index (Docker 0.9's POST /v1/users/); `--insecure-registry` values."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from urllib.parse import quote

import pytest
import requests

from lib.registryserver import Registry
from lib.regproxy import RegistryProxy
from lib.require import require, require_module, require_tools
from lib.unixhttp import api
from lib.v2registry import BINARY
from lib.v2registry import Registry as DistributionRegistry

DOCKER_CLI = "/usr/local/bin/docker"
LONG = "a tool for tests, with a description long enough to be cut by the client"


def _basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.fixture(scope="module")
def index():
    """Our index with users alice and bob_, and three repositories: alice/tool (2 stars, a long
    description), library/toolbox (official, 1 star) and library/other (no match for "tool")."""
    reg = Registry("--index")
    url = reg.url
    for user in ("alice", "bob_"):
        body = {"username": user, "password": "wonderland", "email": f"{user}@example.org"}
        assert requests.post(f"{url}/v1/users/", json=body).status_code == 201
    token = {"X-Docker-Token": "true"}
    for repo, owner, desc, stars in [
        ("alice/tool", "alice", LONG, ["alice", "bob_"]),
        ("library/toolbox", "alice", "the official toolbox", ["bob_"]),
        ("library/other", "alice", "nothing to see", []),
    ]:
        auth = _basic(owner, "wonderland")
        r = requests.put(f"{url}/v1/repositories/{repo}/", json=[], headers=dict(auth, **token))
        assert r.status_code == 200, r.text
        r = requests.put(
            f"{url}/v1/repositories/{repo}/description", json={"description": desc}, headers=auth
        )
        assert r.status_code == 204, r.text
        for user in stars:
            r = requests.put(f"{url}/v1/repositories/{repo}/star", headers=_basic(user, "wonderland"))
            assert r.status_code == 204, r.text
    yield reg
    reg.stop()


def test_search_cli_table_truncation_and_flags(daemon, index):
    out = daemon.out("search", f"{index.hostport}/tool")
    lines = out.splitlines()
    # Docker 0.9's columns, in the index's order (most stars first); 45+ bytes cut to 42 and "...".
    assert lines[0].split() == ["NAME", "DESCRIPTION", "STARS", "OFFICIAL", "TRUSTED"]
    assert lines[1].startswith("alice/tool ")
    assert LONG[:42] + "..." in lines[1] and LONG not in out
    assert lines[1].split()[-1] == "2"
    assert lines[2].split()[:1] == ["toolbox"] and lines[2].split()[-2:] == ["1", "[OK]"]
    assert "other" not in out
    # Columns line up: each header starts where its cells start (tabwriter, minimum width 10).
    desc_col = lines[0].index("DESCRIPTION")
    assert lines[1][desc_col:].startswith(LONG[:10]) and lines[2][desc_col:].startswith("the official")
    full = daemon.out("search", "--no-trunc", f"{index.hostport}/tool")
    assert LONG in full
    starred = daemon.out("search", "-s", "2", f"{index.hostport}/tool").splitlines()
    assert len(starred) == 2 and starred[1].startswith("alice/tool ")
    trusted = daemon.out("search", "--trusted", f"{index.hostport}/tool").splitlines()
    assert len(trusted) == 1  # the header alone: nothing on our index is an automated build
    official = daemon.out("search", "--filter", "is-official=true", f"{index.hostport}/tool").splitlines()
    assert [line.split()[0] for line in official[1:]] == ["toolbox"]
    assert len(daemon.out("search", "--limit", "1", f"{index.hostport}/tool").splitlines()) == 2


def test_search_api_limit_filters_and_errors(daemon, index):
    term = quote(f"{index.hostport}/tool")
    status, body = api(daemon, "GET", f"/v1.24/images/search?term={term}")
    assert status == 200, body
    rows = json.loads(body)
    assert [r["name"] for r in rows] == ["alice/tool", "toolbox"]
    assert rows[1] == {
        "star_count": 1,
        "is_official": True,
        "name": "toolbox",
        "is_trusted": False,
        "is_automated": False,
        "description": "the official toolbox",
    }
    for filters, names in [
        ({"is-official": {"true": True}}, ["toolbox"]),  # the CLI 28's shape
        ({"is-official": ["false"]}, ["alice/tool"]),  # the SDK's shape
        ({"stars": ["2"]}, ["alice/tool"]),
        ({"is-automated": ["true"]}, []),
    ]:
        q = quote(json.dumps(filters))
        status, body = api(daemon, "GET", f"/v1.24/images/search?term={term}&filters={q}")
        assert status == 200 and [r["name"] for r in json.loads(body)] == names, (filters, body)
    status, body = api(daemon, "GET", f"/v1.24/images/search?term={term}&limit=1")
    assert status == 200 and len(json.loads(body)) == 1
    for bad, words in [
        ("limit=0", b"outside the range"),
        ("limit=101", b"outside the range"),
        ("limit=x", b"invalid limit"),
        ("filters=" + quote('{"color":["red"]}'), b"Invalid filter 'color'"),
        ("filters=" + quote('{"stars":["many"]}'), b"Invalid filter 'stars=many'"),
        ("filters=" + quote('{"is-official":["maybe"]}'), b"Invalid filter 'is-official=maybe'"),
    ]:
        status, body = api(daemon, "GET", f"/v1.24/images/search?term={term}&{bad}")
        assert status == 400 and words in body, (bad, status, body)
    status, body = api(daemon, "GET", "/v1.24/images/search?term=")
    assert status == 400


def test_search_of_unreachable_and_v2_only_registries(daemon):
    # The default index is a closed loopback port in tests (LXC_DOCKER_DEFAULT_REGISTRY).
    down = daemon.cli("search", "busybox")
    assert down.returncode == 1 and b"cannot reach the registry" in down.stderr, down.stderr
    require_tools(BINARY, hint="apt-get install docker-registry (scripts/setup-dev.sh)")
    reg = DistributionRegistry().start()
    try:
        result = daemon.cli("search", f"{reg.host}/busybox")
        assert result.returncode == 1
        assert b"does not offer search" in result.stderr and b"v2 registries" in result.stderr, result.stderr
    finally:
        reg.stop()


def test_search_with_docker_cli_28_and_sdk(daemon, index):
    require(shutil.which(DOCKER_CLI), "the docker CLI 28 is not installed at /usr/local/bin/docker")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    env["DOCKER_CONFIG"] = "/tmp/lxc-docker-test-cli-config"
    cli28 = [DOCKER_CLI, "-H", daemon.host, "search"]
    result = subprocess.run(cli28 + [f"{index.hostport}/tool"], capture_output=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.decode().splitlines()
    assert lines[0].split()[:3] == ["NAME", "DESCRIPTION", "STARS"]
    assert [line.split()[0] for line in lines[1:]] == ["alice/tool", "toolbox"]
    result = subprocess.run(
        cli28 + ["--filter", "is-official=true", "--limit", "5", f"{index.hostport}/tool"],
        capture_output=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert [line.split()[0] for line in result.stdout.decode().splitlines()[1:]] == ["toolbox"]
    docker = require_module("docker", "pip install docker; scripts/setup-dev.sh installs it")
    client = docker.DockerClient(base_url=daemon.host, version="auto", timeout=60)
    try:
        rows = client.images.search(f"{index.hostport}/tool")
        assert {r["name"]: r["star_count"] for r in rows} == {"alice/tool": 2, "toolbox": 1}
        with pytest.raises(docker.errors.APIError):
            client.images.search(f"{index.hostport}/tool", limit=500)
    finally:
        client.close()


def test_login_against_a_v1_only_index(daemon, index, tmp_path):
    proxy = RegistryProxy(index.port, hide_v2=True)
    home = {"HOME": str(tmp_path)}
    try:
        server = proxy.host
        wrong = daemon.cli("login", "-u", "alice", "-p", "nope1", "-e", "alice@example.org", server, env=home)
        assert wrong.returncode == 1, wrong
        assert b"Wrong login/password, please try again" in wrong.stderr, wrong.stderr
        assert proxy.refused_v2 >= 1  # the client tried v2 first, then spoke v1
        assert not (tmp_path / ".dockercfg").exists()
        ok = daemon.cli(
            "login", "-u", "alice", "-p", "wonderland", "-e", "alice@example.org", server, env=home
        )
        assert ok.returncode == 0 and ok.stdout == b"Login Succeeded\n", ok
        # Without an email there is no account to create: the credentials are only checked.
        again = daemon.cli("login", "-u", "alice", "-p", "wonderland", server, env=home)
        assert again.returncode == 0 and b"Login Succeeded" in again.stdout, again
        new = daemon.cli("login", "-u", "carol", "-p", "s3cret!", "-e", "carol@example.org", server, env=home)
        assert new.returncode == 0, new
        assert b"Account created. Please see the documentation of the registry" in new.stdout
        assert requests.get(f"{index.url}/v1/users/", headers=_basic("carol", "s3cret!")).status_code == 200
        cfg = json.loads((tmp_path / ".dockercfg").read_text())
        assert cfg[server] == {
            "auth": base64.b64encode(b"carol:s3cret!").decode(),
            "email": "carol@example.org",
        }
        bad = daemon.cli("login", "-u", "dave", "-p", "abc", "-e", "dave@example.org", server, env=home)
        assert bad.returncode == 1 and b"Registration: Password must be at least 5" in bad.stderr, bad
    finally:
        proxy.close()


def test_insecure_registry_flag_is_validated(daemon_factory):
    for bad in ("http://10.0.0.1:5000", "10.0.0.0/33", "host:port"):
        d = daemon_factory("--insecure-registry", bad)
        with pytest.raises(RuntimeError, match="insecure"):
            d.start()
    d = daemon_factory("--insecure-registry", "10.1.0.0/16", "--insecure-registry", "reg.test:5000").start()
    status, body = api(d, "GET", "/v1.24/info")
    assert status == 200
    config = json.loads(body)["RegistryConfig"]
    assert config["InsecureRegistryCIDRs"] == ["127.0.0.0/8", "10.1.0.0/16"]
    assert config["IndexConfigs"]["reg.test:5000"]["Secure"] is False
    assert config["IndexConfigs"]["docker.io"]["Secure"] is True
    if shutil.which(DOCKER_CLI):  # the CLI 28 lists them as Docker's daemon would
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
        env["DOCKER_CONFIG"] = "/tmp/lxc-docker-test-cli-config"
        info = subprocess.run([DOCKER_CLI, "-H", d.host, "info"], capture_output=True, env=env, timeout=60)
        listed = info.stdout.decode().split("Insecure Registries:", 1)[1]
        assert "reg.test:5000" in listed and "10.1.0.0/16" in listed and "127.0.0.0/8" in listed


def _read_until(fd: int, wanted: bytes, seen: bytearray, timeout: float = 30) -> None:
    import select
    import time

    deadline = time.monotonic() + timeout
    while wanted not in seen:
        left = deadline - time.monotonic()
        assert left > 0, f"no {wanted!r} in {bytes(seen)!r}"
        if select.select([fd], [], [], left)[0]:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # EIO: the child closed the terminal
                chunk = b""
            assert chunk, f"EOF before {wanted!r} in {bytes(seen)!r}"
            seen += chunk


def test_login_prompts_on_a_terminal(index, daemon, tmp_path):
    import pty

    from lib.daemon import docker_cmd, our_env

    proxy = RegistryProxy(index.port, hide_v2=True)
    try:
        argv = docker_cmd() + ["-H", daemon.host, "login", proxy.host]
        env = our_env({"HOME": str(tmp_path)})
        pid, fd = pty.fork()
        if pid == 0:  # the child: the terminal is its stdin, stdout and controlling terminal
            os.execvpe(argv[0], argv, env)
        seen = bytearray()
        try:
            _read_until(fd, b"Username: ", seen)
            os.write(fd, b"alice\n")
            _read_until(fd, b"Password: ", seen)
            os.write(fd, b"wonderland\n")
            _read_until(fd, b"Email: ", seen)
            os.write(fd, b"alice@example.org\n")
            _read_until(fd, b"Login Succeeded", seen)
        finally:
            _, status = os.waitpid(pid, 0)
            os.close(fd)
        assert os.waitstatus_to_exitcode(status) == 0, bytes(seen)
        assert b"wonderland" not in seen  # the password is not echoed
        cfg = json.loads((tmp_path / ".dockercfg").read_text())
        assert cfg[proxy.host]["auth"] == base64.b64encode(b"alice:wonderland").decode()
    finally:
        proxy.close()


def test_login_and_streamed_push_to_our_index_over_v2(index, daemon, daemon_factory, tmp_path):
    home = {"HOME": str(tmp_path)}
    name = f"{index.hostport}/alice/bb:v1"
    daemon.out("tag", "busybox", name)
    try:
        denied = daemon.cli("push", name, env=home)
        assert denied.returncode == 1 and b"unauthorized" in denied.stderr.lower(), denied.stderr
        login = daemon.cli("login", "-u", "alice", "-p", "wonderland", index.hostport, env=home)
        assert login.returncode == 0 and b"Login Succeeded" in login.stdout, login
        out = daemon.cli("push", name, env=home, check=True, timeout=120).stdout.decode()
        assert "Pushed" in out and "v1: digest: sha256:" in out, out
        b = daemon_factory().start()
        assert b.out("run", "--rm", name, "echo", "from-index").strip() == "from-index"
    finally:
        daemon.cli("rmi", name)
