"""`docker run` and `docker create` options (Docker 0.9's mflag names) → a create body's Config and
HostConfig.

The client side of the run-config schema: the option values are checked by `parse`, the dicts are
built by `schema`, so the keys and defaults sent are the ones the daemon reads.
"""

from __future__ import annotations

from ..mflag import FlagSet, Options
from . import logopts
from .parse import (
    parse_attach,
    parse_dns,
    parse_env,
    parse_expose,
    parse_label,
    parse_link,
    parse_lxc_conf,
    parse_memory,
    parse_port_specs,
    parse_security_opt,
    parse_volume,
    read_env_file,
    read_label_file,
    split_volumes_from,
)
from .restart import healthcheck_from_flags, parse_restart
from .schema import new_config, new_host_config

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

RUN_USAGE = "[OPTIONS] IMAGE[:TAG] [COMMAND] [ARG...]"
PORT_SPEC_FORMAT = "ip:hostPort:containerPort | ip::containerPort | hostPort:containerPort"

# Docker 0.9's validation messages, kept word for word where scripts may match them.
ERR_ATTACH_DETACH = "Conflicting options: -a and -d"
ERR_DETACH_RM = "Conflicting options: --rm and -d"


def add_run_flags(fs: FlagSet, *, create: bool = False) -> FlagSet:
    """Declare every `docker run` option (Docker 0.9's mflag names) on `fs`.

    `create` leaves out the options that only make sense when the client stays to run the container
    (-d, --rm, --sig-proxy), as later Docker's `docker create` does.
    """
    fs.list(["a", "-attach"], "Attach to stdin, stdout or stderr.")
    fs.int(["c", "-cpu-shares"], 0, "CPU shares (relative weight)")
    fs.list(["-cap-add"], "Add Linux capabilities")
    fs.list(["-cap-drop"], "Drop Linux capabilities")
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
    fs.list(["-group-add"], "Add additional groups to join")
    fs.string(["h", "-hostname"], "", "Container host name")
    fs.bool(["i", "-interactive"], False, "Keep stdin open even if not attached")
    fs.list(["#link", "-link"], "Add link to another container (name:alias)")
    fs.list(["l", "-label"], "Set meta data on a container (KEY=VALUE or KEY)")
    fs.list(["-label-file"], "Read in a line delimited file of labels")
    fs.string(["-log-driver"], "", "Logging driver for the container")
    fs.list(["-log-opt"], "Log driver options")
    fs.list(["#lxc-conf", "-lxc-conf"], 'Add custom lxc options -lxc-conf="lxc.cgroup.cpuset.cpus = 0,1"')
    fs.string(
        ["m", "-memory"], "", "Memory limit (format: <number><optional unit>, where unit = b, k, m or g)"
    )
    fs.bool(["n", "-networking"], True, "Enable networking for this container")
    fs.string(
        ["-net", "-network"],
        "bridge",
        "Connect a container to a network (bridge, host, none, container:NAME, or a network's name)",
        dest="net",
    )
    fs.list(["-network-alias"], "Add network-scoped alias for the container")
    fs.string(["-ip"], "", "IPv4 address (e.g., 172.30.100.104) on a user-defined network")
    fs.string(["-ip6"], "", "IPv6 address (e.g., 2001:db8::33) on a user-defined network")
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
        fs.string(["-detach-keys"], "", "Override the key sequence for detaching a container")
    fs.string(
        ["-restart"],
        "no",
        "Restart policy to apply when a container exits (no, always, on-failure[:N], unless-stopped)",
    )
    fs.string(["-health-cmd"], "", "Command to run to check health")
    fs.string(["-health-interval"], "", "Time between running the check (ms|s|m|h) (default 30s)")
    fs.string(["-health-timeout"], "", "Maximum time to allow one check to run (ms|s|m|h) (default 30s)")
    fs.int(["-health-retries"], 0, "Consecutive failures needed to report unhealthy")
    fs.bool(["-no-healthcheck"], False, "Disable any container-specified HEALTHCHECK")
    fs.list(["-security-opt"], "Security Options")
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

    labels: dict[str, str] = {}
    for path in opts.label_file:  # files first: a -l given on the command line wins
        labels.update(read_label_file(path))
    labels.update(parse_label(value) for value in opts.label)

    dns = [parse_dns(value) for value in opts.dns]
    links = [parse_link(value) for value in opts.link]
    lxc_conf = [parse_lxc_conf(value) for value in opts.lxc_conf]
    volumes_from = [part for value in opts.volumes_from for part in split_volumes_from(value)]

    policy = parse_restart(opts.restart)
    if policy["Name"] != "no" and auto_remove:
        raise ValueError("Conflicting options: --restart and --rm")
    healthcheck = healthcheck_from_flags(
        opts.health_cmd, opts.health_interval, opts.health_timeout, opts.health_retries, opts.no_healthcheck
    )

    hostname, _, domainname = opts.hostname.partition(".")
    image = rest[0] if rest else ""
    cmd = list(rest[1:]) or None
    entrypoint = [opts.entrypoint] if opts.entrypoint else None
    open_stdin = bool(opts.interactive)
    attach_stdin = "stdin" in attach

    config = new_config(
        Hostname=hostname,
        Domainname=domainname,
        User=opts.user,
        Memory=memory,
        CpuShares=opts.cpu_shares,
        AttachStdin=attach_stdin,
        AttachStdout="stdout" in attach,
        AttachStderr="stderr" in attach,
        ExposedPorts=exposed,
        Tty=bool(opts.tty),
        OpenStdin=open_stdin,
        # The container's stdin closes when the attached client goes away: `echo x | docker run -i`
        # must see end-of-file.
        StdinOnce=open_stdin and attach_stdin,
        Env=env,
        Cmd=cmd,
        Dns=dns,
        Image=image,
        Volumes=volumes,
        VolumesFrom=",".join(volumes_from),
        WorkingDir=opts.workdir,
        Entrypoint=entrypoint,
        NetworkDisabled=not opts.networking,
        **({"Labels": labels} if labels else {}),
        **({"Healthcheck": healthcheck} if healthcheck else {}),
    )
    network = {}
    if opts.net and opts.net != "bridge":
        network["NetworkMode"] = opts.net
    if opts.network_alias:
        if opts.net in ("bridge", "default", "host", "none") or opts.net.startswith("container:"):
            raise ValueError("network-scoped alias is supported only for containers in user defined networks")
        config["NetworkingConfig"] = {"EndpointsConfig": {opts.net: {"Aliases": list(opts.network_alias)}}}
    ipam = {k: v for k, v in (("IPv4Address", opts.ip), ("IPv6Address", opts.ip6)) if v}
    if ipam:
        if opts.net in ("bridge", "default", "host", "none") or opts.net.startswith("container:"):
            raise ValueError("user specified IP address is supported on user defined networks only")
        endpoints = config.setdefault("NetworkingConfig", {"EndpointsConfig": {opts.net: {}}})[
            "EndpointsConfig"
        ]
        endpoints[opts.net]["IPAMConfig"] = ipam
    security = {}
    if opts.cap_add:
        security["CapAdd"] = list(opts.cap_add)
    if opts.cap_drop:
        security["CapDrop"] = list(opts.cap_drop)
    if opts.group_add:
        security["GroupAdd"] = list(opts.group_add)
    if opts.security_opt:
        security["SecurityOpt"] = [parse_security_opt(value) for value in opts.security_opt]
    logging = {}
    if opts.log_driver or opts.log_opt:
        log_opts = logopts.parse_flag_opts(list(opts.log_opt))
        if opts.log_driver == "none" and log_opts:
            raise ValueError("invalid logging opts for driver none")
        logging["LogConfig"] = {"Type": opts.log_driver, "Config": log_opts}
    host_config = new_host_config(
        Binds=binds or None,
        ContainerIDFile=opts.cidfile,
        LxcConf=lxc_conf,
        Privileged=bool(opts.privileged),
        PortBindings=bindings,
        Links=links,
        PublishAllPorts=bool(opts.publish_all),
        Dns=dns,
        VolumesFrom=volumes_from,
        **({"RestartPolicy": policy} if policy["Name"] != "no" else {}),
        **security,
        **network,
        **logging,
    )
    return config, host_config, opts
