"""`docker run` options → Config and HostConfig: every option, every spec form, every bad input.

The schema's own rules (types, defaults, API versions) are in test_runconfig_schema.py.
"""

from __future__ import annotations

import pytest

from lxc_docker.mflag import FlagError, FlagSet
from lxc_docker.runconfig.flags import ERR_ATTACH_DETACH, ERR_DETACH_RM, add_run_flags, parse_run
from lxc_docker.runconfig.parse import (
    parse_expose,
    parse_link,
    parse_lxc_conf,
    parse_memory,
    parse_port_spec,
    parse_port_specs,
    parse_volume,
    read_env_file,
)
from lxc_docker.runconfig.schema import CONFIG_DEFAULTS, HOST_CONFIG_DEFAULTS


def run(*args: str):
    return parse_run(list(args))


def config_of(*args: str) -> dict:
    return run(*args)[0]


def host_of(*args: str) -> dict:
    return run(*args)[1]


# -- defaults and keys ---------------------------------------------------------------------------------


def test_defaults_have_exactly_dockers_keys():
    config, host, opts = run("busybox")
    # The keys the CLI sends are the schema's, no more: Docker 0.9's Config and HostConfig.
    assert set(config) == set(CONFIG_DEFAULTS)
    assert set(host) == set(HOST_CONFIG_DEFAULTS)
    assert config["Image"] == "busybox"
    assert config["Cmd"] is None and config["Entrypoint"] is None
    assert config["AttachStdout"] and config["AttachStderr"] and not config["AttachStdin"]
    assert not config["Tty"] and not config["OpenStdin"] and not config["StdinOnce"]
    assert config["Memory"] == 0 and config["MemorySwap"] == 0 and config["CpuShares"] == 0
    assert config["ExposedPorts"] == {} and config["Volumes"] == {} and config["Env"] == []
    assert config["NetworkDisabled"] is False and config["OnBuild"] is None and config["PortSpecs"] is None
    assert host["Binds"] is None and host["PortBindings"] == {} and host["Links"] == []
    assert host["Privileged"] is False and host["PublishAllPorts"] is False
    assert opts.sig_proxy is True and opts.rm is False and opts.detach is False and opts.name == ""


def test_no_image_leaves_image_empty():
    assert config_of()["Image"] == ""
    assert config_of("-d")["Image"] == ""


def test_command_and_arguments_after_image_are_not_options():
    config = config_of("-i", "busybox", "sh", "-c", "echo -d --rm")
    assert config["Cmd"] == ["sh", "-c", "echo -d --rm"]
    assert config["OpenStdin"]


def test_entrypoint_then_cmd_is_the_rest():
    config = config_of("--entrypoint", "/bin/sh", "redis", "-c", "ls -l")
    assert config["Entrypoint"] == ["/bin/sh"]
    assert config["Cmd"] == ["-c", "ls -l"]
    assert config_of("-entrypoint=/bin/bash", "redis")["Cmd"] is None


# -- attach, interactive, tty, detach, rm ------------------------------------------------------------------


def test_interactive_attaches_stdin_and_closes_it_once():
    config = config_of("-i", "busybox")
    assert config["OpenStdin"] and config["AttachStdin"] and config["StdinOnce"]
    assert config["AttachStdout"] and config["AttachStderr"]


def test_tty_sets_tty_only():
    config = config_of("-t", "busybox")
    assert config["Tty"] and not config["OpenStdin"] and not config["AttachStdin"]


def test_it_combined():
    config, _, opts = run("-it", "busybox", "sh")
    assert config["Tty"] and config["OpenStdin"] and config["AttachStdin"] and config["StdinOnce"]
    assert opts.attach == ["stdout", "stderr", "stdin"]


def test_explicit_attach_replaces_the_defaults():
    config = config_of("-a", "stdout", "busybox")
    assert config["AttachStdout"] and not config["AttachStderr"] and not config["AttachStdin"]


def test_attach_stdin_without_i_does_not_keep_it_open():
    config = config_of("-a", "STDIN", "-a", "stderr", "busybox")
    assert config["AttachStdin"] and config["AttachStderr"] and not config["AttachStdout"]
    assert not config["OpenStdin"] and not config["StdinOnce"]


def test_i_with_explicit_attach_without_stdin_keeps_stdin_open_but_not_once():
    config = config_of("-i", "-a", "stdout", "busybox")
    assert config["OpenStdin"] and not config["AttachStdin"] and not config["StdinOnce"]


def test_attach_rejects_unknown_stream():
    with pytest.raises(ValueError, match="valid streams are STDIN, STDOUT and STDERR"):
        run("-a", "stdio", "busybox")


def test_detach_attaches_nothing():
    config, _, opts = run("-d", "busybox")
    assert not (config["AttachStdin"] or config["AttachStdout"] or config["AttachStderr"])
    assert opts.detach and opts.attach == []


def test_detach_with_interactive_keeps_stdin_open_unattached():
    config = config_of("-d", "-i", "busybox")
    assert config["OpenStdin"] and not config["AttachStdin"] and not config["StdinOnce"]


def test_detach_and_rm_conflict():
    with pytest.raises(ValueError) as e:
        run("-d", "--rm", "busybox")
    assert str(e.value) == ERR_DETACH_RM == "Conflicting options: --rm and -d"


def test_detach_and_attach_conflict():
    with pytest.raises(ValueError) as e:
        run("-d", "-a", "stdout", "busybox")
    assert str(e.value) == ERR_ATTACH_DETACH


def test_rm_deprecated_single_dash_warns():
    fs = add_run_flags(FlagSet("run", "", ""))
    _, _, opts = parse_run(["-rm", "busybox"], fs)
    assert opts.rm
    assert fs.warnings and "'-rm' is deprecated" in fs.warnings[0]


def test_sig_proxy_can_be_disabled():
    assert run("--sig-proxy=false", "busybox")[2].sig_proxy is False


def test_create_flags_have_no_detach_rm_or_sig_proxy():
    fs = add_run_flags(FlagSet("create", "", ""), create=True)
    config, _, opts = parse_run(["-i", "busybox"], fs)
    assert config["AttachStdin"] and not hasattr(opts, "detach")
    with pytest.raises(FlagError):
        parse_run(["--rm", "busybox"], add_run_flags(FlagSet("create", "", ""), create=True))


def test_unknown_option_is_a_flag_error():
    with pytest.raises(FlagError):
        run("--bogus", "busybox")


# -- identification, user, resources ---------------------------------------------------------------------


def test_hostname_splits_domain():
    config = config_of("-h", "web.sven.dev.org", "busybox")
    assert config["Hostname"] == "web" and config["Domainname"] == "sven.dev.org"
    config = config_of("--hostname", "plain", "busybox")
    assert config["Hostname"] == "plain" and config["Domainname"] == ""


def test_name_user_workdir_cidfile_privileged_networking_publish_all():
    config, host, opts = run(
        "--name", "web", "-u", "daemon", "-w", "/srv", "--cidfile", "/tmp/cid", "--privileged",
        "-n=false", "-P", "busybox",
    )  # fmt: skip
    assert opts.name == "web"
    assert config["User"] == "daemon" and config["WorkingDir"] == "/srv"
    assert config["NetworkDisabled"] is True
    assert host["ContainerIDFile"] == "/tmp/cid" and host["Privileged"] is True
    assert host["PublishAllPorts"] is True


def test_relative_workdir_is_refused():
    with pytest.raises(ValueError, match="needs to be an absolute path"):
        run("-w", "srv", "busybox")


def test_cpu_shares():
    assert config_of("-c", "512", "busybox")["CpuShares"] == 512
    assert config_of("--cpu-shares=0x10", "busybox")["CpuShares"] == 16
    with pytest.raises(FlagError):
        run("-c", "lots", "busybox")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", 0),
        ("1024", 1024),
        ("100b", 100),
        ("100B", 100),
        ("4k", 4096),
        ("4K", 4096),
        ("4kb", 4096),
        ("512m", 512 << 20),
        ("512M", 512 << 20),
        ("512mb", 512 << 20),
        ("1g", 1 << 30),
        ("2G", 2 << 30),
        ("2gB", 2 << 30),
    ],
)
def test_memory_units(text, expected):
    assert parse_memory(text) == expected


@pytest.mark.parametrize("bad", ["", "m", "abc", "12x", "1.5g", "-1m", "1 g", "1tb", "g1", "1mm", "0x10"])
def test_memory_invalid(bad):
    with pytest.raises(ValueError) as e:
        parse_memory(bad)
    assert str(e.value) == f"Invalid memory limit: {bad}"


def test_memory_option():
    assert config_of("-m", "100m", "busybox")["Memory"] == 100 << 20
    with pytest.raises(ValueError, match="Invalid memory limit: lots"):
        run("--memory=lots", "busybox")


# -- environment -----------------------------------------------------------------------------------------


def test_env_values_in_order(monkeypatch):
    monkeypatch.setenv("FROM_HOST", "hostvalue")
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    config = config_of(
        "-e", "DEVELOPMENT=1", "--env", "BRANCH=a=b", "-e", "FROM_HOST", "-e", "NOT_SET_ANYWHERE",
        "-e", "EMPTY=", "busybox",
    )  # fmt: skip
    assert config["Env"] == ["DEVELOPMENT=1", "BRANCH=a=b", "FROM_HOST=hostvalue", "EMPTY="]


@pytest.mark.parametrize("bad", ["=value", "MY VAR=1"])
def test_env_invalid(bad):
    with pytest.raises(ValueError, match="Invalid environment variable"):
        run("-e", bad, "busybox")


def test_env_file(tmp_path, monkeypatch):
    monkeypatch.setenv("HOSTVAR", "h")
    path = tmp_path / "env"
    path.write_text("# a comment\n\nA=1\n   B=two words\nHOSTVAR\nC=\n")
    assert read_env_file(str(path)) == ["A=1", "B=two words", "HOSTVAR=h", "C="]
    # --env-file entries come first, then -e, so -e can override them.
    assert config_of("--env-file", str(path), "-e", "A=2", "busybox")["Env"][-1] == "A=2"


def test_env_file_missing_or_bad(tmp_path):
    with pytest.raises(ValueError, match="open .*missing"):
        run("--env-file", str(tmp_path / "missing"), "busybox")
    bad = tmp_path / "bad"
    bad.write_text("GOOD=1\nBAD VAR=1\n")
    with pytest.raises(ValueError, match="white spaces"):
        read_env_file(str(bad))


# -- ports -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "port", "binding"),
    [
        ("8080", "8080/tcp", {"HostIp": "", "HostPort": ""}),
        ("80:8080", "8080/tcp", {"HostIp": "", "HostPort": "80"}),
        ("127.0.0.1:80:8080", "8080/tcp", {"HostIp": "127.0.0.1", "HostPort": "80"}),
        ("127.0.0.1::8080", "8080/tcp", {"HostIp": "127.0.0.1", "HostPort": ""}),
        ("53/udp", "53/udp", {"HostIp": "", "HostPort": ""}),
        ("5353:53/udp", "53/udp", {"HostIp": "", "HostPort": "5353"}),
        ("0.0.0.0:5353:53/UDP", "53/udp", {"HostIp": "0.0.0.0", "HostPort": "5353"}),
        ("1443:443/tcp", "443/tcp", {"HostIp": "", "HostPort": "1443"}),
        ("65535:65535", "65535/tcp", {"HostIp": "", "HostPort": "65535"}),
    ],
)
def test_port_spec_forms(spec, port, binding):
    assert parse_port_spec(spec) == (port, binding)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "No port specified"),
        ("80:", "No port specified"),
        ("1.2.3.4:80:", "No port specified"),
        ("http", "Invalid containerPort: http"),
        ("0", "Invalid containerPort: 0"),
        ("70000", "Invalid containerPort: 70000"),
        ("-1", "Invalid containerPort: -1"),
        ("x:80", "Invalid hostPort: x"),
        ("99999:80", "Invalid hostPort: 99999"),
        ("80/sctp", "Invalid proto: sctp"),
        ("1.2.3.4:5:6:7", "Invalid port specification"),
        ("localhost:80:8080", "Invalid ip address: localhost"),
        ("300.1.1.1:80:8080", "Invalid ip address: 300.1.1.1"),
    ],
)
def test_port_spec_invalid(spec, message):
    with pytest.raises(ValueError, match=message):
        parse_port_spec(spec)


def test_port_published_twice_binds_twice():
    exposed, bindings = parse_port_specs(["80:8080", "127.0.0.1:81:8080", "9000"])
    assert exposed == {"8080/tcp": {}, "9000/tcp": {}}
    assert bindings["8080/tcp"] == [
        {"HostIp": "", "HostPort": "80"},
        {"HostIp": "127.0.0.1", "HostPort": "81"},
    ]


def test_publish_and_expose_options():
    config, host, _ = run("-p", "1443:443", "--expose", "8098", "--expose=53/udp", "--expose", "443", "riak")
    assert config["ExposedPorts"] == {"443/tcp": {}, "8098/tcp": {}, "53/udp": {}}
    assert host["PortBindings"] == {"443/tcp": [{"HostIp": "", "HostPort": "1443"}]}


@pytest.mark.parametrize("bad", ["80:80", "x", "0", "80/sctp", ""])
def test_expose_invalid(bad):
    with pytest.raises(ValueError):
        parse_expose(bad)
    with pytest.raises(ValueError):
        run("--expose", bad, "busybox")


def test_publish_invalid_through_run():
    with pytest.raises(ValueError, match="Invalid hostPort"):
        run("-p", "abc:80", "busybox")


# -- volumes ---------------------------------------------------------------------------------------------


def test_volume_forms(tmp_path, monkeypatch):
    assert parse_volume("/data") == ("/data", None)
    assert parse_volume("/data/") == ("/data", None)
    assert parse_volume("/host:/container") == ("/container", "/host:/container")
    assert parse_volume("/host:/container:ro") == ("/container", "/host:/container:ro")
    assert parse_volume("/host:/container:rw") == ("/container", "/host:/container:rw")
    assert parse_volume("/host/../h2:/c//d/") == ("/c/d", "/h2:/c/d")
    monkeypatch.chdir(tmp_path)
    assert parse_volume("./static:/usr/bin/docker") == (
        "/usr/bin/docker",
        f"{tmp_path}/static:/usr/bin/docker",
    )


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("data", "not an absolute path"),
        ("/host:relative", "not an absolute path"),
        ("/host:/c:rx", "Invalid mode for volumes: rx"),
        ("/a:/b:ro:x", "Invalid volume specification"),
        ("/host:", "Invalid volume specification"),
        (":/c", "Invalid volume specification"),
        ("", "Invalid volume specification"),
        ("/", "path can't be '/'"),
        ("/host:/", "path can't be '/'"),
    ],
)
def test_volume_invalid(spec, message):
    with pytest.raises(ValueError, match=message):
        parse_volume(spec)


def test_volume_options_fill_volumes_and_binds():
    config, host, _ = run("-v", "/var/log/httpd", "-v", "/src:/app/bin:ro", "busybox")
    assert config["Volumes"] == {"/var/log/httpd": {}, "/app/bin": {}}
    assert host["Binds"] == ["/src:/app/bin:ro"]


def test_volumes_from():
    config, host, _ = run(
        "--volumes-from", "777f7dc92da7,ba8c0c54f0f2:ro", "--volumes-from", "web", "busybox"
    )
    assert config["VolumesFrom"] == "777f7dc92da7,ba8c0c54f0f2:ro,web"
    assert host["VolumesFrom"] == ["777f7dc92da7", "ba8c0c54f0f2:ro", "web"]
    with pytest.raises(ValueError, match="volumes-from"):
        run("--volumes-from", "web:rx", "busybox")
    with pytest.raises(ValueError, match="volumes-from"):
        run("--volumes-from", "a,,b", "busybox")


# -- links, dns, lxc-conf --------------------------------------------------------------------------------


def test_links():
    assert host_of("--link", "/redis:redis", "--link", "riak:db", "busybox")["Links"] == [
        "/redis:redis",
        "riak:db",
    ]
    assert parse_link("redis") == "redis:redis"
    assert parse_link("/redis") == "/redis:redis"


@pytest.mark.parametrize("bad", ["a:b:c", ":alias", "name:", "/:x", ""])
def test_links_invalid(bad):
    with pytest.raises(ValueError, match="bad format for links"):
        parse_link(bad)


def test_dns():
    config, host, _ = run("--dns", "8.8.8.8", "--dns=2001:4860:4860::8888", "busybox")
    assert config["Dns"] == host["Dns"] == ["8.8.8.8", "2001:4860:4860::8888"]
    for bad in ("dns.dev.org", "1.2.3", "1.2.3.256", "01.2.3.4"):
        with pytest.raises(ValueError, match="is not an ip address"):
            run("--dns", bad, "busybox")


def test_lxc_conf():
    host = host_of("--lxc-conf", "lxc.cgroup.cpuset.cpus = 0,1", "--lxc-conf=lxc.utsname=x=y", "busybox")
    assert host["LxcConf"] == [
        {"Key": "lxc.cgroup.cpuset.cpus", "Value": "0,1"},
        {"Key": "lxc.utsname", "Value": "x=y"},
    ]
    for bad in ("lxc.cgroup.cpuset.cpus", "= 1"):
        with pytest.raises(ValueError, match="Unable to parse lxc conf option"):
            parse_lxc_conf(bad)


def test_complete_documentation_example():
    config, host, opts = run(
        "-d", "-p", "1443:443", "--dns=8.8.4.4", "-v", "/var/log/httpd", "--volumes-from", "static",
        "--link", "riak", "--link", "app", "-h", "www.sven.dev.org", "--name", "web", "webserver",
    )  # fmt: skip
    assert opts.detach and opts.name == "web"
    assert config["Image"] == "webserver" and config["Cmd"] is None
    assert host["Links"] == ["riak:riak", "app:app"]
    assert config["Volumes"] == {"/var/log/httpd": {}}
    assert config["ExposedPorts"] == {"443/tcp": {}}


def test_log_config_keeps_an_empty_type_for_the_daemon_and_refuses_bad_drivers_and_options():
    from lxc_docker.errors import InvalidParameter
    from lxc_docker.runconfig.normalize import normalize_host_config

    def log_config(value):
        return normalize_host_config({"LogConfig": value}, (1, 24))["LogConfig"]

    # "" is the daemon's default (--log-driver), filled in by the daemon at create.
    assert log_config({"Type": "", "Config": {}}) == {"Type": "", "Config": {}}
    assert log_config({"Type": "json-file", "Config": {"labels": "a,b"}})["Config"] == {"labels": "a,b"}
    rotated = log_config({"Type": "json-file", "Config": {"max-size": "1m", "max-file": "3"}})
    assert rotated["Type"] == "json-file"
    with pytest.raises(InvalidParameter, match="no log driver named 'asdf' is registered"):
        log_config({"Type": "asdf", "Config": {}})
    with pytest.raises(InvalidParameter, match="no log driver named 'awslogs' is registered"):
        log_config({"Type": "awslogs", "Config": {}})
    with pytest.raises(InvalidParameter, match="unknown log opt 'max-size' for syslog log driver"):
        log_config({"Type": "syslog", "Config": {"max-size": "1m"}})
    with pytest.raises(InvalidParameter, match="invalid size: '1x'"):
        log_config({"Type": "json-file", "Config": {"max-size": "1x"}})
