"""`docker [OPTIONS] COMMAND [arg...]`: global options, the lazy command table, errors to exit codes.

Only the chosen command's module is imported, so `docker version` pays for nothing else.
"""

from __future__ import annotations

import os
import sys

from .. import __version__
from ..mflag import FlagError, FlagSet, HelpRequested

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..client.api import Client

# name -> (module under cli.commands, description), in Docker 0.9's words.
COMMANDS: dict[str, tuple[str, str]] = {
    "attach": ("attach_", "Attach to a running container"),
    "build": ("build", "Build a container from a Dockerfile"),
    "commit": ("commit", "Create a new image from a container's changes"),
    "cp": ("cp", "Copy files/folders from the containers filesystem to the host path"),
    "create": ("create", "Create a new container without starting it"),
    "diff": ("diff", "Inspect changes on a container's filesystem"),
    "exec": ("exec_", "Run a command in a running container"),
    "export": ("export", "Stream the contents of a container as a tar archive"),
    "kill": ("kill", "Kill a running container"),
    "pause": ("pause", "Pause all processes within a container"),
    "rename": ("rename", "Rename a container"),
    "stats": ("stats", "Display a live stream of container(s) resource usage statistics"),
    "unpause": ("unpause", "Unpause all processes within a container"),
    "update": ("update", "Update configuration of one or more containers"),
    "logs": ("logs", "Fetch the logs of a container"),
    "network": ("network", "Manage networks"),
    "port": ("port", "Lookup the public-facing port which is NAT-ed to PRIVATE_PORT"),
    "ps": ("ps", "List containers"),
    "restart": ("restart", "Restart a running container"),
    "rm": ("rm", "Remove one or more containers"),
    "run": ("run", "Run a command in a new container"),
    "start": ("start", "Start a stopped container"),
    "stop": ("stop", "Stop a running container"),
    "top": ("top", "Lookup the running processes of a container"),
    "wait": ("wait", "Block until a container stops, then print its exit code"),
    "events": ("events", "Get real time events from the server"),
    "history": ("history", "Show the history of an image"),
    "images": ("images", "List images"),
    "import": ("import_", "Create a new filesystem image from the contents of a tarball"),
    "info": ("info", "Display system-wide information"),
    "insert": ("insert", "Insert a file in an image"),
    "inspect": ("inspect", "Return low-level information on a container or image"),
    "load": ("load", "Load an image from a tar archive"),
    "login": ("login", "Register or log in to a Docker registry server"),
    "logout": ("logout", "Log out from a Docker registry server"),
    "pull": ("pull", "Pull an image or a repository from a Docker registry server"),
    "push": ("push", "Push an image or a repository to a Docker registry server"),
    "rmi": ("rmi", "Remove one or more images"),
    "save": ("save", "Save an image to a tar archive"),
    "search": ("search", "Search for an image in the docker index"),
    "tag": ("tag", "Tag an image into a repository"),
    "version": ("version", "Show the docker version information"),
    "volume": ("volume", "Manage Docker volumes"),
}


def global_flags() -> FlagSet:
    fs = FlagSet("docker", None)
    fs.bool(["D", "-debug"], False, "Enable debug mode")
    fs.list(["H", "-host"], "tcp://host:port to bind/connect to or unix://path/to/socket to use")
    fs.bool(["-api-enable-cors"], False, "Enable CORS headers in the remote API")
    fs.string(
        ["b", "-bridge"],
        "",
        "Attach containers to a pre-existing network bridge; use 'none' to disable container networking",
    )
    fs.string(
        ["-bip"], "", "Use this CIDR notation address for the network bridge's IP, not compatible with -b"
    )
    fs.bool(["d", "-daemon"], False, "Enable daemon mode")
    fs.bool(["-check"], False, "With -d: check the store under -g for damage and leaks, print them and exit")
    fs.list(["#dns", "-dns"], "Force docker to use specific DNS servers")
    fs.string(["g", "-graph"], "/var/lib/docker", "Path to use as the root of the docker runtime")
    fs.bool(["#icc", "-icc"], True, "Enable inter-container communication")
    fs.string(["#ip", "-ip"], "0.0.0.0", "Default IP address to use when binding container ports")
    fs.bool(["#iptables", "-iptables"], True, "Disable docker's addition of iptables rules")
    fs.string(["p", "-pidfile"], "/var/run/docker.pid", "Path to use for daemon PID file")
    fs.bool(["r", "-restart"], True, "Restart previously running containers")
    fs.string(["s", "-storage-driver"], "", "Force the docker runtime to use a specific storage driver")
    fs.string(["e", "-exec-driver"], "native", "Force the docker runtime to use a specific exec driver")
    fs.string(["-log-driver"], "json-file", "Default driver for container logs (daemon mode)")
    fs.list(["-log-opt"], "Set log driver options (daemon mode)")
    fs.string(["-oci-runtime"], "runc", "The OCI runtime (name in PATH or path) of the 'oci' exec driver")
    fs.string(
        ["G", "-group"],
        "docker",
        "Group to assign the unix socket specified by -H when running in daemon mode; "
        "use '' (the empty string) to disable setting of a group",
    )
    # Docker 0.10's TLS flags; DOCKER_CERT_PATH moves the three files, DOCKER_TLS_VERIFY turns
    # verification on. The same flags serve the daemon (-d) and the client.
    cert_path = os.environ.get("DOCKER_CERT_PATH") or os.path.join(os.path.expanduser("~"), ".docker")
    fs.bool(["-tls"], False, "Use TLS; implied by tls-verify flags")
    fs.string(
        ["-tlscacert"],
        os.path.join(cert_path, "ca.pem"),
        "Trust only remotes providing a certificate signed by the CA given here",
    )
    fs.string(["-tlscert"], os.path.join(cert_path, "cert.pem"), "Path to TLS certificate file")
    fs.string(["-tlskey"], os.path.join(cert_path, "key.pem"), "Path to TLS key file")
    fs.bool(
        ["-tlsverify"],
        bool(os.environ.get("DOCKER_TLS_VERIFY")),
        "Use TLS and verify the remote (daemon: verify client, client: verify daemon)",
    )
    fs.bool(["v", "-version"], False, "Print version information and quit")
    fs.list(
        ["-insecure-registry"],
        "Enable insecure registry communication (HTTPS without verification, then HTTP) "
        "with these host:port or CIDR (e.g. 10.0.0.0/8); loopback always is",
    )
    fs.int(
        ["#mtu", "-mtu"],
        0,
        "Set the containers network MTU; if no value is provided: default to the default route MTU "
        "or 1500 if no default route is available",
    )
    return fs


class Cli:
    """What every command gets: the daemon address, the output streams and an API client."""

    def __init__(self, hosts: list[str], debug: bool, tls: Any = None) -> None:
        self.hosts = hosts
        self.debug = debug
        self.tls = tls  # client.tls.TLSOptions when --tls or --tlsverify is on
        self.out = sys.stdout
        self.err = sys.stderr
        self._client: Client | None = None

    @property
    def client(self) -> Client:
        if self._client is None:
            from ..client.api import Client, default_host

            self._client = Client(self.hosts[0] if self.hosts else default_host(), tls=self.tls)
        return self._client

    def flags(self, name: str, usage: str, description: str) -> FlagSet:
        return FlagSet(name, usage, description)

    def parse(
        self, fs: FlagSet, args: list[str], min_args: int = 0, max_args: int = -1
    ) -> tuple[Any, list[str]]:
        opts, rest = fs.parse(args)
        for warning in fs.warnings:
            self.err.write(warning + "\n")
        if len(rest) < min_args or (max_args >= 0 and len(rest) > max_args):
            raise UsageError(fs)
        return opts, rest


class UsageError(Exception):
    def __init__(self, fs: FlagSet, message: str = "") -> None:
        super().__init__(message)
        self.fs = fs
        self.message = message


def print_commands(out: Any) -> None:
    out.write("Usage: docker [OPTIONS] COMMAND [arg...]\n")
    out.write(global_flags().defaults())
    out.write("\nA self-sufficient runtime for linux containers.\n\nCommands:\n")
    for name, (_, description) in sorted(COMMANDS.items()):
        out.write(f"    {name:<10}{description}\n")


def run_command(cli: Cli, name: str, args: list[str]) -> int:
    import importlib

    module = importlib.import_module(f"lxc_docker.cli.commands.{COMMANDS[name][0]}")
    return module.run(cli, args) or 0


def parse_global(argv: list[str]) -> tuple[Any, list[str]] | int:
    """The global options and what follows them, or the exit code when there is nothing more to do."""
    fs = global_flags()
    try:
        opts, rest = fs.parse(argv)
    except HelpRequested:
        print_commands(sys.stdout)
        return 0
    except FlagError as e:
        sys.stderr.write(f"{e}\n")
        print_commands(sys.stderr)
        return 2
    for warning in fs.warnings:
        sys.stderr.write(warning + "\n")
    if opts.version:
        sys.stdout.write(f"Docker version {__version__}, build lxc-docker\n")
        return 0
    return opts, rest


def main(opts: Any, rest: list[str]) -> int:
    """The client: run the command named in `rest` against the daemon the global options name."""
    if opts.host and len(opts.host) > 1:
        sys.stderr.write("Error: Please specify only one -H\n")
        return 1
    hosts = list(opts.host) or ([os.environ["DOCKER_HOST"]] if os.environ.get("DOCKER_HOST") else [])
    if not rest or rest[0] == "help":
        if len(rest) > 1:
            rest = [rest[1], "--help"]
        else:
            print_commands(sys.stdout)
            return 0
    name, args = rest[0], rest[1:]
    if name not in COMMANDS:
        sys.stderr.write(f"docker: '{name}' is not a docker command. See 'docker --help'.\n")
        return 1
    cli = Cli(hosts, opts.debug, tls_options(opts))
    return dispatch(cli, name, args)


def tls_options(opts: Any) -> Any:
    """The client's TLS settings from the global flags, or None without --tls/--tlsverify."""
    if not (opts.tls or opts.tlsverify):
        return None
    from ..client.tls import TLSOptions

    return TLSOptions(opts.tlsverify, opts.tlscacert, opts.tlscert, opts.tlskey)


def dispatch(cli: Cli, name: str, args: list[str]) -> int:
    from ..client.api import ApiError
    from ..client.transport import DaemonUnreachable

    try:
        code = run_command(cli, name, args)
        # Flushed here, not at exit, so a reader that went away (`docker images | head -1`) is
        # noticed where it can be handled.
        sys.stdout.flush()
        return code
    except HelpRequested:
        module_fs = _flagset_of(cli, name, args)
        sys.stdout.write(module_fs.usage() if module_fs else "")
        return 0
    except (FlagError, UsageError) as e:
        fs = e.fs if isinstance(e, UsageError) else _flagset_of(cli, name, [])
        message = e.message if isinstance(e, UsageError) else str(e)
        if message:
            sys.stderr.write(message + "\n")
        if fs is not None:
            sys.stderr.write(fs.usage())
        return 2 if isinstance(e, FlagError) else 1
    except DaemonUnreachable as e:
        sys.stderr.write(f"{e}\n")
        if cli.debug and getattr(e, "detail", ""):
            sys.stderr.write(f"({e.detail})\n")
        return 1
    except ApiError as e:
        sys.stderr.write(f"Error: {e}\n")
        return 1
    except CommandError as e:
        sys.stderr.write(f"Error: {e}\n")
        return e.code
    except BrokenPipeError:
        _PIPE_CLOSED.append(True)
        return 1
    except OSError as e:
        if not _windows_closed_pipe(e):
            if cli.debug:
                raise
            sys.stderr.write(f"Error: {e}\n")
            return 1
        _PIPE_CLOSED.append(True)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as e:
        if cli.debug:
            raise
        sys.stderr.write(f"Error: {e}\n")
        return 1


# Set when a command found its stdout closed by the reader; `lxc_docker.main` then ends the process.
_PIPE_CLOSED: list[bool] = []


def _windows_closed_pipe(error: OSError) -> bool:
    # Windows' C runtime reports a write to a pipe whose reader is gone as EINVAL, not EPIPE
    # (CPython issue 79935); socket errors carry a winerror, the runtime's do not.
    import errno

    return (
        sys.platform == "win32"
        and type(error) is OSError
        and error.errno == errno.EINVAL
        and getattr(error, "winerror", None) is None
    )


def end_on_closed_pipe(code: int) -> int:
    """After the command: if its reader closed stdout, end quietly, the way Docker's Go client does.

    Go dies of SIGPIPE when it writes to a closed stdout, which a shell reports as 141; this does the
    same, after pointing stdout at /dev/null so the interpreter's own flush at exit has nothing to
    complain about. Where there is no SIGPIPE (Windows), exit 1. Otherwise `code` is returned.
    """
    if not _PIPE_CLOSED:
        return code
    import _signal

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass  # stdout is no file descriptor: nothing is left to flush into the pipe
    sigpipe = getattr(_signal, "SIGPIPE", None)
    if sigpipe is not None:
        sys.stderr.flush()
        _signal.signal(sigpipe, _signal.SIG_DFL)
        os.kill(os.getpid(), sigpipe)
    return 1


def _flagset_of(cli: Cli, name: str, args: list[str]) -> FlagSet | None:
    import importlib

    module = importlib.import_module(f"lxc_docker.cli.commands.{COMMANDS[name][0]}")
    make = getattr(module, "flags", None)
    return make(cli) if make else None


class CommandError(Exception):
    """A failure the command reports itself (`Error: <message>`), with its exit code."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code
