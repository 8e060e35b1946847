"""`docker exec` with the oci driver: the runtime's own `exec`, as Docker does with runc.

The process's description (process.json) starts from the container's config.json "process", so the
exec keeps the container's capabilities, no_new_privs, rlimits and AppArmor profile (seccomp and
cgroups are the container's already in the runtime), with the exec's argv, environment, working
directory, user and terminal on top; `privileged` gets every capability of the daemon's bounding set.

`exec --detach --pid-file`: the runtime exits once the program runs, and the program is re-parented to
the daemon, a child subreaper (driver.py), which reaps it through a pidfd and so gets its real exit
status, with no runtime process staying. Without a tty the program's stdio are the runtime's (the
daemon's pipes, passed straight through); with one the runtime makes a terminal of the container's
devpts and sends its master over the console socket, handed to the daemon by `on_terminal`.
"""

from __future__ import annotations

import dataclasses
import json
import os
import select
import subprocess
import tempfile
from collections.abc import Callable

from lxc_docker.execution.base import Command, ContainerStartError, ExecProcess, Stdio
from lxc_docker.execution.native import user as native_user
from lxc_docker.execution.oci import console, spec
from lxc_docker.execution.oci.runtime import CALL_TIMEOUT, Runtime, error_text
from lxc_docker.execution.pidreap import kill_and_reap
from lxc_docker.sysutil import atomic

# How long a runtime's process left in the container after a failed exec may take to exit.
_ORPHAN_EXIT = 5.0


def process_doc(base: dict, process: ExecProcess, ids: tuple[int, int, list[int]], privileged: dict) -> dict:
    """process.json for `process`, from the container's config.json process `base`; `ids` is the
    exec's (uid, gid, groups), `privileged` the capability sets of a privileged process."""
    uid, gid, groups = ids
    doc = dict(base)
    doc["terminal"] = process.tty
    doc["user"] = {"uid": uid, "gid": gid, "additionalGids": groups} if groups else {"uid": uid, "gid": gid}
    doc["args"] = list(process.args)
    doc["env"] = list(process.env)
    doc["cwd"] = process.workdir or "/"
    doc.pop("consoleSize", None)
    if process.privileged:
        doc["capabilities"] = privileged
    return doc


def _reap_orphans(name: str, container_pid: int) -> None:
    """Reap what a failed `exec --detach` left us: crun's process inside the container, which exits
    when the program can't be started, outlives crun and is re-parented to the daemon (a subreaper);
    and a pid namespace with a zombie in it never finishes dying: the container's PID 1 would hang
    on its way out, and `docker stop` with it. Called once the runtime has exited, so every orphan of
    it is ours already. Only children of ours that carry the runtime's name in a child pid namespace:
    zombies are reaped, and one still alive in this container's pid namespace is waited for (briefly:
    it is on its way out). Never a program that ran (an exec'd one has its own name). The one other
    process that matches is the PID 1 of a container being created at the same moment, if it died
    before its exec: reaped here, that start fails as it would have anyway (its pidfd_open fails)."""
    me = os.getpid()
    try:
        namespace = os.readlink(f"/proc/{container_pid}/ns/pid")
    except OSError:
        namespace = ""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as f:
                fields = dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)
        except OSError:
            continue
        if fields.get("PPid") != str(me) or fields.get("Name") != name[:15]:
            continue
        if len(fields.get("NSpid", "").split()) < 2:
            continue
        pid = int(entry)
        if not fields.get("State", "").startswith("Z"):
            try:
                if not namespace or os.readlink(f"/proc/{pid}/ns/pid") != namespace:
                    continue
                pidfd = os.pidfd_open(pid)
            except OSError:
                continue
            try:
                select.select([pidfd], [], [], _ORPHAN_EXIT)
            finally:
                os.close(pidfd)
        try:
            os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG)
        except ChildProcessError:
            pass


def _await_console(listener, proc: subprocess.Popen) -> int:  # noqa: ANN001
    """The pty master the runtime sends, or -1 if it exits without sending one."""
    procfd = os.pidfd_open(proc.pid)
    try:
        poller = select.poll()
        poller.register(listener.fileno(), select.POLLIN)
        poller.register(procfd, select.POLLIN)
        ready = dict(poller.poll(CALL_TIMEOUT * 1000))
        if listener.fileno() in ready:
            return console.receive_master(listener)
        return -1
    finally:
        os.close(procfd)


def run(
    runtime: Runtime,
    bundle: str,
    command: Command,
    process: ExecProcess,
    stdio: Stdio,
    on_start: Callable[[int], None],
    on_terminal: Callable[[int], None] | None,
    start_error: Callable[[str], ContainerStartError],
    read_in_root: Callable[[str, str], str],
    bounding: int,
    container_pid: int,
) -> int:
    """ExecDriver.exec for the oci driver; `bundle` is the running container's bundle directory,
    `bounding` the daemon's capability bounding set, `container_pid` its PID 1 (driver.py's helpers
    are passed in)."""
    if not process.args:
        raise ContainerStartError("No exec command specified", 1)
    try:
        with open(os.path.join(bundle, "config.json"), "rb") as f:
            config = json.load(f)
    except (OSError, ValueError) as e:
        raise ContainerStartError(f"the container's bundle is unreadable: {e}", 1)
    try:
        ids = native_user.resolve(
            process.user,
            read_in_root(command.rootfs, "/etc/passwd"),
            read_in_root(command.rootfs, "/etc/group"),
            command.group_add,
        )
    except native_user.UnknownUser as e:
        raise ContainerStartError(str(e), 1)
    every = spec.capabilities(dataclasses.replace(command, privileged=True), bounding)
    doc = process_doc(config.get("process") or {}, process, ids, every)
    # One directory per exec in the bundle (removed with it): process.json, pid file, runtime log and
    # console socket, named by a descriptor since a bundle path may exceed sun_path's 108 bytes.
    work = tempfile.mkdtemp(prefix="exec-", dir=bundle)
    dirfd = os.open(work, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    listener = None
    master, pidfd = -1, -1
    log = os.path.join(work, "runtime.log")
    try:
        atomic.write_bytes(os.path.join(work, "process.json"), json.dumps(doc).encode(), 0o600)
        args = ["exec", "--detach", "--process", os.path.join(work, "process.json")]
        args += ["--pid-file", os.path.join(work, "pid")]
        if process.tty:
            socket_path = f"/proc/{os.getpid()}/fd/{dirfd}/console.sock"
            listener = console.listen(socket_path)
            args += ["--console-socket", socket_path]
            fds = {"stdin": subprocess.DEVNULL, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        else:
            stdin = subprocess.DEVNULL if stdio.stdin is None else stdio.stdin
            fds = {"stdin": stdin, "stdout": stdio.stdout, "stderr": stdio.stderr}
        proc = subprocess.Popen(
            runtime.argv(*args, command.id, log=log), close_fds=True, start_new_session=True, **fds
        )
        if listener is not None:
            master = _await_console(listener, proc)
        try:
            status = proc.wait(CALL_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise ContainerStartError(f"{runtime.name} exec did not finish in time", 1)
        if status != 0:
            _reap_orphans(runtime.name, container_pid)
            raise start_error(error_text("", log))
        with open(os.path.join(work, "pid")) as f:
            pid = int(f.read().strip())
        # A program that has exited already is our zombie (we are its subreaper): the pidfd still
        # names it, and waitid gives its status.
        pidfd = os.pidfd_open(pid)
        if master >= 0:
            if on_terminal is None:
                os.close(master)
            else:
                on_terminal(master)
            master = -1
        on_start(pid)
    except BaseException as e:
        if master >= 0:
            os.close(master)
        if pidfd >= 0:
            kill_and_reap(pidfd)
        if isinstance(e, OSError):
            raise ContainerStartError(f"{runtime.name} exec: {e}", 1)
        raise
    finally:
        if listener is not None:
            listener.close()
        os.close(dirfd)
        for name in ("process.json", "pid", "runtime.log", "console.sock"):
            try:
                os.unlink(os.path.join(work, name))
            except OSError:
                pass
        try:
            os.rmdir(work)
        except OSError:
            pass
    try:
        result = os.waitid(os.P_PIDFD, pidfd, os.WEXITED)
        return result.si_status if result.si_code == os.CLD_EXITED else 128 + result.si_status
    except ChildProcessError:
        return -1
    finally:
        os.close(pidfd)
