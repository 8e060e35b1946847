"""A network namespace for a fresh root, with a way out to the package mirrors only.

The README's quick start starts a daemon that makes docker0 and its iptables rules: run in the host's
network namespace, it would take over the host's docker0. Inside a namespace of its own (ip netns),
everything it does to the network stays there and goes with the namespace. But the quick start also
installs Debian packages and fetches the build tools from PyPI. So the namespace gets an HTTP proxy on
its own loopback (127.0.0.1:3128): the listening socket is made inside the namespace by a thread that
entered it, and the connections out are made from the host's namespace, to the hosts allowed alone.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import select
import signal
import socket
import subprocess
import threading
from urllib.parse import urlsplit

CLONE_NEWNET = 0x40000000
PORT = 3128
MAX_CONNECTIONS = 5000
IDLE_TIMEOUT = 120.0


def _setns(fd: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


def _listen_in(netns: str) -> socket.socket:
    """A socket listening on 127.0.0.1:PORT of `netns` (setns changes only the calling thread)."""
    made: list[socket.socket | BaseException] = []

    def enter_and_listen() -> None:
        own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        target = os.open(f"/run/netns/{netns}", os.O_RDONLY)
        try:
            _setns(target)
            try:
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind(("127.0.0.1", PORT))
                s.listen(64)
                made.append(s)
            finally:
                _setns(own)
        except BaseException as exc:
            made.append(exc)
        finally:
            os.close(own)
            os.close(target)

    thread = threading.Thread(target=enter_and_listen)
    thread.start()
    thread.join()
    if isinstance(made[0], BaseException):
        raise made[0]
    return made[0]


class NetnsWithProxy:
    """`ip netns add NAME` with loopback up, and the proxy; close() stops it and deletes the namespace."""

    def __init__(self, name: str, allowed_hosts: set[str]) -> None:
        self.name = name
        self.allowed = allowed_hosts
        self.url = f"http://127.0.0.1:{PORT}"
        self.refused: list[str] = []
        self.served = 0
        self._closed = False
        subprocess.run(["ip", "netns", "add", name], check=True, capture_output=True)
        try:
            subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True, capture_output=True)
            self.listener = _listen_in(name)
        except BaseException:
            subprocess.run(["ip", "netns", "del", name], capture_output=True)
            raise
        self.thread = threading.Thread(target=self._accept_loop, daemon=True)
        self.thread.start()

    def _accept_loop(self) -> None:
        while not self._closed and self.served < MAX_CONNECTIONS:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.served += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        with contextlib.closing(client):
            client.settimeout(IDLE_TIMEOUT)
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = client.recv(65536)
                if not chunk or len(head) > 65536:
                    return
                head += chunk
            method, target = head.split(b"\r\n", 1)[0].decode("latin-1").split()[:2]
            if method == "CONNECT":
                host, _, port = target.rpartition(":")
                port_n, rest = int(port), b""
            else:
                # An absolute-form request goes to the origin as it is (HTTP/1.1 servers accept it).
                url = urlsplit(target)
                host, port_n, rest = url.hostname or "", url.port or 80, head
            if host not in self.allowed:
                self.refused.append(host)
                client.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                return
            try:
                upstream = socket.create_connection((host, port_n), timeout=30)
            except OSError:
                client.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                return
            with contextlib.closing(upstream):
                if method == "CONNECT":
                    client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                else:
                    upstream.sendall(rest)
                self._pipe(client, upstream)

    def _pipe(self, a: socket.socket, b: socket.socket) -> None:
        peers = {a: b, b: a}
        while not self._closed:
            ready, _, _ = select.select(list(peers), [], [], IDLE_TIMEOUT)
            if not ready:
                return
            for s in ready:
                data = s.recv(65536)
                if not data:
                    return
                peers[s].sendall(data)

    def close(self) -> None:
        """Stops the proxy, kills what still runs in the namespace (a container the root's clean-up
        could not see, its root being its own), and deletes the namespace."""
        self._closed = True
        with contextlib.suppress(OSError):
            self.listener.close()
        pids = subprocess.run(["ip", "netns", "pids", self.name], capture_output=True, text=True).stdout
        for pid in pids.split():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGKILL)
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True)
