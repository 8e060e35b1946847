"""The `boot2docker` command: click subcommands over one VM, settings from the profile and flags."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import click

from boot2docker import __version__, image, shellinit, ssh, vm
from boot2docker.profile import ACCELS, HYPERVISORS, Profile, ProfileError, load, profile_path


def _machine(profile: Profile):
    # A VM made by init keeps its hypervisor even if the profile changes later.
    recorded = vm.read_json(os.path.join(profile.vm_dir(), "vm.json")) or {}
    if not profile.image and recorded.get("image"):
        profile.image = recorded["image"]  # the image init was given, unless a flag names another
    if recorded.get("hypervisor", profile.hypervisor) == "virtualbox":
        from boot2docker.vbox import VBoxMachine

        return VBoxMachine(profile)
    from boot2docker.qemuvm import QemuMachine

    return QemuMachine(profile)


def _notices(machine) -> None:
    for notice in machine.notices:
        click.echo(f"boot2docker: {notice}", err=True)
    machine.notices.clear()


class Context:
    def __init__(self, overrides: dict[str, object]) -> None:
        self.overrides = overrides

    def profile(self, **more: object) -> Profile:
        try:
            return load({**self.overrides, **more})
        except ProfileError as e:
            raise click.ClickException(str(e)) from None


pass_ctx = click.make_pass_decorator(Context)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="boot2docker")
@click.option("--vm", help="VM name (VM).")
@click.option(
    "--dir", "dir_", type=click.Path(file_okay=False), help="State directory (default ~/.boot2docker)."
)
@click.option("-m", "--memory", type=click.IntRange(min=64), help="Memory in MiB (Memory).")
@click.option("-c", "--cpus", type=click.IntRange(min=1), help="Virtual CPUs (CPUs).")
@click.option("-s", "--disksize", type=click.IntRange(min=64), help="Data disk size in MiB (DiskSize).")
@click.option("--sshport", type=click.IntRange(1, 65535), help="Host port for ssh (SSHPort, 2022).")
@click.option(
    "--dockerport", type=click.IntRange(1, 65535), help="Host port for the daemon (DockerPort, 4243)."
)
@click.option("--hypervisor", type=click.Choice(HYPERVISORS), help="qemu or virtualbox (Hypervisor).")
@click.option("--accel", type=click.Choice(ACCELS), help="QEMU accelerator (Accel, auto).")
@click.option("--image", type=click.Path(file_okay=False), help="Image directory (Image).")
@click.option("--tls/--no-tls", default=None, help="TLS between client and daemon (TLS, on).")
@click.option("--qemu", help="QEMU binary (QEMU).")
@click.option("--vboxmanage", help="VBoxManage binary (VBoxManage).")
@click.option(
    "--sharedir",
    type=click.Path(file_okay=False),
    help="Host directory shared at the same path (ShareDir, ~).",
)
@click.option(
    "--boottimeout", type=click.IntRange(min=1), help="Seconds `up` waits for the daemon (BootTimeout, 180)."
)
@click.pass_context
def cli(ctx: click.Context, dir_: str | None, **flags: object) -> None:
    """Runs the Docker daemon in a small Linux VM and points the docker client at it."""
    flags["dir"] = dir_
    ctx.obj = Context(flags)


@cli.command()
@click.option(
    "--image", type=click.Path(file_okay=False), help="Use this locally built image (boot/build-image.sh)."
)
@pass_ctx
def init(obj: Context, image: str | None) -> None:
    """Create the VM: data disk, certificates, ssh key."""
    profile = obj.profile(image=image)
    machine = _machine(profile)
    try:
        machine.init()
    except vm.VMError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"Initialized VM {profile.vm!r} ({machine.hypervisor}, image {profile.image_dir()})")


def _progress(elapsed: float) -> None:
    if sys.stderr.isatty():
        click.echo(f"\rWaiting for the VM and the Docker daemon... {elapsed:4.0f} s", err=True, nl=False)


@cli.command()
@click.option("--wait/--no-wait", default=True, help="Wait until the daemon answers (default).")
@pass_ctx
def up(obj: Context, wait: bool) -> None:
    """Start the VM (or resume it) and wait for the daemon."""
    profile = obj.profile()
    machine = _machine(profile)
    click.echo(f"Starting VM {profile.vm!r}...", err=True)
    try:
        took = machine.up(wait=wait, progress=_progress)
    except vm.VMError as e:
        _notices(machine)
        if sys.stderr.isatty():
            click.echo(err=True)
        raise click.ClickException(str(e)) from None
    _notices(machine)
    if sys.stderr.isatty():
        click.echo(err=True)
    if took is not None:
        click.echo(
            f"The daemon answers on tcp://127.0.0.1:{profile.dockerport} ({took:.1f} s). To connect:",
            err=True,
        )
        values, unset = shellinit.environment(profile.dockerport, profile.tls, profile.certs_dir())
        click.echo(shellinit.render(shellinit.detect_shell(), values, unset), nl=False)


cli.add_command(up, "start")


def _simple(verb: str, method: str, doc: str) -> None:
    @pass_ctx
    def command(obj: Context) -> None:
        machine = _machine(obj.profile())
        if not machine.exists():
            raise click.ClickException(f"VM {machine.profile.vm!r} does not exist")
        try:
            getattr(machine, method)()
        except (vm.VMError, OSError) as e:
            raise click.ClickException(str(e)) from None
        except Exception as e:  # QMP errors
            raise click.ClickException(f"{verb}: {e}") from None
        _notices(machine)

    command.__doc__ = doc
    cli.command(verb)(command)


_simple("pause", "pause", "Pause the VM.")
_simple("save", "save", "Suspend the VM to disk; `up` or `resume` continues it.")
_simple("resume", "resume", "Resume a paused or saved VM.")
_simple("stop", "stop", "Power the VM off cleanly (ACPI), killing it after a timeout.")
cli.add_command(cli.commands["stop"], "halt")
cli.add_command(cli.commands["save"], "suspend")


@cli.command()
@pass_ctx
def restart(obj: Context) -> None:
    """Stop the VM, then bring it up again."""
    machine = _machine(obj.profile())
    try:
        machine.stop()
        machine.up(progress=_progress)
    except vm.VMError as e:
        raise click.ClickException(str(e)) from None
    _notices(machine)


@cli.command()
@pass_ctx
def status(obj: Context) -> None:
    """Print running, paused, saved or stopped; exit 1 unless running."""
    machine = _machine(obj.profile())
    state = machine.state() if machine.exists() else "stopped"
    _notices(machine)
    click.echo(state)
    sys.exit(0 if state == "running" else 1)


@cli.command()
@pass_ctx
def info(obj: Context) -> None:
    """The VM's settings and state as JSON."""
    profile = obj.profile()
    machine = _machine(profile)
    exists = machine.exists()
    details = {
        "Name": profile.vm,
        "Exists": exists,
        "State": machine.state() if exists else "stopped",
        "Hypervisor": machine.hypervisor,
        "Memory": profile.memory,
        "CPUs": profile.cpus,
        "DiskSize": profile.disksize,
        "SSHPort": profile.sshport,
        "DockerPort": profile.dockerport,
        "TLS": profile.tls,
        "Image": profile.image_dir(),
        "Dir": profile.vm_dir(),
        "ShareDir": profile.sharedir,
        **machine.info(),
    }
    _notices(machine)
    click.echo(json.dumps(details, indent=1))


@cli.command()
@click.option("-f", "--force", is_flag=True, help="Kill a running VM first.")
@pass_ctx
def delete(obj: Context, force: bool) -> None:
    """Delete the VM and its data disk."""
    machine = _machine(obj.profile())
    if not machine.exists():
        raise click.ClickException(f"VM {machine.profile.vm!r} does not exist")
    if machine.state() != "stopped":
        if not force:
            raise click.ClickException(
                f"VM {machine.profile.vm!r} is running: `boot2docker stop` it first, or delete --force"
            )
        machine.kill()
    machine.delete()
    _notices(machine)


cli.add_command(delete, "destroy")


@cli.command("ssh", context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@pass_ctx
def ssh_cmd(obj: Context, command: tuple[str, ...]) -> None:
    """Log into the VM as docker (or run COMMAND there)."""
    profile = obj.profile()
    argv = ssh.ssh_command(profile.ssh_key(), profile.sshport, list(command))
    try:
        code = subprocess.call(argv)
    except FileNotFoundError:
        raise click.ClickException(
            "no ssh command found: install OpenSSH (the VM's password is tcuser)"
        ) from None
    sys.exit(code)


@cli.command()
@click.option("--url", help="Image archive URL (ImageURL).")
@click.option("--sha256", help="Its SHA-256 (ImageSHA256); required.")
@pass_ctx
def download(obj: Context, url: str | None, sha256: str | None) -> None:
    """Fetch a published image, check its SHA-256, and install it as the default image."""
    profile = obj.profile()
    url = url or profile.imageurl
    if not url:
        raise click.ClickException("download needs --url (or ImageURL in the profile)")
    dest = os.path.join(profile.dir, "image")
    try:
        image.download(url, sha256 or profile.imagesha256, dest)
    except image.ImageError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"Image installed in {dest}")


@cli.command()
@pass_ctx
def ip(obj: Context) -> None:
    """The address at which the VM's ports are reachable (forwarded to 127.0.0.1)."""
    obj.profile()
    click.echo("127.0.0.1")


@cli.command("shellinit")
@click.option("--shell", type=click.Choice(shellinit.SHELLS + ("bash", "zsh")), help="Default: from $SHELL.")
@pass_ctx
def shellinit_cmd(obj: Context, shell: str | None) -> None:
    """Print the commands that point the docker client at the VM (eval "$(boot2docker shellinit)")."""
    profile = obj.profile()
    shell = {"bash": "sh", "zsh": "sh"}.get(shell or "", shell) or shellinit.detect_shell()
    values, unset = shellinit.environment(profile.dockerport, profile.tls, profile.certs_dir())
    click.echo(shellinit.render(shell, values, unset), nl=False)


@cli.command()
@pass_ctx
def config(obj: Context) -> None:
    """Print the effective settings (defaults, profile, flags) as profile lines."""
    profile = obj.profile()
    click.echo(f"# {profile_path()}")
    for key, value in profile.items():
        shown = str(value).lower() if isinstance(value, bool) else value
        click.echo(f"{key} = {shown}")


def main() -> None:
    cli(prog_name="boot2docker")
