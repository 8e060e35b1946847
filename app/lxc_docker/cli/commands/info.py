"""`docker info`: system-wide information from the daemon."""

from __future__ import annotations


def flags(cli):
    return cli.flags("info", "", "Display system-wide information")


def run(cli, args: list[str]) -> int:
    cli.parse(flags(cli), args, 0, 0)
    info = cli.client.json("GET", "/info")
    w = cli.out.write
    w(f"Containers: {info.get('Containers', 0)}\n")
    w(f"Images: {info.get('Images', 0)}\n")
    w(f"Storage Driver: {info.get('Driver', '')}\n")
    for key, value in info.get("DriverStatus") or []:
        w(f" {key}: {value}\n")
    w(f"Execution Driver: {info.get('ExecutionDriver', '')}\n")
    if info.get("LoggingDriver"):
        w(f"Logging Driver: {info['LoggingDriver']}\n")
    w(f"Kernel Version: {info.get('KernelVersion', '')}\n")
    if info.get("OperatingSystem"):
        w(f"Operating System: {info['OperatingSystem']}\n")
    if cli.debug or info.get("Debug"):
        w(f"Debug mode (server): {str(bool(info.get('Debug'))).lower()}\n")
        w(f"Debug mode (client): {str(cli.debug).lower()}\n")
        w(f"Fds: {info.get('NFd', 0)}\n")
        w(f"Goroutines: {info.get('NGoroutines', 0)}\n")
        w(f"EventsListeners: {info.get('NEventsListener', 0)}\n")
        w(f"Init Path: {info.get('InitPath', '')}\n")
    if info.get("DockerRootDir"):
        w(f"Docker Root Dir: {info['DockerRootDir']}\n")
    if not info.get("MemoryLimit"):
        cli.err.write("WARNING: No memory limit support\n")
    if not info.get("SwapLimit"):
        cli.err.write("WARNING: No swap limit support\n")
    return 0
