"""The in-container init: this program re-run as `init <fd>` by the native driver. It creates the
container's namespaces, becomes the container's PID 1 (by forking once), builds its filesystem,
hostname, network and credentials, and execs the user's command, which stays PID 1.

It runs on every `docker run`, so it imports only builtin modules, ctypes and its sibling modules:
no json (the Command comes as marshal data, which this same interpreter wrote), no typing, no
`signal` (which pulls in enum).

Conversation on the socket <fd> (a socketpair with the daemon):
  daemon -> init   b"<length>\\n" + marshal.dumps(Command.to_dict())
  init   -> daemon b"pid <host pid of PID 1>\\n"   with a pidfd for it (SCM_RIGHTS); then the first
                                                  process exits: PID 1 is re-parented to the keeper,
                                                  a child subreaper, which reaps it
  daemon -> PID 1  b"go\\n"                        once it has put PID 1 in its cgroups and network
                                                  (PID 1 builds its filesystem meanwhile)
  PID 1  -> daemon b"err <exit code> <message>\\n" if the command can't be started; on success the
                                                  socket closes at the exec (close-on-exec): EOF
"""

from __future__ import annotations

import _signal
import fcntl
import marshal
import os
import termios

# All of them now, before the fork: after pivot_root the interpreter's own files (the standard
# library, this package) are out of PID 1's reach.
from lxc_docker.execution.native import capabilities, lookpath, mounts, netconf, seccomp, user
from lxc_docker.sysutil import syscalls

_NAMESPACES = (
    syscalls.CLONE_NEWNS
    | syscalls.CLONE_NEWUTS
    | syscalls.CLONE_NEWIPC
    | syscalls.CLONE_NEWNET
    | syscalls.CLONE_NEWPID
)


class _Failure(Exception):
    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def main(args: list[str]) -> int:
    """Entry point of `<program> init <fd>`; returns only on a usage error."""
    if args[:1] == ["exec"]:  # `docker exec` into a running container: nsexec.py, which reuses ours
        from lxc_docker.execution.native import nsexec

        return nsexec.main(args[1:])
    if len(args) != 1 or not args[0].isdigit():
        os.write(2, b"init: for the execution driver's use only\n")
        return 2
    sync = int(args[0])
    try:
        spec = _read_spec(sync)
    except (EOFError, ValueError):  # the daemon gave up on us
        os._exit(1)
    global _rootfs
    _rootfs = spec.get("rootfs") or ""
    try:
        # Before the fork and pivot_root, while the bindings and libseccomp can still be loaded; an
        # unusable profile or missing bindings stop the start here with a clear message.
        spec["_filter"] = _seccomp_filter(spec)
    except (seccomp.SeccompError, OSError, RuntimeError, ValueError) as e:
        _fail(sync, 1, f"seccomp: {_describe(e)}")
    try:
        namespaces = _NAMESPACES
        if spec.get("host_network") or spec.get("net_from_pid"):
            namespaces &= ~syscalls.CLONE_NEWNET
        if spec.get("net_from_pid"):  # --net container:NAME
            fd = os.open(f"/proc/{int(spec['net_from_pid'])}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
            syscalls.setns(fd, syscalls.CLONE_NEWNET)
            os.close(fd)
        syscalls.unshare(namespaces)
        pid = os.fork()  # the child is the first process of the new pid namespace: PID 1
    except OSError as e:
        _fail(sync, 1, f"creating the container's namespaces: {_describe(e)}")
    if pid:
        try:
            _report_pid(sync, pid)
        finally:
            os._exit(0)
    _container(sync, spec)
    return 1  # not reached: _container execs or exits


def _report_pid(sync: int, pid: int) -> None:
    """Tell the daemon PID 1's host pid, with a pidfd for it taken while we are still its parent: the
    keeper reaps PID 1 as soon as it dies (one that fails its set-up dies at once), and a pid the
    daemon opened only later could by then belong to another process."""
    import _socket
    import sys

    pidfd = os.pidfd_open(pid)
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM, 0, os.dup(sync))
    rights = [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, pidfd.to_bytes(4, sys.byteorder))]
    sock.sendmsg([b"pid %d\n" % pid], rights)


def _read_exact(fd: int, size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = os.read(fd, left)
        if not chunk:
            raise EOFError("the daemon closed the connection")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _read_line(fd: int) -> bytes:
    # Byte by byte: the socket is shared with the other process, and no message may be over-read.
    line = bytearray()
    while True:
        byte = os.read(fd, 1)
        if not byte:
            raise EOFError("the daemon closed the connection")
        if byte == b"\n":
            return bytes(line)
        line += byte


def _read_spec(fd: int) -> dict:
    size = int(_read_line(fd))
    return marshal.loads(_read_exact(fd, size))


def _fail(sync: int, code: int, message: str) -> None:
    text = " ".join(message.split())
    try:
        os.write(sync, f"err {code} {text}\n".encode("utf-8", "replace"))
    except OSError:
        pass
    os._exit(code)


# The container's root filesystem on the host, to turn a host path in an error into the container's.
_rootfs = ""


def _describe(error: BaseException) -> str:
    if isinstance(error, OSError) and error.strerror:
        text = error.strerror[:1].lower() + error.strerror[1:]
        name = error.filename
        if isinstance(name, str) and _rootfs and (name + "/").startswith(_rootfs.rstrip("/") + "/"):
            # Messages go to the client: the container's path, never the daemon's host path.
            name = "/" + name[len(_rootfs.rstrip("/")) :].lstrip("/")
        return f"{name}: {text}" if name else text
    return str(error) or type(error).__name__


def _container(sync: int, spec: dict) -> None:
    """PID 1 of the new pid namespace: set up what needs no daemon, wait for its go, finish, exec."""
    step = "setting up the container"
    try:
        # The daemon puts us in our cgroups meanwhile; what follows the go needs the network
        # interface it moves in, and the limits in force.
        _prepare(spec)
        step = "waiting for the daemon"
        if _read_line(sync) != b"go":
            os._exit(1)
        step = "setting up the container"
        path, argv, env = _finish(spec)
        os.set_inheritable(sync, False)
        try:
            os.execve(path, argv, env)
        except OSError as e:
            raise lookpath.exec_failure(argv[0], e)
    except EOFError:
        os._exit(1)
    except BaseException as e:
        # _Failure and lookpath.ExecError carry Docker's wording and exit code; anything else is a bug
        # or an unexpected system error, reported with where it happened.
        if hasattr(e, "exit_code"):
            _fail(sync, e.exit_code, str(e))
        _fail(sync, 1, f"{step}: {_describe(e)}")


def _prepare(spec: dict) -> None:
    """Filesystem, hostname, loopback and working directory."""
    # The daemon's umask and session are not the container's: device nodes get their exact modes,
    # programs start with Docker's 022, and PID 1 leads its own session (and owns the terminal).
    os.umask(0)
    os.setsid()
    try:
        mounts.setup_rootfs(spec, bool(spec.get("tty")))
    except mounts.MountError as e:
        raise _Failure(str(e))
    os.umask(0o022)
    if spec.get("hostname"):
        syscalls.sethostname(spec["hostname"])
    netconf.loopback_up()
    workdir = spec.get("workdir") or "/"
    try:
        os.makedirs(workdir, 0o755, exist_ok=True)
        os.chdir(workdir)
    except OSError as e:
        raise _Failure(f"Cannot use {workdir} as the working directory: {_describe(e)}")


def _finish(spec: dict) -> tuple[str, list[str], dict[str, str]]:
    """eth0, terminal, credentials and capabilities; returns what to execve."""
    privileged = bool(spec.get("privileged"))
    env = list(spec.get("env") or ())
    network = spec.get("network")
    if network and network.get("interface"):
        try:
            netconf.configure(network)
        except OSError as e:
            raise _Failure(f"configuring eth0: {_describe(e)}")
    if spec.get("tty"):
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)
    try:
        uid, gid, groups = user.resolve(
            spec.get("user") or "",
            user.read("/etc/passwd"),
            user.read("/etc/group"),
            spec.get("group_add") or (),
        )
    except user.UnknownUser as e:
        raise _Failure(str(e))
    keep = capabilities.mask_of(capabilities.container_set(spec))
    no_new_privs = bool(spec.get("no_new_privileges"))
    flt = spec.get("_filter")
    if flt is not None and not no_new_privs:
        # As runc does: loaded while the init still has CAP_SYS_ADMIN, so no_new_privs need not be
        # set and setuid programs in the container work as with Docker. The filter then also applies
        # to the few calls below (prctl, setgroups, setuid, capset, execve).
        _load(flt)
    if not privileged:
        capabilities.drop_bounding_set(keep)
    try:
        os.setgroups(groups)
        os.setgid(gid)
        os.setuid(uid)
    except OSError as e:
        raise _Failure(f"switching to user {spec.get('user')}: {_describe(e)}")
    if not privileged and uid == 0:
        capabilities.limit_process_sets(keep)
    entrypoint = spec["entrypoint"]
    path = lookpath.look_path(entrypoint, lookpath.path_of(env))
    _default_signals()
    if no_new_privs:
        syscalls.prctl(syscalls.PR_SET_NO_NEW_PRIVS, 1)
        if flt is not None:
            _load(flt)  # the last step before the exec, as runc does with no_new_privs
    # os.execve wants a mapping; on a repeated key the last one wins, as in Docker's merged env.
    environ = dict(item.split("=", 1) for item in env if "=" in item)
    return path, [entrypoint, *spec.get("args", ())], environ


def _seccomp_filter(spec: dict):  # noqa: ANN202 - a seccomp.SyscallFilter, or None
    if spec.get("privileged") or spec.get("seccomp") == "unconfined":
        return None  # as Docker: --privileged gets no filter
    profile = spec.get("seccomp_profile") if spec.get("seccomp") == "custom" else seccomp.DEFAULT_PROFILE
    if not profile:
        raise seccomp.SeccompError("no profile given")
    caps = capabilities.container_set(spec)
    return seccomp.build(seccomp.bindings(), profile, caps, bool(spec.get("no_new_privileges")))


def _load(flt) -> None:  # noqa: ANN001
    try:
        flt.load()
    except (OSError, RuntimeError, ValueError) as e:
        raise _Failure(f"loading the seccomp filter: {_describe(e)}")


def _default_signals() -> None:
    # Ignored signals and the signal mask survive execve: Python ignores SIGPIPE and SIGXFSZ, and the
    # daemon's thread that spawned us may have blocked or ignored others (SIGCHLD ignored would break
    # every wait() in the container).
    _signal.pthread_sigmask(_signal.SIG_SETMASK, ())
    for sig in range(1, _signal.NSIG):
        try:
            _signal.signal(sig, _signal.SIG_DFL)
        except (OSError, ValueError, RuntimeError):
            pass  # SIGKILL, SIGSTOP, and the real-time signals glibc keeps for itself
