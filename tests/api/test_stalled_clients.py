"""A report's CSV download holds nothing of the warehouse's while the client reads it, and is either
complete or an error status (issue 18, defects 1 and 5). Real sockets against a live `elt serve`.

Clients that stall mid-download (they stop reading, their socket stays open) and clients that vanish
mid-download must leave no DuckDB reader slot (a load then gets the file) and no Postgres connection
(keyed requests then get answers, not 503). Many parallel downloads on Postgres, more than its pool,
each end complete or as 503 + Retry-After, never as a 200 whose body is cut. A writer that asks for the
DuckDB file gets it as soon as the requests in flight end, and new requests are refused at once meanwhile.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from api.config import ApiConfig
from api.db import DuckDBReadHandle
from core.errors import WarehouseBusy
from core.warehouse import ReaderLock, Warehouse
from tests.api.conftest import API_KEY, KEY, BuiltApi
from tests.api.live import LiveServer, connect, head, live_server
from tests.conftest import PerTarget

REPORT = "order_status"  # the largest report of the session's sample: about 1.7 MB of CSV
CSV_PATH = f"/reports/{REPORT}.csv"
# More clients than every Postgres connection the server may open (pool_size for route handlers, as many again
# for the rest); on DuckDB one stalled client was enough to hold the reader slot for good.
CLIENTS = 2 * ApiConfig.pool_size + 1
PARALLEL_DOWNLOADS = 30
TIMEOUT = 600  # overall bound on any one wait (seconds): generous, the events come much sooner
REFUSAL_TIMEOUT = 120  # bound on a refusal that must come while a request is in flight (it comes in ms)


def test_stalled_and_vanished_csv_clients_hold_no_reader_slot(
    built: BuiltApi, sample_dir: Path, tmp_path: Path
) -> None:
    """Clients that stop reading or disconnect mid-download: a load gets the DuckDB file, and keyed requests,
    downloads and /health answer as before (Postgres: nothing holds a pool connection)."""
    duckdb = built.warehouse.target == "duckdb"
    if duckdb:  # the load below writes: keep it off the session's shared warehouse
        built = private_duckdb_copy(built, tmp_path / "copy")
    with live_server(built) as server, httpx.Client(base_url=server.url, headers=KEY, timeout=TIMEOUT) as http:
        full = http.get(CSV_PATH)
        assert full.status_code == 200, full.text[:500]
        rows = http.get(f"/reports/{REPORT}", params={"page_size": 1}).json()["total"]
        assert len(list(csv.reader(io.StringIO(full.text)))) == rows + 1  # header and every row

        for _ in range(CLIENTS):  # read the headers and a little of the body, then hang up
            gone = start_download(server)
            gone.close()
        stalled = [start_download(server) for _ in range(CLIENTS)]  # read as much, then stop reading

        if duckdb:  # a writer asks for the file while the clients above neither read nor hang up
            load_beside(server, built, sample_dir)
        # Postgres readers never hold off a writer (MVCC): what a client could hold there is a pool connection.

        page = http.get(f"/reports/{REPORT}", params={"page_size": 1})
        assert page.status_code == 200 and page.json()["total"] == rows, page.text[:500]
        again = http.get(CSV_PATH)
        assert again.status_code == 200 and again.content == full.content
        health = http.get("/health")
        assert health.status_code == 200 and health.json()["status"] == "ok", health.text

        # The stall was real: the server has not got the responses out, the rest is still on its side.
        for client in stalled:
            assert bytes_out_of_server(server, client) < len(full.content)
            client.sock.close()


PIPELINED = 20  # requests one client sends in one write, then never reads an answer
PIPELINED_PATH = "/tests?page_size=500"  # a JSON answer of a few hundred KB


def test_clients_that_pipeline_requests_and_never_read_hold_no_reader_slot(
    built: BuiltApi, sample_dir: Path, tmp_path: Path
) -> None:
    """Every JSON route, not only the CSV: a client sending many requests at once and reading no answer
    once kept its connection (and with it the DuckDB reader slot) until it hung up, as a route let go of its
    connection only after its answer was sent; enough of them hung every keyed request."""
    duckdb = built.warehouse.target == "duckdb"
    if duckdb:
        built = private_duckdb_copy(built, tmp_path / "copy")
    with live_server(built) as server, httpx.Client(base_url=server.url, headers=KEY, timeout=TIMEOUT) as http:
        one = http.get(PIPELINED_PATH)
        assert one.status_code == 200, one.text[:300]
        stalled = []
        for _ in range(ApiConfig.pool_size + 1):  # more clients than requests may hold a connection at once
            sock = connect(server, receive_buffer=4096, timeout=TIMEOUT)
            sock.sendall(head(PIPELINED_PATH) * PIPELINED)
            stalled.append(sock)

        runs = http.get("/runs")  # answered while every stalled client still has answers waiting
        assert runs.status_code == 200, runs.text[:300]
        if duckdb:
            load_beside(server, built, sample_dir)
        again = http.get(PIPELINED_PATH)
        assert again.status_code == 200 and again.json() == one.json()

        # The stall was real: most answers are still on the server's side.
        for sock in stalled:
            download = Download(sock, 0)
            assert bytes_out_of_server(server, download) < PIPELINED * len(one.content)
            download.close()


@pytest.mark.postgres
def test_postgres_parallel_csv_downloads_are_complete_or_refused(
    built_apis: PerTarget[BuiltApi], postgres_available: bool
) -> None:
    """30 downloads at once, more than the server's pool: each must be the whole report or an error status
    (503 with Retry-After), never a 200 cut short; as they queue for a connection, all 30 are whole.
    (DuckDB has no pool: one open file serves every request.)"""
    if not postgres_available:
        pytest.skip("Postgres server not reachable (set CI=true to make this a failure)")
    built = built_apis.get("postgres")
    with live_server(built) as server, httpx.Client(base_url=server.url, headers=KEY, timeout=TIMEOUT) as http:
        full = http.get(CSV_PATH)
        assert full.status_code == 200, full.text[:500]
        rows = http.get(f"/reports/{REPORT}", params={"page_size": 1}).json()["total"]
        assert len(list(csv.reader(io.StringIO(full.text)))) == rows + 1

        def download(_: int) -> str:
            with httpx.Client(base_url=server.url, headers=KEY, timeout=TIMEOUT) as own:
                try:
                    with own.stream("GET", CSV_PATH) as response:
                        body = response.read()
                except httpx.TransportError as exc:  # the server ended the response before its end
                    return f"cut: {type(exc).__name__}"
            if response.status_code == 503 and response.headers.get("retry-after"):
                return "503 with Retry-After"
            if response.status_code != 200:
                return f"status {response.status_code}"
            return "complete" if body == full.content else f"cut at {len(body)} of {len(full.content)} bytes"

        with ThreadPoolExecutor(PARALLEL_DOWNLOADS) as pool:
            outcomes = Counter(pool.map(download, range(PARALLEL_DOWNLOADS)))
        # Every download waits its turn for a connection, in the server's event loop: none is refused.
        assert outcomes == {"complete": PARALLEL_DOWNLOADS}, f"{outcomes}\nserver:\n{server.log()[-3000:]}"


def test_duckdb_writer_gets_the_file_once_the_requests_in_flight_end(built_apis: PerTarget[BuiltApi]) -> None:
    """A writer asks while a request reads: new requests are turned away at once (WarehouseBusy, not a wait),
    and the writer gets the file when the request in flight ends; readers come back after it."""
    warehouse = built_apis.get("duckdb").warehouse  # the writer below only takes the lock: nothing is written
    handle = DuckDBReadHandle(warehouse)
    granted, done = threading.Event(), threading.Event()

    def writer() -> None:
        with warehouse.lock(timeout=TIMEOUT, purpose="test"):
            granted.set()
            done.wait(TIMEOUT)

    pool = ThreadPoolExecutor(2)
    try:
        with handle.cursor() as conn:
            assert conn.scalar("select 1") == 1
            writing = pool.submit(writer)
            announced, deadline = ReaderLock(warehouse), time.monotonic() + TIMEOUT
            while not announced.writer_waiting():  # wait for the writer to ask for the file
                assert time.monotonic() < deadline, "the writer never announced itself"
                time.sleep(0.01)
            # Before the request in flight ends: a refusal that waited for it would never come in this block.
            refused = pool.submit(lambda: handle.cursor().__enter__()).exception(timeout=REFUSAL_TIMEOUT)
            assert isinstance(refused, WarehouseBusy) and "writing" in str(refused)
            assert not granted.is_set() and conn.scalar("select 2") == 2  # the request in flight reads on
        assert granted.wait(TIMEOUT)  # its end handed the file over
        with pytest.raises(WarehouseBusy, match="writing"), handle.cursor():
            pass
        done.set()
        writing.result(timeout=TIMEOUT)  # the writer let go of the lock
        with handle.cursor() as conn:
            assert conn.scalar("select 3") == 3
    finally:
        done.set()
        pool.shutdown()
        handle.close()


class Download:
    """A raw-socket GET of the report's CSV that has read its headers and a little of the body."""

    def __init__(self, sock: socket.socket, received: int):
        self.sock = sock
        self.received = received  # bytes read so far, headers included

    @property
    def port(self) -> int:
        """The client's own port."""
        return self.sock.getsockname()[1]

    def close(self) -> None:
        """Hang up at once (RST: unread data is thrown away)."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        self.sock.close()


def start_download(server: LiveServer, receive_buffer: int = 4096) -> Download:
    """GET the CSV with the key on a socket with a small receive window (`receive_buffer` bytes, Ethernet-sized
    segments: see tests.api.live.connect); read the headers and some body."""
    sock = connect(server, receive_buffer=receive_buffer, timeout=TIMEOUT)
    sock.sendall(head(CSV_PATH))
    data = b""
    while b"\r\n\r\n" not in data or data.endswith(b"\r\n\r\n"):  # the headers and at least one body byte
        chunk = sock.recv(1024)
        assert chunk, f"the server closed the download early: {data!r}"
        data += chunk
    assert data.startswith(b"HTTP/1.1 200 "), data[:500]
    return Download(sock, len(data))


def bytes_out_of_server(server: LiveServer, download: Download) -> int:
    """What the client read plus what the kernel holds for the connection (at most what the server wrote)."""
    queues = {}
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote = (int(address.split(":")[1], 16) for address in fields[1:3])
        queues[local, remote] = [int(size, 16) for size in fields[4].split(":")]  # tx_queue, rx_queue
    server_unacked, _ = queues[server.port, download.port]
    _, client_unread = queues[download.port, server.port]
    return download.received + client_unread + server_unacked


def load_beside(server: LiveServer, built: BuiltApi, sample_dir: Path) -> None:
    """`elt load` of sample_dir into `built`'s warehouse while `server` serves it, in a subprocess with the
    server's environment; it must exit 0 within TIMEOUT seconds (AssertionError with both outputs if not)."""
    load = subprocess.run(
        [sys.executable, "-m", "elt.cli", "load", "--data-dir", str(sample_dir)],
        env={**os.environ, **built.env, "ELT_API_KEY": API_KEY},
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert load.returncode == 0, f"elt load failed:\n{load.stdout}{load.stderr}\nserver:\n{server.log()}"


def private_duckdb_copy(built: BuiltApi, folder: Path) -> BuiltApi:
    """A copy of a built DuckDB warehouse and its artifacts folder in `folder`, for tests that write to it."""
    folder.mkdir(parents=True)
    database = folder / "warehouse.duckdb"
    for suffix in ("", ".wal"):  # the write-ahead log too, should one be left
        if Path(f"{built.warehouse.duckdb_path}{suffix}").exists():
            shutil.copyfile(f"{built.warehouse.duckdb_path}{suffix}", f"{database}{suffix}")
    target_root = folder / "target"
    shutil.copytree(built.target_path.parent, target_root)
    env = {**built.env, "ELT_DUCKDB_PATH": str(database), "ELT_DBT_TARGET_ROOT": str(target_root)}
    warehouse = Warehouse.from_env(environ={**os.environ, **env})
    return replace(built, warehouse=warehouse, target_path=target_root / "duckdb", env=env)
