"""A TCP proxy in front of our `docker registry` that makes it a v1-only registry (every `/v2` request
is answered 404 and the connection closed), and that can damage answers to v1 layer GETs: `cut`
closes the connection `after` bytes into the answer (`times` times), `flip` inverts the byte there.

Requests on one connection come one at a time (the client waits for each answer), so looking at the
start of what the client sends is enough to know which request an answer belongs to; the same rule
as test_registry_v2.py's FaultProxy, with the v1 layer path.
"""

from __future__ import annotations

import socket
import threading

_NOT_FOUND = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


class V1Proxy:
    def __init__(self, target_port: int, mode: str = "", after: int = 0, times: int = 1_000_000) -> None:
        self.target_port, self.mode, self.after, self.times = target_port, mode, after, times
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.host = f"127.0.0.1:{self.port}"
        self.faults = 0
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
                method, _, rest = data.partition(b" ")
                path = rest.split(b" ", 1)[0]
                if method.isalpha() and method.isupper() and path.startswith(b"/v2"):
                    client.sendall(_NOT_FOUND)
                    client.shutdown(socket.SHUT_RDWR)
                    return
                if self.mode and data.startswith(b"GET ") and path.endswith(b"/layer"):
                    with self.lock:
                        state["armed"], state["sent"] = self.faults < self.times, 0
                server.sendall(data)
        except OSError:
            pass
        finally:
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
