"""A live `elt serve` for tests that need real sockets (stalled clients, header limits, real HTTP), and
raw-socket clients of it.

The server runs as its own process, as a user starts it, over a warehouse built by `elt run`; the test
waits for uvicorn's own "Application startup complete" and "Uvicorn running on" lines (events, not a
duration).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

from tests.api.conftest import API_KEY, BuiltApi

READY = "Application startup complete"
# The socket listens: printed after READY with one worker (uvicorn binds after the app's startup), before it
# with several (the parent binds, then starts the workers). Both lines seen: a connection gets an answer.
LISTENING = "Uvicorn running on"
ETHERNET_MSS = 1460  # bytes of TCP payload per segment on a 1500-byte MTU link
SOCKET_TIMEOUT = 120.0  # seconds a raw socket's connect, reads and writes may take at the most


@dataclass
class LiveServer:
    """A running `elt serve`: its URL, port, process and what it printed so far."""

    url: str
    port: int
    process: subprocess.Popen
    output: list[str] = field(default_factory=list)

    def log(self) -> str:
        """Everything the server printed so far."""
        return "".join(self.output)


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def live_server(
    built: BuiltApi, *args: str, env: dict[str, str] | None = None, startup_timeout: float = 300
) -> Iterator[LiveServer]:
    """`elt serve --port <free>` over `built` with the test key (extra CLI `args` and `env` added).

    Yields once uvicorn says the application started; stops the server (SIGINT, then SIGKILL) afterwards.
    Raises AssertionError, with the server's output, if it exits or never gets ready.
    """
    port = free_port()
    full_env = {**os.environ, **built.env, "ELT_API_KEY": API_KEY, "PYTHONUNBUFFERED": "1", **(env or {})}
    process = subprocess.Popen(
        [sys.executable, "-m", "elt.cli", "serve", "--port", str(port), *args],
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    server = LiveServer(f"http://127.0.0.1:{port}", port, process)
    ready = threading.Event()

    def pump() -> None:
        waiting = {READY, LISTENING}
        for line in process.stdout:
            server.output.append(line)
            waiting = {mark for mark in waiting if mark not in line}
            if not waiting:
                ready.set()
        ready.set()  # the process ended: stop waiting

    threading.Thread(target=pump, daemon=True).start()
    try:
        ready.wait(startup_timeout)
        started = process.poll() is None and READY in server.log() and LISTENING in server.log()
        assert started, f"elt serve did not start:\n{server.log()}"
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def connect(server: LiveServer, *, receive_buffer: int | None = None, timeout: float = SOCKET_TIMEOUT) -> socket.socket:
    """A raw TCP connection to `server`, its connect, reads and writes bounded by `timeout` seconds.

    With `receive_buffer` (bytes) the client's receive window is that small and its segments are an Ethernet
    link's, as over a real network: with loopback's 64 KiB segments the kernel would size the server's send
    buffer for megabytes, and take in a whole response at once. Raises OSError if the connection fails.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        if receive_buffer is not None:  # before connect: the window is agreed at the handshake
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, ETHERNET_MSS)
        sock.settimeout(timeout)
        sock.connect(("127.0.0.1", server.port))
    except OSError:
        sock.close()
        raise
    return sock


def head(path: str, *headers: str) -> bytes:
    """A GET request head for `path` with the test key and `headers` ("Name: value"), keep-alive (latin-1)."""
    lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1", f"X-API-Key: {API_KEY}", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
