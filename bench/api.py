"""API latency benchmark: one paginated report read against a live `elt serve` (goal: p95 < 50 ms at 50 clients).

For each target (default duckdb; Postgres with --targets duckdb postgres), in a temp dir:
  setup   `elt generate` then `elt run` into a fresh warehouse (DuckDB file / database elt_bench_<random>,
          dropped at the end), then `elt serve` on a free port as a subprocess (uvicorn, log in the temp dir)
  load    GET /reports/customer_summary?page=3&page_size=50&sort=-revenue_usd with X-API-Key, closed loop:
          N threads (--clients, default 1 10 50), each with its own httpx.Client, first ~50 warm-up requests
          shared among them, then requests back to back for --seconds each
Prints requests, req/s, p50/p95 ms (of the 200 responses) and errors (any non-200 or transport error) per
target and client count. The load generator runs on the same machine and shares its CPUs with the server.
Usage: python bench/api.py [--targets duckdb postgres] [--clients 1 10 50] [--seconds 5] [--workers 1 2] [--json F]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from scratch import drop_database, scratch_env

PROJECT_DIR = Path(__file__).resolve().parents[1]
PATH = "/reports/customer_summary?page=3&page_size=50&sort=-revenue_usd"
WARMUP_REQUESTS = 50
GOAL_CLIENTS = 50
GOAL_P95_MS = 50.0
HEALTH_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0


@dataclass
class Result:
    """What one load level measured."""

    clients: int
    workers: int = 1  # uvicorn processes serving
    latencies: list[float] = field(default_factory=list)  # seconds, 200 responses only
    requests: int = 0
    errors: Counter = field(default_factory=Counter)  # "503" / "ConnectTimeout" -> count
    elapsed: float = 0.0

    @property
    def error_count(self) -> int:
        """Non-200 responses and transport errors."""
        return sum(self.errors.values())

    def percentile_ms(self, p: int) -> float | None:
        """The p-th percentile latency in ms of the 200 responses (None without any)."""
        data = self.latencies
        if not data:
            return None
        if len(data) == 1:
            return data[0] * 1000
        return statistics.quantiles(data, n=100, method="inclusive")[p - 1] * 1000


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cli(args: list[str], env: dict[str, str], log: Path) -> None:
    """Run `elt <args>` in a child process, output appended to `log`; exit with its tail if it fails."""
    with log.open("a") as fh:
        fh.write(f"$ elt {' '.join(args)}\n")
        fh.flush()
        done = subprocess.run(
            [sys.executable, "-m", "orchestration.cli", *args], env=env, cwd=PROJECT_DIR, stdout=fh, stderr=fh
        )
    if done.returncode != 0:
        raise SystemExit(f"elt {' '.join(args)} failed (exit {done.returncode}):\n{tail(log)}")


def tail(log: Path, lines: int = 30) -> str:
    """The last lines of a log file."""
    if not log.exists():
        return "(no log)"
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def start_server(target: str, env: dict[str, str], log: Path, workers: int = 1) -> tuple[subprocess.Popen, str]:
    """Start `elt serve` on a free port; return the process and its base URL once /health answers 200."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with log.open("ab") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "orchestration.cli", "serve", "--port", str(port), "--target", target]
            + ["--workers", str(workers)],
            env=env,
            cwd=PROJECT_DIR,
            stdout=fh,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + HEALTH_TIMEOUT_S
    last = "no answer"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            last = f"server exited with code {proc.returncode}"
            break
        try:
            response = httpx.get(f"{base}/health", timeout=2.0)
            if response.status_code == 200:
                return proc, base
            last = f"/health answered {response.status_code}: {response.text[:200]}"
        except httpx.HTTPError as exc:
            last = type(exc).__name__
        time.sleep(0.2)
    stop_server(proc)
    raise SystemExit(f"server for {target} did not become healthy ({last}); log {log}:\n{tail(log)}")


def stop_server(proc: subprocess.Popen) -> None:
    """SIGINT (uvicorn's graceful shutdown), then kill if it has not exited within STOP_TIMEOUT_S."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def run_level(base: str, api_key: str, clients: int, seconds: float) -> Result:
    """Closed-loop load with `clients` threads: a shared warm-up, then `seconds` of back-to-back requests."""
    result = Result(clients=clients)
    lock = threading.Lock()
    warmup_each = -(-WARMUP_REQUESTS // clients)  # ceil: every client warms its own connection
    ready = threading.Barrier(clients + 1)
    go = threading.Event()
    deadline = [0.0]
    finished: list[float] = []

    def client() -> None:
        latencies: list[float] = []
        errors: Counter = Counter()
        with httpx.Client(base_url=base, headers={"X-API-Key": api_key}, timeout=30.0) as http:
            for _ in range(warmup_each):
                with contextlib.suppress(httpx.HTTPError):
                    http.get(PATH)
            ready.wait()
            go.wait()
            while time.perf_counter() < deadline[0]:
                start = time.perf_counter()
                try:
                    response = http.get(PATH)
                    elapsed = time.perf_counter() - start
                    if response.status_code == 200:
                        latencies.append(elapsed)
                    else:
                        errors[str(response.status_code)] += 1
                except httpx.HTTPError as exc:
                    errors[type(exc).__name__] += 1
            end = time.perf_counter()
        with lock:
            result.latencies.extend(latencies)
            result.errors.update(errors)
            result.requests += len(latencies) + sum(errors.values())
            finished.append(end)

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    ready.wait()
    begin = time.perf_counter()
    deadline[0] = begin + seconds
    go.set()
    for thread in threads:
        thread.join()
    result.elapsed = max(finished) - begin
    return result


def measure_target(
    target: str, workdir: Path, data_dir: Path, clients: list[int], seconds: float, workers: list[int]
) -> list[Result]:
    """Build the warehouse, serve it, and run every load level against it."""
    env, database = scratch_env(target, workdir)  # the `elt run` below builds it
    env["ELT_DATA_DIR"] = str(data_dir)
    log = workdir / f"{target}-server.log"
    try:
        started = time.perf_counter()
        cli(["run", "--data-dir", str(data_dir), "--target", target], env, workdir / f"{target}-run.log")
        print(f"  {target}: warehouse built in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
        api_key = secrets.token_urlsafe(24)
        results = []
        for count in workers:
            proc, base = start_server(target, {**env, "ELT_API_KEY": api_key}, log, count)
            try:
                for n in clients:
                    results.append(run_level(base, api_key, n, seconds))
                    results[-1].workers = count
            finally:
                stop_server(proc)
    finally:
        if database:
            drop_database(env)
    text = log.read_text(errors="replace")
    exceptions = text.count("Traceback")
    if exceptions or any(r.error_count for r in results):
        print(f"  {target}: {exceptions} traceback(s) in the server log; its last lines:", file=sys.stderr)
        print("    " + tail(log, 40).replace("\n", "\n    "), file=sys.stderr, flush=True)
    return results


def main() -> int:
    """Print latency and throughput per target and client count; exit 1 on errors or a missed goal."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--targets", nargs="+", choices=("duckdb", "postgres"), default=["duckdb"])
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 10, GOAL_CLIENTS])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument(
        "--workers", type=int, nargs="+", default=[1, 2], help="uvicorn processes (elt serve --workers)"
    )
    parser.add_argument("--json", type=Path, help="write the results here too")
    args = parser.parse_args()

    cpus = os.cpu_count()
    print(
        f"machine: {platform.node()} {platform.machine()}, {cpus} cores, Python {platform.python_version()}"
        f" (load generator and server share these {cpus} cores)"
    )
    print(f"GET {PATH}, {args.seconds:g} s per level, closed loop", flush=True)
    header = f"{'target':<9} {'workers':>7} {'clients':>7} {'requests':>8} {'req/s':>8}"
    header += f" {'p50 ms':>8} {'p95 ms':>8} {'errors':>6}"
    all_results: dict[str, list[Result]] = {}
    failed = False
    with tempfile.TemporaryDirectory(prefix="elt-bench-api-") as tmp:
        workdir = Path(tmp)
        data_dir = workdir / "data"
        cli(["generate", "--out", str(data_dir)], {**os.environ, "DO_NOT_TRACK": "1"}, workdir / "generate.log")
        for target in args.targets:
            all_results[target] = measure_target(target, workdir, data_dir, args.clients, args.seconds, args.workers)
    print(header)
    print("-" * len(header))
    for target, results in all_results.items():
        for r in results:
            p50, p95 = r.percentile_ms(50), r.percentile_ms(95)
            print(
                f"{target:<9} {r.workers:>7} {r.clients:>7} {r.requests:>8} {r.requests / r.elapsed:>8.1f}"
                f" {_ms(p50):>8} {_ms(p95):>8} {r.error_count:>6}"
            )
            if r.errors:
                failed = True
                print(f"{'':<9} errors: {', '.join(f'{k} x{v}' for k, v in r.errors.most_common())}")
    at_goal = [r for r in all_results.get("duckdb", []) if r.clients == GOAL_CLIENTS and r.percentile_ms(95)]
    goal = min(at_goal, key=lambda r: r.percentile_ms(95), default=None)  # the best worker count
    p95 = goal.percentile_ms(95) if goal else None
    if p95 is None:
        print(f"goal: p95 < {GOAL_P95_MS:g} ms at {GOAL_CLIENTS} clients on DuckDB: not measured")
    else:
        met = p95 < GOAL_P95_MS and not goal.error_count
        failed |= not met
        print(
            f"goal: p95 < {GOAL_P95_MS:g} ms at {GOAL_CLIENTS} clients on DuckDB: {'met' if met else 'missed'}"
            f" ({p95:.1f} ms, {goal.workers} worker{'s' if goal.workers > 1 else ''})"
        )
    print(f"note: the load generator's threads run on the same {cpus} cores as the server, so latencies include")
    print("      client-side contention; p50/p95 are over the 200 responses, errors are any other outcome.")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        rows = [
            {
                "target": target,
                "workers": r.workers,
                "clients": r.clients,
                "seconds": r.elapsed,
                "requests": r.requests,
                "p50_ms": r.percentile_ms(50),
                "p95_ms": r.percentile_ms(95),
                "errors": r.error_count,
                "error_kinds": dict(r.errors),
            }
            for target, results in all_results.items()
            for r in results
        ]
        args.json.write_text(json.dumps({"path": PATH, "goal_p95_ms": GOAL_P95_MS, "results": rows}, indent=1))
    return 1 if failed else 0


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


if __name__ == "__main__":
    sys.exit(main())
