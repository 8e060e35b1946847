"""Userland proxy throughput and container network start latency (needs root).

Usage: python3 bench/bench_proxy.py [--size MB] [--runs N] [--starts N]

Throughput: a fake container (`unshare --net`, on a throwaway bridge) runs a sink/source server on
port 80, published on a dynamic host port. SIZE MB (default 1024) go host → container ("up") and
container → host ("down") through 127.0.0.1:hostPort, i.e. through the userland proxy; the same
server run on the host and reached directly on 127.0.0.1 is the loopback baseline, and the
container's own address (bridge + veth, no proxy) is shown for reference. Median of N runs (3).

Start latency: allocate + configure (address, veth pair, eth0, routes) and release, with no
published port and with one, median of STARTS (100) rounds against the same fake container.
Everything it creates (bridge, chain, rules, namespaces) is removed at the end.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import secrets
import shlex
import socket
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "app"))

from lxc_docker.network import NetworkManager  # noqa: E402
from lxc_docker.network import bridge as br  # noqa: E402

CHUNK = 1 << 20

# "U": read until EOF, answer with the byte count. "D" + 8-byte size: send that many bytes, close.
SERVER = r"""
import socket, struct, sys, threading
CHUNK = 1 << 20
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(16)
print(s.getsockname()[1], flush=True)
def serve(c):
    mode = c.recv(1)
    if mode == b"U":
        buf = bytearray(CHUNK); total = 0
        while True:
            n = c.recv_into(buf)
            if not n: break
            total += n
        c.sendall(str(total).encode())
    elif mode == b"D":
        size = struct.unpack("!Q", c.recv(8, socket.MSG_WAITALL))[0]
        data = memoryview(bytes(CHUNK))
        while size > 0:
            c.sendall(data[: min(size, CHUNK)]); size -= min(size, CHUNK)
    c.close()
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
"""


def upload(host: str, port: int, size: int) -> float:
    data = memoryview(bytes(CHUNK))
    start = time.perf_counter()
    with socket.create_connection((host, port)) as c:
        c.sendall(b"U")
        left = size
        while left > 0:
            c.sendall(data[: min(left, CHUNK)])
            left -= min(left, CHUNK)
        c.shutdown(socket.SHUT_WR)
        got = int(c.recv(64))
    elapsed = time.perf_counter() - start
    assert got == size, (got, size)
    return size / elapsed / 1e6


def download(host: str, port: int, size: int) -> float:
    buf = bytearray(CHUNK)
    start = time.perf_counter()
    with socket.create_connection((host, port)) as c:
        c.sendall(b"D" + size.to_bytes(8, "big"))
        total = 0
        while n := c.recv_into(buf):
            total += n
    elapsed = time.perf_counter() - start
    assert total == size, (total, size)
    return size / elapsed / 1e6


def start_server(prefix: list[str], bind_ip: str, port: int) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen(
        [*prefix, sys.executable, "-c", SERVER, bind_ip, str(port)], stdout=subprocess.PIPE, text=True
    )
    return proc, int(proc.stdout.readline())


def measure(label: str, host: str, port: int, size: int, runs: int) -> None:
    up = statistics.median(upload(host, port, size) for _ in range(runs))
    down = statistics.median(download(host, port, size) for _ in range(runs))
    print(f"  {label:<44} up {up:8.0f} MB/s   down {down:8.0f} MB/s")


def latency(mgr: NetworkManager, pid: int, rounds: int, bindings: dict) -> tuple[float, float]:
    starts, releases = [], []
    for i in range(rounds):
        t0 = time.perf_counter()
        s = mgr.allocate(f"bench{i}", exposed={}, port_bindings=bindings, publish_all=False)
        mgr.configure(s, pid)
        t1 = time.perf_counter()
        mgr.release(f"bench{i}", s)
        t2 = time.perf_counter()
        starts.append((t1 - t0) * 1000)
        releases.append((t2 - t1) * 1000)
    return statistics.median(starts), statistics.median(releases)


def free_subnet() -> str:
    used = br.host_networks()
    for third in range(0, 256):
        cidr = f"10.254.{third}.1/24"
        if not any(ipaddress.IPv4Interface(cidr).network.overlaps(u) for u in used):
            return cidr
    raise SystemExit("no free 10.254.x.0/24 subnet for the bench bridge")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=1024, help="MB per transfer (default 1024)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--starts", type=int, default=100)
    args = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("bench_proxy.py needs root (bridge, veth, namespaces, iptables)")
    size = args.size * 1_000_000
    tag = secrets.token_hex(3)
    bridge = f"ldb{tag}"
    mgr = NetworkManager(bridge_ip=free_subnet(), default_bridge=bridge, chain=f"LDB{tag.upper()}")
    procs: list[subprocess.Popen] = []
    try:
        mgr.setup()
        ns = subprocess.Popen(["unshare", "--net", "sleep", "3600"])
        procs.append(ns)
        while os.readlink(f"/proc/{ns.pid}/ns/net") == os.readlink("/proc/self/ns/net"):
            time.sleep(0.005)
        print("command:", shlex.join([sys.executable, *sys.argv]))
        print(f"python {sys.version.split()[0]}, kernel {os.uname().release}, {os.cpu_count()} CPUs")

        no_port = latency(mgr, ns.pid, args.starts, {})
        one_port = latency(mgr, ns.pid, args.starts, {"80/tcp": [{}]})
        print(f"network start latency, median of {args.starts} (allocate+configure / release):")
        print(f"  no published port                            {no_port[0]:6.1f} ms / {no_port[1]:6.1f} ms")
        print(f"  one published port (DNAT + proxy)            {one_port[0]:6.1f} ms / {one_port[1]:6.1f} ms")

        s = mgr.allocate("bench", exposed={}, port_bindings={"80/tcp": [{}]}, publish_all=False)
        mgr.configure(s, ns.pid)
        server, _ = start_server(["nsenter", "-t", str(ns.pid), "-n"], "0.0.0.0", 80)
        procs.append(server)
        host_port = int(s["Ports"]["80/tcp"][0]["HostPort"])
        local, local_port = start_server([], "127.0.0.1", 0)
        procs.append(local)
        print(f"throughput, {args.size} MB per transfer, median of {args.runs}:")
        measure("direct loopback (host 127.0.0.1, no proxy)", "127.0.0.1", local_port, size, args.runs)
        measure(f"userland proxy (127.0.0.1:{host_port})", "127.0.0.1", host_port, size, args.runs)
        measure(f"container address {s['IPAddress']} (bridge, veth)", s["IPAddress"], 80, size, args.runs)
        mgr.release("bench", s)
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
        mgr.shutdown()
        if br.link_exists(bridge):
            br.delete_link(bridge)


if __name__ == "__main__":
    main()
