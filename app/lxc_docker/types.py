"""`docker run` options turned into the Remote API's `Config` and `HostConfig`, with Docker 0.9's rules.

Pure logic shared by `docker run` and `docker create` (and anything else that reads run options): no
daemon imports and no I/O beyond reading `--env-file` and the host environment for `-e NAME`.
"""

from __future__ import annotations

import os

from .mflag import FlagSet, Options

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

RUN_USAGE = "[OPTIONS] IMAGE[:TAG] [COMMAND] [ARG...]"
PORT_SPEC_FORMAT = "ip:hostPort:containerPort | ip::containerPort | hostPort:containerPort"

# Docker 0.9's validation messages, kept word for word where scripts may match them.
ERR_ATTACH_DETACH = "Conflicting options: -a and -d"
ERR_DETACH_RM = "Conflicting options: --rm and -d"

_STREAMS = ("stdin", "stdout", "stderr")
_PROTOS = ("tcp", "udp")
_DIGITS = frozenset("0123456789")
_MEMORY_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}


def add_run_flags(fs: FlagSet, *, create: bool = False) -> FlagSet:
    """Declare every `docker run` option (Docker 0.9's mflag names) on `fs`.

    `create` leaves out the options that only make sense when the client stays to run the container
    (-d, --rm, --sig-proxy), as later Docker's `docker create` does.
    """
    fs.list(["a", "-attach"], "Attach to stdin, stdout or stderr.")
    fs.int(["c", "-cpu-shares"], 0, "CPU shares (relative weight)")
    fs.string(["#cidfile", "-cidfile"], "", "Write the container ID to the file")
    if not create:
        fs.bool(
            ["d", "-detach"], False, "Detached mode: Run container in the background, print new container id"
        )
    fs.list(["#dns", "-dns"], "Set custom dns servers")
    fs.list(["e", "-env"], "Set environment variables")
    fs.list(["-env-file"], "Read in a line delimited file of ENV variables")
    fs.string(["#entrypoint", "-entrypoint"], "", "Overwrite the default entrypoint of the image")
    fs.list(["#expose", "-expose"], "Expose a port from the container without publishing it to your host")
    fs.string(["h", "-hostname"], "", "Container host name")
    fs.bool(["i", "-interactive"], False, "Keep stdin open even if not attached")
    fs.list(["#link", "-link"], "Add link to another container (name:alias)")
    fs.list(["#lxc-conf", "-lxc-conf"], 'Add custom lxc options -lxc-conf="lxc.cgroup.cpuset.cpus = 0,1"')
    fs.string(
        ["m", "-memory"], "", "Memory limit (format: <number><optional unit>, where unit = b, k, m or g)"
    )
    fs.bool(["n", "-networking"], True, "Enable networking for this container")
    fs.string(["#name", "-name"], "", "Assign a name to the container")
    fs.bool(["P", "-publish-all"], False, "Publish all exposed ports to the host interfaces")
    fs.list(
        ["p", "-publish"],
        f"Publish a container's port to the host (format: {PORT_SPEC_FORMAT}) "
        "(use 'docker port' to see the actual mapping)",
    )
    fs.bool(["#privileged", "-privileged"], False, "Give extended privileges to this container")
    if not create:
        fs.bool(
            ["#rm", "-rm"], False, "Automatically remove the container when it exits (incompatible with -d)"
        )
        fs.bool(
            ["#sig-proxy", "-sig-proxy"],
            True,
            "Proxify all received signal to the process (even in non-tty mode)",
        )
    fs.bool(["t", "-tty"], False, "Allocate a pseudo-tty")
    fs.string(["u", "-user"], "", "Username or UID")
    fs.list(
        ["v", "-volume"],
        "Bind mount a volume (e.g. from the host: -v /host:/container, from docker: -v /container)",
    )
    fs.list(["#volumes-from", "-volumes-from"], "Mount volumes from the specified container(s)")
    fs.string(["w", "-workdir"], "", "Working directory inside the container")
    return fs


def run_flags() -> FlagSet:
    return add_run_flags(FlagSet("run", RUN_USAGE, "Run a command in a new container"))


def parse_run(args: list[str], fs: FlagSet | None = None) -> tuple[dict[str, Any], dict[str, Any], Options]:
    """Parse `docker run` arguments into (Config, HostConfig, options).

    Raises FlagError for option syntax (unknown option, missing value) and ValueError, with the
    message to show the user, for every invalid value or conflicting combination. Config["Image"] is
    "" when no image was given: the caller shows the usage then. `options.attach` comes back
    normalised to the attached stream names.
    """
    if fs is None:
        fs = run_flags()
    opts, rest = fs.parse(args)
    detach = getattr(opts, "detach", False)
    auto_remove = getattr(opts, "rm", False)

    attach = [parse_attach(value) for value in opts.attach]
    if detach and attach:
        raise ValueError(ERR_ATTACH_DETACH)
    if detach and auto_remove:
        raise ValueError(ERR_DETACH_RM)
    if opts.workdir and not opts.workdir.startswith("/"):
        raise ValueError(
            f"The working directory '{opts.workdir}' is invalid. It needs to be an absolute path."
        )
    if not attach and not detach:
        # Docker 0.9: without -a (and without -d) attach the output, and stdin too when -i asks for it.
        attach = ["stdout", "stderr"] + (["stdin"] if opts.interactive else [])
    opts.attach = attach

    memory = parse_memory(opts.memory) if opts.memory else 0

    volumes: dict[str, dict] = {}
    binds: list[str] = []
    for spec in opts.volume:
        container_path, bind = parse_volume(spec)
        volumes[container_path] = {}
        if bind is not None:
            binds.append(bind)

    exposed, bindings = parse_port_specs(opts.publish)
    for spec in opts.expose:
        exposed.setdefault(parse_expose(spec), {})

    env: list[str] = []
    for path in opts.env_file:
        env.extend(read_env_file(path))
    for value in opts.env:
        entry = parse_env(value)
        if entry is not None:
            env.append(entry)

    dns = [parse_dns(value) for value in opts.dns]
    links = [parse_link(value) for value in opts.link]
    lxc_conf = [parse_lxc_conf(value) for value in opts.lxc_conf]
    volumes_from = [part for value in opts.volumes_from for part in _split_volumes_from(value)]

    hostname, _, domainname = opts.hostname.partition(".")
    image = rest[0] if rest else ""
    cmd = list(rest[1:]) or None
    entrypoint = [opts.entrypoint] if opts.entrypoint else None
    open_stdin = bool(opts.interactive)
    attach_stdin = "stdin" in attach

    config: dict[str, Any] = {
        "Hostname": hostname,
        "Domainname": domainname,
        "User": opts.user,
        "Memory": memory,
        "MemorySwap": 0,
        "CpuShares": opts.cpu_shares,
        "AttachStdin": attach_stdin,
        "AttachStdout": "stdout" in attach,
        "AttachStderr": "stderr" in attach,
        "PortSpecs": None,  # deprecated since API 1.7; ExposedPorts and PortBindings replace it
        "ExposedPorts": exposed,
        "Tty": bool(opts.tty),
        "OpenStdin": open_stdin,
        # The container's stdin closes when the attached client goes away: `echo x | docker run -i`
        # must see end-of-file.
        "StdinOnce": open_stdin and attach_stdin,
        "Env": env,
        "Cmd": cmd,
        "Dns": dns,
        "Image": image,
        "Volumes": volumes,
        "VolumesFrom": ",".join(volumes_from),
        "WorkingDir": opts.workdir,
        "Entrypoint": entrypoint,
        "NetworkDisabled": not opts.networking,
        "OnBuild": None,
    }
    host_config: dict[str, Any] = {
        "Binds": binds or None,
        "ContainerIDFile": opts.cidfile,
        "LxcConf": lxc_conf,
        "Privileged": bool(opts.privileged),
        "PortBindings": bindings,
        "Links": links,
        "PublishAllPorts": bool(opts.publish_all),
        "Dns": dns,
        "VolumesFrom": volumes_from,
    }
    return config, host_config, opts


def parse_attach(value: str) -> str:
    stream = value.lower()
    if stream not in _STREAMS:
        raise ValueError(f"Invalid argument for -a: {value}: valid streams are STDIN, STDOUT and STDERR.")
    return stream


def parse_memory(text: str) -> int:
    """Bytes from a memory limit: digits, then an optional unit b, k, m or g and an optional b."""
    body = text.strip().lower()
    if body.endswith("b"):
        body = body[:-1]
    unit = body[-1:] if body[-1:] in ("k", "m", "g") else ""
    digits = body[: len(body) - len(unit)]
    if not digits or not set(digits) <= _DIGITS:
        raise ValueError(f"Invalid memory limit: {text}")
    return int(digits) * _MEMORY_UNITS[unit]


def _port_number(text: str, what: str) -> int:
    if not text or not set(text) <= _DIGITS or int(text) > 65535:
        raise ValueError(f"Invalid {what}: {text}")
    return int(text)


def _split_proto(spec: str) -> tuple[str, str]:
    port, slash, proto = spec.rpartition("/")
    if not slash:
        return spec, "tcp"
    proto = proto.lower()
    if proto not in _PROTOS:
        raise ValueError(f"Invalid proto: {proto}")
    return port, proto


def parse_port_spec(spec: str) -> tuple[str, dict[str, str]]:
    """One `-p` value → ("8080/tcp", {"HostIp": ..., "HostPort": ...}).

    Forms: containerPort, hostPort:containerPort, ip:hostPort:containerPort, ip::containerPort,
    each optionally followed by /tcp or /udp.
    """
    raw, proto = _split_proto(spec)
    parts = raw.split(":")
    if len(parts) == 1:
        host_ip, host_port, container_port = "", "", parts[0]
    elif len(parts) == 2:
        host_ip, (host_port, container_port) = "", parts
    elif len(parts) == 3:
        host_ip, host_port, container_port = parts
    else:
        raise ValueError(f"Invalid port specification: {spec}")
    if not container_port:
        raise ValueError(f"No port specified: {spec}<empty>")
    private = _port_number(container_port, "containerPort")
    if private == 0:
        raise ValueError(f"Invalid containerPort: {container_port}")
    if host_port:
        host_port = str(_port_number(host_port, "hostPort"))
    if host_ip and not _is_ipv4(host_ip):
        raise ValueError(f"Invalid ip address: {host_ip}")
    return f"{private}/{proto}", {"HostIp": host_ip, "HostPort": host_port}


def parse_port_specs(specs: list[str]) -> tuple[dict[str, dict], dict[str, list[dict[str, str]]]]:
    """`-p` values → (ExposedPorts, PortBindings); one port may be published several times."""
    exposed: dict[str, dict] = {}
    bindings: dict[str, list[dict[str, str]]] = {}
    for spec in specs:
        port, binding = parse_port_spec(spec)
        exposed.setdefault(port, {})
        bindings.setdefault(port, []).append(binding)
    return exposed, bindings


def parse_expose(spec: str) -> str:
    """An `--expose` value (`80`, `53/udp`) → "80/tcp"; publishing syntax is refused."""
    if ":" in spec:
        raise ValueError(f"Invalid port format for --expose: {spec}")
    port, proto = _split_proto(spec)
    number = _port_number(port, "port")
    if number == 0:
        raise ValueError(f"Invalid port: {port}")
    return f"{number}/{proto}"


def _clean(path: str) -> str:
    # Go's filepath.Clean: unlike normpath it never keeps a leading "//".
    cleaned = os.path.normpath(path)
    return "/" + cleaned.lstrip("/") if cleaned.startswith("//") else cleaned


def parse_volume(spec: str) -> tuple[str, str | None]:
    """One `-v` value → (container path, bind for HostConfig.Binds or None).

    `/data` asks the daemon for a new volume; `/host:/data[:ro|:rw]` binds a host path. A relative
    host path is made absolute against the client's working directory (the daemon's own working
    directory would be meaningless to the user).
    """
    parts = spec.split(":")
    if len(parts) > 3 or not all(parts):
        raise ValueError(f"Invalid volume specification: {spec}")
    if len(parts) == 1:
        container_path = parts[0]
    else:
        container_path = parts[1]
    if not container_path.startswith("/"):
        raise ValueError(f"Invalid volume specification: {spec}: {container_path} is not an absolute path")
    container_path = _clean(container_path)
    if container_path == "/":
        raise ValueError("Invalid volume: path can't be '/'")
    if len(parts) == 1:
        return container_path, None
    host_path = _clean(os.path.abspath(parts[0]))
    bind = f"{host_path}:{container_path}"
    if len(parts) == 3:
        if parts[2] not in ("ro", "rw"):
            raise ValueError(f"Invalid mode for volumes: {parts[2]} (use ro or rw)")
        bind += ":" + parts[2]
    return container_path, bind


def parse_link(spec: str) -> str:
    """`name:alias` (a bare `name` is its own alias, as in later Docker)."""
    parts = spec.split(":")
    if len(parts) == 1:
        parts.append(parts[0].lstrip("/"))
    if len(parts) != 2 or not parts[0].strip("/") or not parts[1]:
        raise ValueError(f"bad format for links: {spec}")
    return f"{parts[0]}:{parts[1]}"


def parse_lxc_conf(spec: str) -> dict[str, str]:
    """`key = value` → {"Key": ..., "Value": ...} (HostConfig.LxcConf entries)."""
    key, eq, value = spec.partition("=")
    key, value = key.strip(), value.strip()
    if not eq or not key:
        raise ValueError(f"Unable to parse lxc conf option: {spec}")
    return {"Key": key, "Value": value}


def parse_env(spec: str) -> str | None:
    """`-e NAME=value` as given; `-e NAME` takes NAME's value from the client's environment.

    Returns None for `-e NAME` when NAME is not set here, so nothing is passed (later Docker's rule;
    Docker 0.9 passed an empty value).
    """
    name, eq, _ = spec.partition("=")
    if not name:
        raise ValueError(f"Invalid environment variable: {spec}")
    if any(c in " \t\n" for c in name):
        raise ValueError(f"Invalid environment variable: variable '{name}' has white spaces")
    if eq:
        return spec
    value = os.environ.get(name)
    return None if value is None else f"{name}={value}"


def read_env_file(path: str) -> list[str]:
    """The entries of an `--env-file`: one NAME=value (or NAME) per line; blank and # lines ignored."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError as e:
        raise ValueError(f"open {path}: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not a UTF-8 text file") from None
    env = []
    for line in lines:
        line = line.lstrip()
        if not line or line.startswith("#"):
            continue
        entry = parse_env(line)
        if entry is not None:
            env.append(entry)
    return env


def parse_dns(value: str) -> str:
    if not (_is_ipv4(value) or _is_ipv6(value)):
        raise ValueError(f"{value} is not an ip address")
    return value


def _split_volumes_from(value: str) -> list[str]:
    out = []
    for part in value.split(","):
        name, _, mode = part.partition(":")
        if not name or (mode and mode not in ("ro", "rw")):
            raise ValueError(f"Invalid volumes-from specification: {value}")
        out.append(part)
    return out


def _is_ipv4(text: str) -> bool:
    parts = text.split(".")
    return len(parts) == 4 and all(
        p and set(p) <= _DIGITS and int(p) <= 255 and (p == "0" or p[0] != "0") for p in parts
    )


def _is_ipv6(text: str) -> bool:
    # _socket is already loaded by the client transport; `ipaddress` would pull in `re`.
    import _socket

    try:
        _socket.inet_pton(_socket.AF_INET6, text)
    except (OSError, ValueError):
        return False
    return True
