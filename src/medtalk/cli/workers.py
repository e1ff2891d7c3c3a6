"""`medtalk serve --workers N`: N serving processes on one port, fanning out through Redis.

The parent binds N listening sockets to the port with SO_REUSEPORT and attaches a classic BPF
program to the group that picks the socket from the client's IP address
(SO_ATTACH_REUSEPORT_CBPF). Every connection from one client address so reaches the same
worker: Engine.IO's long-polling requests and their WebSocket upgrade stay with the process
that holds their session, as nginx's `ip_hash` would keep them (docs/operations.md). Clients
behind one NAT address share a worker; that is the price of stickiness without a proxy.

Each worker is a `medtalk serve` child that is handed its socket (`--listen-fd`) and its own
node name (presence, fan-out). A worker that dies is started again on the same socket, so the
connections waiting in its queue are served by its successor.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence

logger = logging.getLogger(__name__)

SO_ATTACH_REUSEPORT_CBPF = 51  # linux/asm-generic/socket.h (not in Python's socket module)
SKF_NET_OFF = -0x100000  # classic BPF: offsets from the network (IP) header
# Where the source address's (last) 32 bits sit in the IP header.
SOURCE_OFFSET = {socket.AF_INET: 12, socket.AF_INET6: 20}
RESTARTS_PER_MINUTE = 5  # a worker dying faster than this is a bug, not bad luck


class _SockFilter(ctypes.Structure):
    _fields_ = [
        ("code", ctypes.c_uint16),
        ("jt", ctypes.c_uint8),
        ("jf", ctypes.c_uint8),
        ("k", ctypes.c_uint32),
    ]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter))]


def listening_sockets(host: str, port: int, count: int) -> list[socket.socket]:
    """`count` sockets on one port; a client address always maps to the same one."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sockets = []
    for _ in range(count):
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        sock.listen(2048)
        sock.set_inheritable(True)
        sockets.append(sock)
    _steer_by_client_address(sockets[0], family, count)
    return sockets


def _steer_by_client_address(sock: socket.socket, family: socket.AddressFamily, count: int) -> None:
    """ld [source address]; mod #count; ret a  (the socket at that index in the group)."""
    k = (SKF_NET_OFF + SOURCE_OFFSET[family]) & 0xFFFFFFFF
    program = (_SockFilter * 3)(
        _SockFilter(0x20, 0, 0, k),  # BPF_LD | BPF_W | BPF_ABS
        _SockFilter(0x94, 0, 0, count),  # BPF_ALU | BPF_MOD | BPF_K
        _SockFilter(0x16, 0, 0, 0),  # BPF_RET | BPF_A
    )
    fprog = _SockFprog(len(program), program)
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, bytes(fprog))


class Supervisor:
    """Runs one child per socket; restarts a child that dies; stops them all on a signal."""

    def __init__(self, sockets: list[socket.socket], command: Sequence[str], node: str) -> None:
        self._sockets = sockets
        self._command = list(command)
        self._node = node
        self._children: dict[int, subprocess.Popen[bytes]] = {}
        self._deaths: list[float] = []
        self._stopping = False

    def run(self) -> int:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._stop)
        for index in range(len(self._sockets)):
            self._start(index)
        while not self._stopping:
            time.sleep(0.5)
            for index, child in list(self._children.items()):
                if child.poll() is None or self._stopping:
                    continue
                logger.warning(
                    "worker %d exited with %s; starting it again", index, child.returncode
                )
                self._deaths = [t for t in self._deaths if t > time.monotonic() - 60] + [
                    time.monotonic()
                ]
                if len(self._deaths) > RESTARTS_PER_MINUTE:
                    logger.error("workers keep dying; stopping")
                    self._stop_children()
                    return 1
                self._start(index)
        self._stop_children()
        return 0

    def _start(self, index: int) -> None:
        fd = self._sockets[index].fileno()
        env = {**os.environ, "MEDTALK_NODE_ID": f"{self._node}-w{index}"}
        # The parent migrated already; N workers racing to migrate would only contend.
        env["MEDTALK_AUTO_MIGRATE"] = "false"
        self._children[index] = subprocess.Popen(
            [*self._command, "--listen-fd", str(fd)], env=env, pass_fds=(fd,)
        )

    def _stop(self, _signum: int, _frame: object) -> None:
        self._stopping = True

    def _stop_children(self) -> None:
        for child in self._children.values():
            if child.poll() is None:
                child.terminate()
        for child in self._children.values():
            try:
                child.wait(30)
            except subprocess.TimeoutExpired:
                child.kill()


def worker_command(host: str, port: int, demo: bool) -> list[str]:
    command = [sys.executable, "-m", "medtalk.cli", "serve", "--host", host, "--port", str(port)]
    return [*command, "--demo-accounts"] if demo else command
