"""The keeper: one process per daemon (not per container) that outlives a `kill -9` of the daemon and
keeps its containers whole meanwhile (live restore). Run as `<program> keeper <fd> <root>`.

It is a child subreaper and it forks every container's init, so each container's PID 1 is
re-parented to it when the init's first process exits; it reaps them all and keeps their exit codes.
It also holds a duplicate of the daemon's end of every container's stdio (the stdout and stderr
read ends, the pty master, the stdin write end): while the daemon is down the container's output
waits in its pipe (it blocks when the pipe is full, nothing is lost), and the restarted daemon gets
the descriptors back and drains them into the log.

The daemon creates the listening socket (`<root>/keeper.sock`, SOCK_SEQPACKET, mode 0600) and passes
it in, so it can connect at once. One message is one packet: a JSON object, with descriptors attached
(SCM_RIGHTS). Requests (daemon -> keeper), each answered in order:
  {"op": "spawn", "argv": [...], "stdin": bool}  fds: [stdin], stdout, stderr, sync socket
                                      -> {"op": "spawned", "pid": <the init's first process>}
  {"op": "hold", "id", "pid", "names": [...]}   fds: one per name ("stdout", "stderr", "master",
                                      "stdin") -> {"op": "ok"}; PID 1 `pid` is the container `id`
  {"op": "drop", "id", "name"}        close one held descriptor (the client closed stdin) -> ok
  {"op": "release", "id"}             forget a container whose exit the daemon recorded -> ok
  {"op": "list"}                      -> {"op": "list", "containers": [{"id", "pid", "code"}]}
  {"op": "fds", "id"}                 -> {"op": "fds", "names": [...]} with those descriptors
and, unrequested: {"op": "exit", "id", "code"} when a held container's PID 1 exits.

It serves one daemon connection at a time and exits when the daemon is gone and it holds nothing
(or at once when the daemon is gone, with `--ephemeral` for a driver without a daemon root).
Being the parent of every process it has, it may reap with waitpid(-1).
"""

from __future__ import annotations

import array
import json
import os
import select
import signal
import socket
import sys

from lxc_docker.sysutil import syscalls

MAX_FDS = 8
_RESTORED = (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGINT, signal.SIGHUP)
_BUFSIZE = 1 << 16


def exit_code(status: int) -> int:
    if os.WIFEXITED(status):
        return os.WEXITSTATUS(status)
    return 128 + os.WTERMSIG(status)  # killed or dumped: the shell's convention, as Docker reports it


def send(sock: socket.socket, message: dict, fds: list[int] | tuple[int, ...] = ()) -> None:
    data = json.dumps(message).encode()
    if fds:
        sock.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))])
    else:
        sock.sendall(data)


def receive(sock: socket.socket) -> tuple[dict | None, list[int]]:
    """One message and its descriptors (close-on-exec); (None, []) at EOF."""
    data, ancillary, _, _ = sock.recvmsg(_BUFSIZE, socket.CMSG_SPACE(MAX_FDS * 4), socket.MSG_CMSG_CLOEXEC)
    fds: list[int] = []
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.extend(array.array("i", payload[: len(payload) - len(payload) % 4]))
    if not data:
        for fd in fds:
            os.close(fd)
        return None, []
    return json.loads(data), fds


class _Held:
    __slots__ = ("pid", "fds", "code")

    def __init__(self, pid: int, fds: dict[str, int]) -> None:
        self.pid, self.fds, self.code = pid, fds, None

    def close(self, name: str | None = None) -> None:
        for key in [name] if name else list(self.fds):
            fd = self.fds.pop(key, None)
            if fd is not None:
                os.close(fd)


class Keeper:
    def __init__(self, listener: socket.socket, ephemeral: bool = False) -> None:
        self.listener = listener
        self.ephemeral = ephemeral
        self.daemon: socket.socket | None = None
        self.held: dict[str, _Held] = {}
        # Exit codes of children reaped before the daemon said which container they are (a PID 1
        # that died at once); bounded, the oldest go first.
        self.unclaimed: dict[int, int] = {}
        self.null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
        self.wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.set_wakeup_fd(wake_w)
        self.served = False

    def run(self) -> None:
        while True:
            self.reap()
            if self.daemon is None and self.served and (self.ephemeral or not self.held):
                return
            watched = [self.wake_r, self.daemon if self.daemon is not None else self.listener]
            ready, _, _ = select.select(watched, [], [])
            if self.wake_r in ready:
                try:
                    while os.read(self.wake_r, 512):
                        pass
                except BlockingIOError:
                    pass
            if self.daemon is None and self.listener in ready:
                self.daemon, _ = self.listener.accept()
                self.served = True
            elif self.daemon is not None and self.daemon in ready:
                self.serve_one()

    def reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            code = exit_code(status)
            for id, entry in self.held.items():
                if entry.pid == pid and entry.code is None:
                    entry.code = code
                    self.tell({"op": "exit", "id": id, "code": code})
                    break
            else:
                # An init's first process (nobody needs its status) or a PID 1 not yet held.
                self.unclaimed[pid] = code
                while len(self.unclaimed) > 4096:
                    del self.unclaimed[next(iter(self.unclaimed))]

    def tell(self, message: dict, fds: list[int] | tuple[int, ...] = ()) -> None:
        if self.daemon is None:
            return
        try:
            send(self.daemon, message, fds)
        except OSError:
            self.hang_up()

    def hang_up(self) -> None:
        if self.daemon is not None:
            self.daemon.close()
            self.daemon = None

    def serve_one(self) -> None:
        try:
            message, fds = receive(self.daemon)  # type: ignore[arg-type]
        except (OSError, ValueError):
            message, fds = None, []
        if message is None:
            self.hang_up()
            return
        try:
            self.handle(message, fds)
        except (OSError, KeyError, ValueError, TypeError) as e:
            self.tell({"op": "error", "message": f"{type(e).__name__}: {e}"})
        finally:
            for fd in fds:
                try:
                    os.close(fd)
                except OSError:
                    pass

    def handle(self, message: dict, fds: list[int]) -> None:
        op = message.get("op")
        if op == "spawn":
            self.tell({"op": "spawned", "pid": self.spawn(message["argv"], bool(message["stdin"]), fds)})
        elif op == "hold":
            id, pid = str(message["id"]), int(message["pid"])
            old = self.held.pop(id, None)
            if old is not None:
                old.close()
            entry = _Held(pid, dict(zip(message["names"], fds, strict=True)))
            fds.clear()  # the entry owns them now
            self.held[id] = entry
            self.tell({"op": "ok"})
            if pid in self.unclaimed:
                entry.code = self.unclaimed.pop(pid)
                self.tell({"op": "exit", "id": id, "code": entry.code})
        elif op == "drop":
            entry = self.held.get(str(message["id"]))
            if entry is not None:
                entry.close(str(message["name"]))
            self.tell({"op": "ok"})
        elif op == "release":
            entry = self.held.pop(str(message["id"]), None)
            if entry is not None:
                entry.close()
            self.tell({"op": "ok"})
        elif op == "list":
            listing = [{"id": id, "pid": e.pid, "code": e.code} for id, e in self.held.items()]
            self.tell({"op": "list", "containers": listing})
        elif op == "fds":
            entry = self.held[str(message["id"])]
            names = list(entry.fds)
            self.tell({"op": "fds", "names": names}, [entry.fds[n] for n in names])
        else:
            raise ValueError(f"unknown request {op!r}")

    def spawn(self, argv: list[str], has_stdin: bool, fds: list[int]) -> int:
        stdin = fds.pop(0) if has_stdin else self.null
        stdout, stderr, sync = fds
        # The sync socket becomes the init's fd 3 (its argument says so); moved out of the way first,
        # so no dup2 below lands on a descriptor still to be copied.
        high = os.dup(sync)
        os.set_inheritable(high, False)
        try:
            high = _above(high, 10)
            actions = [
                (os.POSIX_SPAWN_DUP2, stdin, 0),
                (os.POSIX_SPAWN_DUP2, stdout, 1),
                (os.POSIX_SPAWN_DUP2, stderr, 2),
                (os.POSIX_SPAWN_DUP2, high, 3),
            ]
            # setsid: a ^C meant for a foreground daemon is not the container's. The signals this
            # process ignores go back to their defaults, as subprocess's restore_signals does.
            return os.posix_spawn(
                argv[0], argv, os.environ, file_actions=actions, setsid=True, setsigdef=_RESTORED
            )
        finally:
            os.close(high)
            if has_stdin:
                os.close(stdin)


def _above(fd: int, minimum: int) -> int:
    import fcntl

    if fd >= minimum:
        return fd
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, minimum)
    os.close(fd)
    return moved


def main(args: list[str]) -> int:
    """Entry point of `<program> keeper <fd> <daemon root>|--ephemeral`; the root only names the keeper
    in `ps`."""
    if len(args) != 2 or not args[0].isdigit():
        os.write(2, b"keeper: for the execution driver's use only\n")
        return 2
    listener = socket.socket(fileno=int(args[0]))
    listener.set_inheritable(False)
    os.chdir("/")  # pins no mount
    if os.getsid(0) != os.getpid():
        os.setsid()
    # Orphans of our children become our children: that is how each container's PID 1 gets to us.
    syscalls.prctl(syscalls.PR_SET_CHILD_SUBREAPER, 1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    Keeper(listener, ephemeral=args[1] == "--ephemeral").run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
