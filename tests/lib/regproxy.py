"""A TCP proxy on 127.0.0.1 in front of a registry, for tests and benches: it can hide the v2
protocol (`hide_v2`: every `/v2` request is answered 404 and the connection closed, making our
`docker registry` a v1-only one as the index of Docker 0.9's time was), and it can damage answers to
layer GETs (v1 `.../layer`, v2 `.../blobs/sha256:...`): `mode="cut"` closes the connection `after`
bytes into the answer, `mode="flip"` inverts the byte there, `times` times at the most.

Requests on one connection come one at a time (the client waits for each answer), so looking at the
start of what the client sends is enough to know which request an answer belongs to.
"""

from __future__ import annotations

import re
import socket
import threading

_REQUEST = re.compile(rb"^([A-Z]+) (/\S*)")
_NOT_FOUND = (
    b"HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 10\r\n"
    b"Connection: close\r\n\r\nnot found\n"
)


def _is_v2(path: bytes) -> bool:
    return path == b"/v2" or path.startswith((b"/v2/", b"/v2?"))


def _is_layer_get(method: bytes, path: bytes) -> bool:
    return method == b"GET" and (path.endswith(b"/layer") or b"/blobs/sha256:" in path)


class RegistryProxy:
    def __init__(
        self,
        target_port: int,
        *,
        hide_v2: bool = False,
        mode: str = "",
        after: int = 0,
        times: int = 1_000_000,
    ) -> None:
        if mode not in ("", "cut", "flip"):
            raise ValueError(f"unknown fault mode {mode!r}")
        self.target_port, self.hide_v2 = target_port, hide_v2
        self.mode, self.after, self.times = mode, after, times
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.host = f"127.0.0.1:{self.port}"
        self.refused_v2 = 0  # /v2 requests answered 404
        self.faults = 0  # answers cut or flipped
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self.listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                client.close()
                continue
            state = {"armed": False, "sent": 0}
            threading.Thread(target=self._up, args=(client, server, state), daemon=True).start()
            threading.Thread(target=self._down, args=(server, client, state), daemon=True).start()

    def _up(self, client: socket.socket, server: socket.socket, state: dict) -> None:
        try:
            while data := client.recv(65536):
                request = _REQUEST.match(data)
                method, path = request.groups() if request else (b"", b"")
                if self.hide_v2 and _is_v2(path):
                    with self.lock:
                        self.refused_v2 += 1
                    client.sendall(_NOT_FOUND)
                    break
                if self.mode and _is_layer_get(method, path):
                    with self.lock:
                        state["armed"], state["sent"] = self.faults < self.times, 0
                server.sendall(data)
        except OSError:
            pass
        finally:
            for s in (server, client):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            server.close()

    def _down(self, server: socket.socket, client: socket.socket, state: dict) -> None:
        try:
            while data := server.recv(65536):
                if state["armed"] and state["sent"] + len(data) > self.after:
                    cut = self.after - state["sent"]
                    with self.lock:
                        self.faults += 1
                    state["armed"] = False
                    if self.mode == "cut":
                        client.sendall(data[:cut])
                        break
                    data = data[:cut] + bytes([data[cut] ^ 0xFF]) + data[cut + 1 :]
                state["sent"] += len(data)
                client.sendall(data)
        except OSError:
            pass
        finally:
            try:
                client.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            client.close()
