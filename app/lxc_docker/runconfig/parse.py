"""`docker run` option values checked and converted, with Docker 0.9's messages.

Pure functions of the client: no I/O beyond reading an `--env-file` and the client's environment for
`-e NAME`. Each raises ValueError with the message to show the user.
"""

from __future__ import annotations

import os

from .bindmode import MODE_HINT, parse_mode

_STREAMS = ("stdin", "stdout", "stderr")
_PROTOS = ("tcp", "udp")
_DIGITS = frozenset("0123456789")
_MEMORY_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}


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

    `/data` asks the daemon for a new volume; `/host:/data[:MODE]` binds a host path (MODE: bindmode.py);
    `NAME:/data` mounts the named volume NAME. A relative host path (`./dir`, `~/dir`) is made absolute
    against the client's working directory (the daemon's own working directory means nothing to the user).
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
    source = parts[0]
    if source.startswith((".", "/", "~")):
        source = _clean(os.path.abspath(os.path.expanduser(source)))
    # Anything else names a volume (`-v NAME:/path`); the daemon checks the name.
    bind = f"{source}:{container_path}"
    if len(parts) == 3:
        try:
            parse_mode(parts[2])
        except ValueError:
            raise ValueError(f"Invalid mode for volumes: {parts[2]} ({MODE_HINT})") from None
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


def parse_label(value: str) -> tuple[str, str]:
    """`-l KEY=VALUE` or `-l KEY` (an empty value), as today's docker CLI reads a label."""
    key, _, label = value.partition("=")
    if not key.strip():
        raise ValueError(f"invalid label '{value}': empty name")
    return key, label


def read_label_file(path: str) -> list[tuple[str, str]]:
    """The labels of a `--label-file`: one KEY=VALUE (or KEY) per line; blank and # lines ignored."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError as e:
        raise ValueError(f"open {path}: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not a UTF-8 text file") from None
    return [parse_label(line.strip()) for line in lines if line.strip() and not line.lstrip().startswith("#")]


def parse_dns(value: str) -> str:
    if not (_is_ipv4(value) or _is_ipv6(value)):
        raise ValueError(f"{value} is not an ip address")
    return value


def split_volumes_from(value: str) -> list[str]:
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


def parse_security_opt(value: str) -> str:
    """A `--security-opt` value as the daemon gets it: `seccomp=PROFILE.json` names a file on the
    client's side, so its content is sent instead (as Docker's CLI does); the daemon checks the rest."""
    key, eq, path = value.partition("=")
    if key != "seccomp" or not eq or path == "unconfined":
        return value
    try:
        with open(path, "rb") as f:
            content = f.read()
    except OSError as e:
        raise ValueError(f"opening seccomp profile ({path}) failed: {e.strerror or e}") from None
    return "seccomp=" + content.decode("utf-8", "replace")
