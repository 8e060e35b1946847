"""A TCP proxy on 127.0.0.1 in front of our `docker registry --index` that answers 404 to every `/v2`
request and relays the rest: a registry that speaks only Docker 0.9's v1 protocol, as the index of
that time did (ours serves v2 too, and a client tries v2 first)."""

from __future__ import annotations

import re
import socket
import threading

_V2 = re.compile(rb"^[A-Z]+ /v2[/ ?]")
_NOT_FOUND = (
    b"HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 10\r\n"
    b"Connection: close\r\n\r\nnot found\n"
)


class V1OnlyProxy:
    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.host = f"127.0.0.1:{self.port}"
        self.refused_v2 = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self.listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.target_port))
            threading.Thread(target=self._up, args=(client, server), daemon=True).start()
            threading.Thread(target=self._down, args=(server, client), daemon=True).start()

    def _up(self, client: socket.socket, server: socket.socket) -> None:
        try:
            while data := client.recv(65536):
                # Requests on one connection come one at a time: a chunk starting a /v2 request is
                # answered here and the connection closed.
                if _V2.match(data):
                    self.refused_v2 += 1
                    client.sendall(_NOT_FOUND)
                    break
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

    def _down(self, server: socket.socket, client: socket.socket) -> None:
        try:
            while data := server.recv(65536):
                client.sendall(data)
        except OSError:
            pass
        finally:
            try:
                client.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            client.close()
