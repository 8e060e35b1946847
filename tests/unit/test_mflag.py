"""Docker 0.9 option syntax (mflag): every form from the documentation's "Types of Options"."""

import pytest

from lxc_docker.mflag import (
    FlagError,
    FlagSet,
    HelpRequested,
    Options,
    go_quote,
    parse_bool,
    parse_go_int,
)


def run_flags() -> FlagSet:
    """The options of Docker 0.9's `docker run`, declared with its mflag names."""
    fs = FlagSet("run", "[OPTIONS] IMAGE [COMMAND] [ARG...]", "Run a command in a new container")
    fs.list(["a", "-attach"], "Attach to stdin, stdout or stderr.")
    fs.int(["c", "-cpu-shares"], 0, "CPU shares (relative weight)")
    fs.string(["#cidfile", "-cidfile"], "", "Write the container ID to the file")
    fs.bool(["d", "-detach"], False, "Detached mode: Run container in the background, print new container id")
    fs.list(["#dns", "-dns"], "Set custom dns servers")
    fs.list(["e", "-env"], "Set environment variables")
    fs.string(["#entrypoint", "-entrypoint"], "", "Overwrite the default entrypoint of the image")
    fs.list(["#expose", "-expose"], "Expose a port from the container without publishing it to your host")
    fs.string(["h", "-hostname"], "", "Container host name")
    fs.bool(["i", "-interactive"], False, "Keep stdin open even if not attached")
    fs.list(["#link", "-link"], "Add link to another container (name:alias)")
    fs.list(["#lxc-conf", "-lxc-conf"], "Add custom lxc options")
    fs.string(["m", "-memory"], "", "Memory limit")
    fs.bool(["n", "-networking"], True, "Enable networking for this container")
    fs.string(["#name", "-name"], "", "Assign a name to the container")
    fs.bool(["P", "-publish-all"], False, "Publish all exposed ports to the host interfaces")
    fs.list(["p", "-publish"], "Publish a container's port to the host")
    fs.bool(["#privileged", "-privileged"], False, "Give extended privileges to this container")
    fs.bool(["#rm", "-rm"], False, "Automatically remove the container when it exits (incompatible with -d)")
    fs.bool(
        ["#sig-proxy", "-sig-proxy"],
        True,
        "Proxify all received signal to the process (even in non-tty mode)",
    )
    fs.bool(["t", "-tty"], False, "Allocate a pseudo-tty")
    fs.string(["u", "-user"], "", "Username or UID")
    fs.list(["v", "-volume"], "Bind mount a volume")
    fs.list(["#volumes-from", "-volumes-from"], "Mount volumes from the specified container(s)")
    fs.string(["w", "-workdir"], "", "Working directory inside the container")
    return fs


def daemon_flags() -> FlagSet:
    """The global options of Docker 0.9's `docker` (client and daemon)."""
    fs = FlagSet("docker")
    fs.bool(["v", "-version"], False, "Print version information and quit")
    fs.bool(["d", "-daemon"], False, "Enable daemon mode")
    fs.bool(["D", "-debug"], False, "Enable debug mode")
    fs.bool(["r", "-restart"], True, "Restart previously running containers")
    fs.string(
        ["b", "-bridge"],
        "",
        "Attach containers to a pre-existing network bridge; use 'none' to disable container networking",
    )
    fs.string(
        ["#bip", "-bip"],
        "",
        "Use this CIDR notation address for the network bridge's IP, not compatible with -b",
    )
    fs.string(["p", "-pidfile"], "/var/run/docker.pid", "Path to use for daemon PID file")
    fs.string(["g", "-graph"], "/var/lib/docker", "Path to use as the root of the docker runtime")
    fs.bool(["#api-enable-cors", "-api-enable-cors"], False, "Enable CORS headers in the remote API")
    fs.list(["#dns", "-dns"], "Force docker to use specific DNS servers")
    fs.bool(["#iptables", "-iptables"], True, "Disable docker's addition of iptables rules")
    fs.string(["#ip", "-ip"], "0.0.0.0", "Default IP address to use when binding container ports")
    fs.bool(["#icc", "-icc"], True, "Enable inter-container communication")
    fs.string(["s", "-storage-driver"], "", "Force the docker runtime to use a specific storage driver")
    fs.list(
        ["H", "-host"],
        "Multiple tcp://host:port or unix://path/to/socket to bind in daemon mode, "
        "single connection otherwise",
    )
    return fs


def parse_run(*args: str) -> tuple[Options, list[str]]:
    return run_flags().parse(list(args))


# -- Boolean -----------------------------------------------------------------------------------------


def test_booleans_default_when_absent():
    opts, rest = parse_run("busybox")
    assert opts.detach is False
    assert opts.networking is True
    assert opts.sig_proxy is True
    assert rest == ["busybox"]


@pytest.mark.parametrize(
    "arg,expected",
    [
        ("-d", True),
        ("--detach", True),
        ("-detach", True),
        ("-d=true", True),
        ("-d=false", False),
        ("--detach=false", False),
        ("-d=1", True),
        ("-d=0", False),
        ("-d=t", True),
        ("-d=T", True),
        ("-d=TRUE", True),
        ("-d=True", True),
        ("-d=f", False),
        ("-d=F", False),
        ("-d=FALSE", False),
        ("-d=False", False),
    ],
)
def test_boolean_forms(arg, expected):
    opts, rest = parse_run(arg, "busybox")
    assert opts.detach is expected
    assert rest == ["busybox"]


def test_boolean_never_consumes_next_argument():
    opts, rest = parse_run("-d", "false", "ls")
    assert opts.detach is True
    assert rest == ["false", "ls"]


def test_boolean_set_alone_is_true_even_when_default_is_true():
    # Go sets "true"; the doc's "opposite of the default" describes the common false-default case.
    opts, _ = parse_run("--sig-proxy", "busybox")
    assert opts.sig_proxy is True
    opts, _ = parse_run("-sig-proxy=false", "busybox")
    assert opts.sig_proxy is False
    opts, _ = parse_run("--rm=false", "busybox")
    assert opts.rm is False
    opts, _ = parse_run("-n=false", "busybox")
    assert opts.networking is False


@pytest.mark.parametrize("bad", ["yes", "no", "on", "2", "tRUE", ""])
def test_invalid_boolean_value(bad):
    with pytest.raises(FlagError) as err:
        parse_run(f"-d={bad}")
    assert err.value.message == (
        f'invalid boolean value "{bad}" for  -d: strconv.ParseBool: parsing "{bad}": invalid syntax'
    )


def test_invalid_boolean_value_names_the_spelling_used():
    with pytest.raises(FlagError, match=r'for  --rm: strconv.ParseBool: parsing "x"'):
        parse_run("--rm=x")


# -- Multi ---------------------------------------------------------------------------------------------


def test_multi_option_from_documentation():
    opts, rest = parse_run("-a", "stdin", "-a", "stdout", "-a", "stderr", "-i", "-t", "ubuntu", "/bin/bash")
    assert opts.attach == ["stdin", "stdout", "stderr"]
    assert opts.interactive is True and opts.tty is True
    assert rest == ["ubuntu", "/bin/bash"]


def test_multi_option_complex_value():
    opts, rest = parse_run("-v", "/host:/container", "example/mysql")
    assert opts.volume == ["/host:/container"]
    assert rest == ["example/mysql"]


def test_multi_option_mixed_spellings_keep_order():
    opts, _ = parse_run("-e", "A=1", "--env=B=2", "--env", "C=3", "-e=D=4", "-env", "E=5", "x")
    assert opts.env == ["A=1", "B=2", "C=3", "D=4", "E=5"]


def test_multi_option_default_is_empty_list_and_fresh_each_parse():
    fs = run_flags()
    first, _ = fs.parse(["-e", "A=1", "x"])
    second, _ = fs.parse(["x"])
    assert first.env == ["A=1"]
    assert second.env == []


def test_multi_option_with_default_appends():
    fs = FlagSet("x", "", "")
    fs.list(["H", "-host"], "hosts", default=["unix:///var/run/docker.sock"])
    opts, _ = fs.parse(["-H", "tcp://0.0.0.0:4243"])
    assert opts.host == ["unix:///var/run/docker.sock", "tcp://0.0.0.0:4243"]
    assert "-H, --host=[unix:///var/run/docker.sock]: hosts" in fs.usage()


def test_multi_option_validator_normalises_and_rejects():
    def validate_attach(value: str) -> str:
        value = value.lower()
        if value not in ("stdin", "stdout", "stderr"):
            raise ValueError(f"valid streams are STDIN, STDOUT and STDERR, not {value}")
        return value

    fs = FlagSet("run", "", "")
    fs.list(["a", "-attach"], "attach", validate=validate_attach)
    opts, _ = fs.parse(["-a", "STDIN"])
    assert opts.attach == ["stdin"]
    with pytest.raises(FlagError) as err:
        fs.parse(["--attach=foo"])
    assert (
        err.value.message
        == 'invalid value "foo" for flag --attach: valid streams are STDIN, STDOUT and STDERR, not foo'
    )


# -- Strings and integers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["--name", "web"],
        ["--name=web"],
        ["-name", "web"],
        ["-name=web"],
        ['--name="web"'],
        ["--name='web'"],
    ],
)
def test_string_forms(args):
    opts, rest = parse_run(*args, "busybox")
    assert opts.name == "web"
    assert rest == ["busybox"]


def test_string_empty_value_forms():
    opts, _ = parse_run('-name=""', "busybox")
    assert opts.name == ""
    opts, _ = parse_run("--name=", "busybox")
    assert opts.name == ""
    opts, rest = parse_run("--name", "", "busybox")
    assert opts.name == ""
    assert rest == ["busybox"]


def test_string_value_may_start_with_dash_or_contain_equals():
    opts, rest = parse_run("-h", "-weird", "--entrypoint", "--help", "--lxc-conf=lxc.a = b", "x")
    assert opts.hostname == "-weird"
    assert opts.entrypoint == "--help"
    assert opts.lxc_conf == ["lxc.a = b"]
    assert rest == ["x"]


def test_only_one_outer_quote_pair_is_trimmed_and_only_when_matching():
    opts, _ = parse_run("""--name=""web"" """.strip(), "--workdir='/a\"", "x")
    assert opts.name == '"web"'
    assert opts.workdir == "'/a\""


def test_string_last_one_wins():
    opts, _ = parse_run("--name", "a", "--name", "b", "x")
    assert opts.name == "b"


def test_value_flag_takes_next_argument_even_if_it_looks_like_a_flag():
    opts, rest = parse_run("-p", "-d", "x")
    assert opts.publish == ["-d"]
    assert opts.detach is False
    assert rest == ["x"]


@pytest.mark.parametrize(
    "args,expected",
    [
        (["-c", "512"], 512),
        (["-c=512"], 512),
        (["--cpu-shares", "512"], 512),
        (["--cpu-shares=512"], 512),
        (["-cpu-shares", "7"], 7),
        (["-c", "-3"], -3),
        (["-c", "+3"], 3),
        (["-c", "0x10"], 16),
        (["-c", "010"], 8),
        (["-c", "0"], 0),
    ],
)
def test_int_forms(args, expected):
    opts, _ = parse_run(*args, "x")
    assert opts.cpu_shares == expected


@pytest.mark.parametrize("bad", ["x", "1.5", "", "08", "0x", "1_000", " 1", "1e3"])
def test_invalid_int(bad):
    with pytest.raises(FlagError) as err:
        parse_run("-c", bad)
    assert (
        err.value.message
        == f'invalid value "{bad}" for flag -c: strconv.ParseInt: parsing "{bad}": invalid syntax'
    )


def test_int_out_of_range():
    with pytest.raises(FlagError) as err:
        parse_run("--cpu-shares=9223372036854775808")
    assert err.value.message == (
        'invalid value "9223372036854775808" for flag --cpu-shares: '
        'strconv.ParseInt: parsing "9223372036854775808": value out of range'
    )


# -- Combined single letters ---------------------------------------------------------------------------


def test_combined_booleans():
    opts, rest = parse_run("-it", "ubuntu", "bash")
    assert opts.interactive is True and opts.tty is True
    assert rest == ["ubuntu", "bash"]
    opts, rest = parse_run("-itd", "ubuntu")
    assert (opts.interactive, opts.tty, opts.detach) == (True, True, True)


def test_combined_booleans_at_the_end():
    opts, rest = parse_run("-it")
    assert opts.interactive is True and opts.tty is True
    assert rest == []


def test_combined_last_letter_takes_a_value():
    opts, rest = parse_run("-dp", "80:80", "busybox")
    assert opts.detach is True
    assert opts.publish == ["80:80"]
    assert rest == ["busybox"]


def test_combined_last_letter_value_missing():
    with pytest.raises(FlagError, match="^flag needs an argument: -p$"):
        parse_run("-dp")


def test_combined_value_letter_must_be_last():
    with pytest.raises(FlagError, match="^flag needs an argument: -p$"):
        parse_run("-pd", "80", "busybox")


def test_combined_with_unknown_letter():
    with pytest.raises(FlagError, match="^flag provided but not defined: -ix$"):
        parse_run("-ix", "busybox")


def test_combined_with_value_is_rejected():
    with pytest.raises(FlagError, match="^bad flag syntax: -it=false$"):
        parse_run("-it=false", "busybox")


def test_long_name_wins_over_letter_group():
    # "-rm" is the long option (single dash), not -r -m.
    opts, _ = parse_run("-rm", "x")
    assert opts.rm is True
    assert opts.memory == ""


# -- Where options end ---------------------------------------------------------------------------------


def test_parsing_stops_at_first_positional():
    opts, rest = parse_run("-i", "busybox", "ls", "-l")
    assert opts.interactive is True
    assert rest == ["busybox", "ls", "-l"]


def test_options_after_the_image_belong_to_the_command():
    opts, rest = parse_run("-i", "-t", "-entrypoint", "/usr/bin/redis-cli", "example/redis", "--help")
    assert opts.entrypoint == "/usr/bin/redis-cli"
    assert rest == ["example/redis", "--help"]


def test_double_dash_ends_options():
    opts, rest = parse_run("-d", "--", "-t", "x")
    assert opts.detach is True and opts.tty is False
    assert rest == ["-t", "x"]


def test_only_the_first_double_dash_is_consumed():
    _, rest = parse_run("--", "--", "x")
    assert rest == ["--", "x"]


def test_single_dash_is_positional():
    _, rest = parse_run("-i", "-", "x")
    assert rest == ["-", "x"]


def test_empty_string_is_positional():
    _, rest = parse_run("-i", "", "-t")
    assert rest == ["", "-t"]


def test_no_arguments():
    opts, rest = run_flags().parse([])
    assert rest == []
    assert opts.attach == []


def test_input_list_is_not_modified():
    args = ["-d", "x"]
    run_flags().parse(args)
    assert args == ["-d", "x"]


# -- Errors --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "arg,message",
    [
        ("-x", "flag provided but not defined: -x"),
        ("--x", "flag provided but not defined: --x"),
        ("--nope", "flag provided but not defined: --nope"),
        ("-nope", "flag provided but not defined: -nope"),
        ("--nope=1", "flag provided but not defined: --nope"),
        ("--d", "flag provided but not defined: --d"),
        ("---name", "flag provided but not defined: ---name"),
        ("-5", "flag provided but not defined: -5"),
        ("-=x", "bad flag syntax: -=x"),
    ],
)
def test_unknown_flags(arg, message):
    with pytest.raises(FlagError) as err:
        parse_run(arg, "busybox")
    assert err.value.message == message
    assert str(err.value) == message
    assert err.value.exit_code == 2


@pytest.mark.parametrize(
    "args,message",
    [
        (["--name"], "flag needs an argument: --name"),
        (["-name"], "flag needs an argument: -name"),
        (["-p"], "flag needs an argument: -p"),
        (["-d", "-c"], "flag needs an argument: -c"),
    ],
)
def test_value_flag_without_value(args, message):
    with pytest.raises(FlagError) as err:
        parse_run(*args)
    assert err.value.message == message


@pytest.mark.parametrize("arg", ["-h", "-help", "--help"])
def test_help_when_not_defined(arg):
    fs = FlagSet("ps", "[OPTIONS]", "List containers")
    fs.bool(["a", "-all"], False, "Show all containers")
    with pytest.raises(HelpRequested):
        fs.parse(["-a", arg, "ignored"])


def test_help_letter_defined_by_command_is_that_option():
    # `docker run -h` is the hostname option, as in Docker 0.9.
    with pytest.raises(FlagError, match="^flag needs an argument: -h$"):
        parse_run("-h")
    opts, _ = parse_run("-h", "box", "x")
    assert opts.hostname == "box"
    with pytest.raises(HelpRequested):
        parse_run("--help")


def test_help_after_positional_is_positional():
    fs = FlagSet("ps", "[OPTIONS]", "List containers")
    _, rest = fs.parse(["x", "--help"])
    assert rest == ["x", "--help"]


# -- Deprecated (#) names ------------------------------------------------------------------------------


def test_deprecated_single_dash_spelling_warns():
    fs = run_flags()
    opts, _ = fs.parse(["-name", "web", "-rm", "-link", "db:db", "x"])
    assert opts.name == "web" and opts.rm is True and opts.link == ["db:db"]
    assert fs.warnings == [
        "Warning: '-name' is deprecated, it will be replaced by '--name' soon. See usage.",
        "Warning: '-rm' is deprecated, it will be replaced by '--rm' soon. See usage.",
        "Warning: '-link' is deprecated, it will be replaced by '--link' soon. See usage.",
    ]


def test_current_spellings_do_not_warn():
    fs = run_flags()
    fs.parse(["--name", "web", "--rm", "-d", "--detach", "-detach", "x"])
    assert fs.warnings == []


def test_hidden_only_name_warns_of_removal():
    fs = FlagSet("x", "", "")
    fs.bool(["#old"], False, "gone soon")
    opts, _ = fs.parse(["-old"])
    assert opts.old is True
    assert fs.warnings == ["Warning: '-old' is deprecated, it will be removed soon. See usage."]
    assert fs.defaults() == ""


def test_single_dash_long_option_without_hidden_name_is_accepted_silently():
    fs = FlagSet("x", "", "")
    fs.bool(["-no-cache"], False, "no cache")
    opts, _ = fs.parse(["-no-cache"])
    assert opts.no_cache is True
    assert fs.warnings == []


def test_warnings_reset_between_parses():
    fs = run_flags()
    fs.parse(["-rm", "x"])
    fs.parse(["--rm", "x"])
    assert fs.warnings == []


# -- Destinations and declarations ---------------------------------------------------------------------


def test_dest_names():
    opts, _ = run_flags().parse([])
    for dest in ("sig_proxy", "cpu_shares", "publish_all", "publish", "volumes_from", "lxc_conf", "hostname"):
        assert hasattr(opts, dest)


def test_explicit_dest_and_short_only_names():
    fs = FlagSet("x", "", "")
    fs.bool(["q"], False, "quiet")
    fs.string(["t", "-tag"], "", "tag", dest="repo_tag")
    opts, _ = fs.parse(["-q", "-t", "a:b"])
    assert opts == Options(q=True, repo_tag="a:b")
    assert repr(opts) == "Options(q=True, repo_tag='a:b')"


def test_is_set_distinguishes_default_from_given():
    fs = run_flags()
    fs.parse(["--sig-proxy=true", "-e", "A=1", "x"])
    assert fs.is_set("sig_proxy")
    assert fs.is_set("env")
    assert not fs.is_set("detach")


def test_redefinition_is_a_programming_error():
    fs = FlagSet("x", "", "")
    fs.bool(["d", "-detach"], False, "")
    with pytest.raises(ValueError, match="redefined"):
        fs.bool(["d", "-debug"], False, "")
    with pytest.raises(ValueError, match="redefined"):
        fs.bool(["#d"], False, "", dest="other")
    with pytest.raises(ValueError, match="destination"):
        fs.string(["x", "-detach-2"], "", "", dest="detach")
    with pytest.raises(ValueError):
        fs.bool([], False, "")
    # A rejected declaration leaves nothing half-registered.
    with pytest.raises(ValueError, match="redefined"):
        fs.bool(["y", "-detach"], False, "", dest="y")
    with pytest.raises(FlagError, match="not defined: -y"):
        fs.parse(["-y"])


# -- Global options ------------------------------------------------------------------------------------


def test_global_options_then_command():
    opts, rest = daemon_flags().parse(["-H", "unix:///x", "-D", "version"])
    assert opts.host == ["unix:///x"]
    assert opts.debug is True
    assert rest == ["version"]


def test_global_options_stop_at_command_whose_options_follow():
    opts, rest = daemon_flags().parse(["-H", "tcp://0.0.0.0:4243", "run", "-d", "busybox"])
    assert opts.daemon is False
    assert rest == ["run", "-d", "busybox"]
    run_opts, run_rest = run_flags().parse(rest[1:])
    assert run_opts.detach is True
    assert run_rest == ["busybox"]


@pytest.mark.parametrize(
    "args,check",
    [
        (["-d", "-H", "tcp://0.0.0.0:4243", "-g", "/var/lib/x"], {"daemon": True, "graph": "/var/lib/x"}),
        (["-d", "-s", "devicemapper"], {"daemon": True, "storage_driver": "devicemapper"}),
        (["-d", "-dns", "8.8.8.8"], {"dns": ["8.8.8.8"]}),
        (["-d", "-D"], {"daemon": True, "debug": True}),
        (["-dD"], {"daemon": True, "debug": True}),
        (["-d", "-H", "fd://"], {"host": ["fd://"]}),
        (["-d", "-H", "fd://3", "-H", "tcp://:4243"], {"host": ["fd://3", "tcp://:4243"]}),
        (["-d", "--icc=false", "-iptables=false"], {"icc": False, "iptables": False}),
        (["-d", "--bip", "10.0.0.1/24"], {"bip": "10.0.0.1/24"}),
        (["-d", "-api-enable-cors"], {"api_enable_cors": True}),
        ([], {"graph": "/var/lib/docker", "pidfile": "/var/run/docker.pid", "restart": True, "host": []}),
    ],
)
def test_daemon_invocations_from_documentation(args, check):
    opts, rest = daemon_flags().parse(args)
    assert rest == []
    for dest, value in check.items():
        assert getattr(opts, dest) == value


# -- Usage ---------------------------------------------------------------------------------------------


def test_usage_layout_matches_docker_subcmd():
    fs = FlagSet("run", "[OPTIONS] IMAGE [COMMAND] [ARG...]", "Run a command in a new container")
    fs.list(["a", "-attach"], "Attach to stdin, stdout or stderr.")
    fs.string(["#name", "-name"], "", "Assign a name to the container")
    fs.bool(["d", "-detach"], False, "Detached mode: Run container in the background, print new container id")
    fs.int(["c", "-cpu-shares"], 0, "CPU shares (relative weight)")
    assert fs.usage() == (
        "\n"
        "Usage: docker run [OPTIONS] IMAGE [COMMAND] [ARG...]\n"
        "\n"
        "Run a command in a new container\n"
        "\n"
        "  -a, --attach=[]: Attach to stdin, stdout or stderr.\n"
        "  -c, --cpu-shares=0: CPU shares (relative weight)\n"
        "  -d, --detach=false: Detached mode: Run container in the background, print new container id\n"
        '  --name="": Assign a name to the container\n'
    )


def test_usage_of_command_without_options_or_signature():
    fs = FlagSet("version", "", "Show the docker version information.")
    # Docker's Subcmd keeps the space before the (empty) signature.
    assert fs.usage() == "\nUsage: docker version \n\nShow the docker version information.\n\n"


def test_usage_sorted_by_first_name_uppercase_first():
    text = run_flags().defaults()
    names = [line.split("=")[0].strip() for line in text.splitlines()]
    assert names[:6] == [
        "-P, --publish-all",
        "-a, --attach",
        "-c, --cpu-shares",
        "--cidfile",
        "-d, --detach",
        "--dns",
    ]
    assert names[-4:] == ["-u, --user", "-v, --volume", "--volumes-from", "-w, --workdir"]
    assert "  --sig-proxy=true: Proxify all received signal to the process (even in non-tty mode)" in text
    assert "  -n, --networking=true: Enable networking for this container" in text
    assert "#" not in text


def test_daemon_usage_matches_documentation():
    # The documentation's listing of `docker -d` options (its lines are cut at the page width).
    documented = [
        "-D, --debug=false: Enable debug mode",
        "-H, --host=[]: Multiple tcp://host:port or unix://path/to/socket to bind in daemon mode, single con",
        "--api-enable-cors=false: Enable CORS headers in the remote API",
        '-b, --bridge="": Attach containers to a pre-existing network bridge; '
        "use 'none' to disable contain",
        '--bip="": Use this CIDR notation address for the network bridge\'s IP, not compatible with -b',
        "-d, --daemon=false: Enable daemon mode",
        "--dns=[]: Force docker to use specific DNS servers",
        '-g, --graph="/var/lib/docker": Path to use as the root of the docker runtime',
        "--icc=true: Enable inter-container communication",
        '--ip="0.0.0.0": Default IP address to use when binding container ports',
        "--iptables=true: Disable docker's addition of iptables rules",
        '-p, --pidfile="/var/run/docker.pid": Path to use for daemon PID file',
        "-r, --restart=true: Restart previously running containers",
        '-s, --storage-driver="": Force the docker runtime to use a specific storage driver',
        "-v, --version=false: Print version information and quit",
    ]
    fs = daemon_flags()
    usage = fs.usage()
    assert usage.startswith("Usage of docker:\n")
    lines = usage.splitlines()[1:]
    assert len(lines) == len(documented)
    for line, doc in zip(lines, documented, strict=True):
        assert line.startswith("  " + doc)


def test_usage_quotes_string_defaults_like_go():
    fs = FlagSet("x", "", "")
    fs.string(["s"], 'a "b"\\\n\t\x01é\u00a0', "odd")
    assert fs.defaults() == '  -s="a \\"b\\"\\\\\\n\\t\\x01é\\u00a0": odd\n'


def test_list_default_shown_like_go_slice():
    fs = FlagSet("x", "", "")
    fs.list(["e"], "env", default=["A=1", "B=2"])
    assert fs.defaults() == "  -e=[A=1 B=2]: env\n"


# -- Go helpers ----------------------------------------------------------------------------------------


def test_parse_bool_and_int_helpers():
    assert parse_bool("T") is True and parse_bool("0") is False
    with pytest.raises(ValueError, match='strconv.ParseBool: parsing "yes": invalid syntax'):
        parse_bool("yes")
    assert parse_go_int("-0x1F") == -31
    assert parse_go_int("0X1f") == 31
    assert parse_go_int("0777") == 511
    assert parse_go_int("-9223372036854775808") == -(2**63)
    with pytest.raises(ValueError, match="value out of range"):
        parse_go_int("-9223372036854775809")


def test_go_quote():
    assert go_quote("") == '""'
    assert go_quote("/var/lib/docker") == '"/var/lib/docker"'
    assert go_quote("\x7f\U0001f600\U000e0001") == '"\\x7f\U0001f600\\U000e0001"'
