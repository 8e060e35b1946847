"""`docker exec` inside the container: this program re-run as `init exec <fd> <pidfd>` by the native
driver (`execproc.py`). It enters the namespaces of the container's PID 1 (the pidfd the daemon
holds, so a recycled pid is never joined), forks once so that the child is in the container's pid
namespace, and the child takes the container's credentials, capabilities and seccomp filter exactly
as the container's PID 1 did (`init._finish`) and execs the program.

Like the init it imports only builtin modules, ctypes and its sibling modules, all before it enters
the container's mount namespace (the interpreter's files are out of reach after that).

Conversation on the SOCK_SEQPACKET socket <fd> (one record per message):
  daemon -> exec   marshal.dumps({"container": Command.to_dict(), "process": ExecProcess fields})
  exec   -> daemon b"pid <host pid of the child>"  then the first process exits: the child is
                                                  re-parented to the daemon, a child subreaper
  daemon -> child  b"go"                          once it has put the child in the container's cgroups
  child  -> daemon b"pty" + SCM_RIGHTS(master)    with a tty: the terminal's master, from the
                                                  container's own /dev/pts
  child  -> daemon b"err <exit code> <message>"   if the program can't be started; on success the
                                                  socket closes at the exec (close-on-exec): EOF
"""

from __future__ import annotations

import _signal
import _socket
import errno
import fcntl
import marshal
import os
import sys

from lxc_docker.execution.native import init
from lxc_docker.sysutil import syscalls

# Joined one by one when the kernel (before 5.8) cannot setns() through a pidfd; mnt last, since
# it changes what /proc is.
_NAMESPACE_FILES = ("ipc", "uts", "net", "pid", "mnt")
_PR_SET_DUMPABLE = 4
# <asm-generic/ioctls.h>; termios does not export them.
_TIOCSPTLCK = 0x40045431
_TIOCGPTPEER = 0x5441
_MAX_SPEC = 1 << 20


def main(args: list[str]) -> int:
    """Entry point of `<program> init exec <fd> <pidfd>`; returns only on a usage error."""
    if len(args) != 2 or not all(a.isdigit() for a in args):
        os.write(2, b"init exec: for the execution driver's use only\n")
        return 2
    sync, pidfd = int(args[0]), int(args[1])
    try:
        doc = marshal.loads(os.read(sync, _MAX_SPEC))
        container, process = doc["container"], doc["process"]
    except (OSError, EOFError, ValueError, TypeError, KeyError):  # the daemon gave up on us
        os._exit(1)
    # Until the exec, a process of the container could otherwise open our /proc/<pid>/exe, the
    # host's interpreter, for writing (the runc breakout CVE-2019-5736): not dumpable, it can't.
    syscalls.prctl(_PR_SET_DUMPABLE, 0)
    try:
        # The container's filter, built from the container's own capabilities (a privileged exec
        # gets every capability, not a looser filter: as Docker, whose exec keeps the container's
        # seccomp profile). Built here, while libseccomp's bindings can still be loaded.
        flt = init._seccomp_filter(container)
    except (init.seccomp.SeccompError, OSError, RuntimeError, ValueError) as e:
        init._fail(sync, 1, f"seccomp: {init._describe(e)}")
    args_ = list(process.get("args") or ())
    spec = dict(
        container,
        network=None,  # the container's network is set up already
        tty=bool(process.get("tty")),
        user=process.get("user") or "",
        env=list(process.get("env") or ()),
        entrypoint=args_[0] if args_ else "",
        args=args_[1:],
        privileged=bool(container.get("privileged") or process.get("privileged")),
        _filter=flt,
    )
    try:
        _join(pidfd)
        pid = os.fork()  # the child is in the container's pid namespace
    except OSError as e:
        init._fail(sync, 1, f"joining the container's namespaces: {init._describe(e)}")
    if pid:
        try:
            os.write(sync, b"pid %d" % pid)
        finally:
            os._exit(0)
    os.close(pidfd)
    _child(sync, spec, process.get("workdir") or "/")
    return 1  # not reached: _child execs or exits


def _join(pidfd: int) -> None:
    try:
        syscalls.setns(pidfd, init._NAMESPACES)  # the ones a container has
        return
    except OSError as e:
        if e.errno != errno.EINVAL:
            raise
    pid = _pid_of(pidfd)
    fds = [os.open(f"/proc/{pid}/ns/{name}", os.O_RDONLY | os.O_CLOEXEC) for name in _NAMESPACE_FILES]
    try:
        # Opened by pid: if PID 1 died meanwhile the pid may be another process's; the pidfd knows.
        _signal.pidfd_send_signal(pidfd, 0)
        for fd in fds:
            syscalls.setns(fd, 0)
    finally:
        for fd in fds:
            os.close(fd)


def _pid_of(pidfd: int) -> int:
    with open(f"/proc/self/fdinfo/{pidfd}") as f:
        for line in f:
            if line.startswith("Pid:"):
                pid = int(line.split()[1])
                if pid > 0:
                    return pid
    raise OSError(errno.ESRCH, "the container's PID 1 has exited")


def _child(sync: int, spec: dict, workdir: str) -> None:
    """In the container's pid namespace: wait for the daemon's go, take the container's identity,
    exec."""
    step = "setting up the process"
    try:
        if os.read(sync, 16) != b"go":
            os._exit(1)
        os.umask(0o022)  # the daemon's umask is not the container's
        os.setsid()  # our own session, which a terminal needs to become the controlling one
        if spec.get("tty"):
            step = "allocating a terminal"
            _terminal(sync)
            step = "setting up the process"
        try:
            os.chdir(workdir)
        except OSError as e:
            raise init._Failure(f"Cannot use {workdir} as the working directory: {init._describe(e)}")
        path, argv, env = init._finish(spec)
        os.set_inheritable(sync, False)
        try:
            os.execve(path, argv, env)
        except OSError as e:
            raise init.lookpath.exec_failure(argv[0], e)
    except BaseException as e:
        if hasattr(e, "exit_code"):
            init._fail(sync, e.exit_code, str(e))
        init._fail(sync, 1, f"{step}: {init._describe(e)}")


def _terminal(sync: int) -> None:
    """A new terminal from the container's /dev/ptmx (so the program sees /dev/pts/N of its own
    devpts, as with Docker): the master goes to the daemon, the slave becomes our stdio."""
    master = os.open("/dev/ptmx", os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    try:
        fcntl.ioctl(master, _TIOCSPTLCK, b"\0\0\0\0")
        # The peer through the master itself, not a path in /dev/pts the container could swap.
        slave = fcntl.ioctl(master, _TIOCGPTPEER, os.O_RDWR | os.O_NOCTTY)
        sock = _socket.socket(fileno=sync)
        try:
            rights = [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, master.to_bytes(4, sys.byteorder))]
            sock.sendmsg([b"pty"], rights)
        finally:
            sock.detach()
        # Wait until the daemon holds the master and has sized it (a resize sent before the start):
        # a program that reads its window size at once must not see 0x0.
        if os.read(sync, 16) != b"ok":
            os._exit(1)
    finally:
        os.close(master)
    for fd in (0, 1, 2):
        os.dup2(slave, fd)
    if slave > 2:
        os.close(slave)
