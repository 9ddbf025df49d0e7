"""What `elt serve` accepts at the HTTP level, over real sockets against a live server: a request head
over the size limit is refused and never buffered, a request must arrive within its deadline (slowloris
sockets are closed), idle connections are closed, a NUL in a path or query value is a 422 before anything
reaches a warehouse, and no redirect names the Host the client sent.

The protocol limits are the server's, not the warehouse's: they are tested on DuckDB (cheaper); the NUL
refusal on both targets. One server per target serves the module, with short deadlines (a request within
2 s, an idle connection 1 s) so that waiting for them costs seconds; the keep-alive test and the several-workers
test start their own. Every wait is on an event (the server closing a socket, an answer arriving) bounded by
a generous overall timeout, never on a duration.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import KEY, BuiltApi
from tests.api.live import SOCKET_TIMEOUT, LiveServer, connect, head, live_server
from tests.conftest import PerTarget

REQUEST_TIMEOUT = "2"  # seconds a client has for a whole request on the module's servers
KEEP_ALIVE_TIMEOUT = "1"  # seconds an idle connection is kept on the module's servers
LIMITS = ("--request-timeout", REQUEST_TIMEOUT, "--keep-alive-timeout", KEEP_ALIVE_TIMEOUT)
GENEROUS = SOCKET_TIMEOUT  # seconds: the longest any single wait may take, however slow the machine
MB = 1024 * 1024


@pytest.fixture(scope="module")
def servers(built_apis: PerTarget[BuiltApi]) -> Iterator[PerTarget[LiveServer]]:
    """One `elt serve` per target for the module (started on first use), with the short deadlines above."""

    def start(target: str) -> Iterator[LiveServer]:
        with live_server(built_apis.get(target), *LIMITS) as server:
            yield server

    with PerTarget(start) as started:
        yield started


@pytest.fixture
def duckdb_server(servers: PerTarget[LiveServer]) -> LiveServer:
    """The module's server over the DuckDB warehouse."""
    return servers.get("duckdb")


def read_until_closed(sock: socket.socket, timeout: float = GENEROUS) -> tuple[bytes, bool]:
    """Everything the server sends until it closes the connection: (bytes, True), a reset counting as
    closed; (bytes so far, False) if it is still open after `timeout` seconds."""
    received = b""
    deadline = time.monotonic() + timeout
    try:
        while (left := deadline - time.monotonic()) > 0:
            sock.settimeout(left)
            data = sock.recv(65536)
            if not data:
                return received, True
            received += data
    except (ConnectionResetError, BrokenPipeError):
        return received, True
    except TimeoutError:
        pass
    return received, False


def send_in_background(sock: socket.socket, data: bytes) -> threading.Thread:
    """sendall(data) on a thread of its own (the server may stop reading, or reset, at any point)."""

    def send() -> None:
        with contextlib.suppress(OSError):
            sock.sendall(data)

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    return thread


def status_of(response: bytes) -> int | None:
    """The status code of the first response in `response`, None if there is none."""
    if not response.startswith(b"HTTP/1.1 "):
        return None
    return int(response.split(b" ", 2)[1])


def rss_kib(pid: int) -> int:
    """VmRSS of process `pid` in KiB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS in /proc/{pid}/status")


def test_a_request_head_over_the_limit_is_refused_and_one_within_it_answered(duckdb_server: LiveServer) -> None:
    with connect(duckdb_server) as sock:  # 8 MB of one header: 400 and closed, or reset; never an answer
        sender = send_in_background(sock, head("/health", "X-Big: " + "a" * (8 * MB)))
        response, closed = read_until_closed(sock)
        sender.join(GENEROUS)
    assert closed
    assert status_of(response) in (None, 400), response[:200]

    with connect(duckdb_server) as sock:  # 16 KiB of headers is within the default limit (32 KiB)
        sock.sendall(head("/health", "X-Big: " + "a" * (16 * 1024), "Connection: close"))
        response, closed = read_until_closed(sock)
    assert closed and status_of(response) == 200, response[:200]


@pytest.mark.parametrize(
    "headers",
    [
        ("X-Big: " + "a" * (120 * 1024),),  # one header of 120 KiB, the whole head in one write
        tuple(f"X-Many-{i}: {'b' * 3}" for i in range(5000)),  # 5,000 small headers, 90 KiB in all
        ("X-Just-Over: " + "c" * (32 * 1024 - 80),),  # a few bytes over the 32 KiB limit
    ],
    ids=["one-header-120KiB", "5000-headers", "just-over"],
)
def test_a_whole_head_over_the_limit_in_one_write_is_refused(duckdb_server: LiveServer, headers: tuple) -> None:
    # h11 bounds only a head still incomplete; one that arrives whole in a single read was answered 200.
    request = head("/health", *headers)
    assert len(request) > 32 * 1024
    with connect(duckdb_server) as sock:
        sock.sendall(request)
        response, closed = read_until_closed(sock)
    assert closed and status_of(response) in (None, 400), response[:200]


def test_a_request_body_over_the_limit_is_refused_unread_without_the_key(duckdb_server: LiveServer) -> None:
    # POST /runs declaring 30 MB, without the key: 413 at once, before the body is sent (it never is).
    declared = "\r\n".join(
        ["POST /runs HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json", f"Content-Length: {30 * MB}"]
    )
    with connect(duckdb_server) as sock:
        sock.sendall(declared.encode() + b"\r\n\r\n" + b"[" * 1024)
        response, closed = read_until_closed(sock)
    assert closed and status_of(response) == 413, response[:300]
    assert b"at most 65536 bytes" in response

    # The same without a length (chunked): read up to the limit, then refused.
    with httpx.Client(timeout=GENEROUS) as http:
        chunks = iter([b"[" * 60_000, b"[" * 60_000])
        refused = http.post(f"{duckdb_server.url}/runs", content=chunks, headers={"Content-Type": "application/json"})
        assert refused.status_code == 413, refused.text
        small = http.post(f"{duckdb_server.url}/runs", json={"select": ["nothing"]})  # a small body: to the key check
        assert small.status_code == 401, small.text


def test_unfinished_huge_request_heads_do_not_grow_the_server_memory(duckdb_server: LiveServer) -> None:
    pid = duckdb_server.process.pid
    httpx.get(f"{duckdb_server.url}/health")  # warm: the first request's imports are not the heads' cost
    before = rss_kib(pid)
    sockets = [connect(duckdb_server) for _ in range(10)]
    try:
        # Ten heads of 20 MB each, never finished (no blank line): sendall returns once the server read all
        # but what the kernel buffers hold, or fails when the server closes the connection.
        senders = [send_in_background(sock, head("/health")[:-2] + b"X-Big: " + b"a" * (20 * MB)) for sock in sockets]
        for sender in senders:
            sender.join(GENEROUS)
        assert not any(sender.is_alive() for sender in senders), "sending the heads did not end"
        grown_mib = (rss_kib(pid) - before) / 1024
    finally:
        for sock in sockets:
            sock.close()
    assert grown_mib < 8, f"the server grew by {grown_mib:.1f} MiB holding ten unfinished 20 MB heads"
    assert httpx.get(f"{duckdb_server.url}/health").status_code == 200


def test_slowloris_connections_are_closed_at_the_request_deadline(duckdb_server: LiveServer) -> None:
    # 50 clients each sending their request head a byte at a time, every 0.2 s: never idle, never done. The
    # server must close every one of them (the request deadline), however slow the machine.
    trickle = head("/health", *(f"X-Slow-{i}: {'b' * 40}" for i in range(50)))
    sockets = [connect(duckdb_server) for _ in range(50)]
    open_sockets = {sock: 0 for sock in sockets}  # socket -> bytes of `trickle` sent so far
    closed = 0
    deadline = time.monotonic() + GENEROUS
    try:
        while open_sockets and time.monotonic() < deadline:
            for sock, sent in list(open_sockets.items()):
                try:
                    sock.setblocking(False)
                    if sock.recv(65536) == b"":
                        raise ConnectionResetError  # closed by the server
                except BlockingIOError:
                    try:
                        sock.send(trickle[sent : sent + 1])
                        open_sockets[sock] = sent + 1
                        continue
                    except OSError:
                        pass
                except OSError:
                    pass
                del open_sockets[sock]
                closed += 1
            time.sleep(0.2)  # the pace of the attack, not a wait for the server
        assert all(sent < len(trickle) for sent in open_sockets.values()), "a slow head was finished"
    finally:
        for sock in sockets:
            sock.close()
    assert closed == 50, f"{len(open_sockets)} slowloris connections still open after {GENEROUS:.0f} s"
    assert httpx.get(f"{duckdb_server.url}/health").status_code == 200


def test_idle_connections_are_closed_after_the_keep_alive_timeout(built_apis: PerTarget[BuiltApi]) -> None:
    # A request deadline far beyond GENEROUS: only the keep-alive timeout can close these connections in time.
    idle_only = ("--request-timeout", "600", "--keep-alive-timeout", KEEP_ALIVE_TIMEOUT)
    with live_server(built_apis.get("duckdb"), *idle_only) as server:
        with connect(server) as sock:  # opened, and not a byte sent
            response, closed = read_until_closed(sock)
        assert (response, closed) == (b"", True)

        with connect(server) as sock:  # one request answered, kept alive, then nothing
            sock.sendall(head("/health"))
            response, closed = read_until_closed(sock)
        assert closed and status_of(response) == 200, response[:200]
        assert b"connection: close" not in response.lower()  # closed for idleness, not as the answer said


@pytest.mark.parametrize(
    "path",
    [
        "/runs/%00",  # a path id (a 500 on Postgres: its driver refuses NUL in a string)
        "/runs/run%00id/nodes",
        "/tests?model=orders%00",  # a query value that goes to the warehouse
        "/lineage?node=%00",
        "/reports/customer_summary?filter=country:eq:a%00",
        "/dbt-docs/index%00.html",  # a file of the open sites: open() refuses NUL too
        "/gx-docs/%00",
        "/runs?trigger%00=cli",  # in a name
    ],
)
def test_a_nul_in_a_path_or_query_value_is_refused_before_the_warehouse(
    servers: PerTarget[LiveServer], target: str, path: str
) -> None:
    server = servers.get(target)
    response = httpx.get(server.url + path, headers=KEY)
    assert response.status_code == 422, response.text
    place = "path" if "?" not in path else "query"
    assert response.json()["detail"][0]["loc"][0] == place
    assert response.json()["detail"][0]["type"] == "nul_character"


@pytest.mark.parametrize(
    ("path", "location"),
    [("/runs/", "/runs"), ("/runs/?page=2&page_size=5", "/runs?page=2&page_size=5"), ("/dbt-docs", "/dbt-docs/")],
)
def test_no_redirect_names_the_host_the_client_sent(duckdb_server: LiveServer, path: str, location: str) -> None:
    response = httpx.get(duckdb_server.url + path, headers={**KEY, "Host": "evil.example"})
    assert response.is_redirect, response.status_code
    assert response.headers["location"] == location


def test_several_workers_have_the_same_limits(built_apis: PerTarget[BuiltApi]) -> None:
    with live_server(built_apis.get("duckdb"), "--workers", "2", *LIMITS) as server:
        with connect(server) as sock:  # an over-limit head
            sender = send_in_background(sock, head("/health", "X-Big: " + "a" * MB))
            response, closed = read_until_closed(sock)
            sender.join(GENEROUS)
        assert closed and status_of(response) in (None, 400), response[:200]
        with connect(server) as sock:  # a head never finished
            sock.sendall(head("/health")[:-2])
            response, closed = read_until_closed(sock)
        assert (response, closed) == (b"", True)
        assert httpx.get(f"{server.url}/runs/%00", headers=KEY).status_code == 422
