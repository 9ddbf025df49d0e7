"""API latency benchmark: one paginated report read against a live `elt serve`, DuckDB and Postgres side by side.

In a temp dir:
  setup   `elt generate`, then per target `elt run` into a fresh warehouse (DuckDB file / database
          elt_bench_<random>, dropped at the end) and `elt serve` on a free port as a subprocess (uvicorn,
          log in the temp dir); every target's server runs before the first measurement
  load    GET /reports/customer_summary?page=3&page_size=50&sort=-revenue_usd with X-API-Key, closed loop:
          N threads (--clients, default 10 50), each with its own httpx.Client, first ~50 warm-up requests
          shared among them, then requests back to back for --seconds each. The targets take turns at each
          client count (duckdb 10, postgres 10, duckdb 50, ...), so a slower spell of the machine falls on
          both rather than on one
Prints requests, req/s, p50/p95 ms (of the 200 responses) and errors (any non-200 or transport error) per
target and client count, then the goals: Postgres p95 within 1.5x of DuckDB's at 50 clients, and p95 < 50 ms
at 10 clients on both. The load generator runs on the same machine and shares its CPUs with the servers.
Usage: python bench/api.py [--targets duckdb postgres] [--clients 10 50] [--seconds 10] [--workers 2] [--json F]
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
GOAL_RATIO_CLIENTS = 50  # at this many clients, Postgres p95 <= GOAL_RATIO x DuckDB p95
GOAL_RATIO = 1.5
GOAL_P95_CLIENTS = 10  # at this many clients, p95 < GOAL_P95_MS on every target
GOAL_P95_MS = 50.0
HEALTH_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0


@dataclass
class Result:
    """What one load level measured."""

    target: str
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
        done = subprocess.run([sys.executable, "-m", "elt.cli", *args], env=env, cwd=PROJECT_DIR, stdout=fh, stderr=fh)
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
            [sys.executable, "-m", "elt.cli", "serve", "--port", str(port), "--target", target]
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


def run_level(target: str, base: str, api_key: str, clients: int, seconds: float) -> Result:
    """Closed-loop load with `clients` threads: a shared warm-up, then `seconds` of back-to-back requests."""
    result = Result(target=target, clients=clients)
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


@dataclass
class Served:
    """A target's warehouse, built, and the `elt serve` processes over it (one per worker count)."""

    target: str
    env: dict[str, str]
    database: str | None
    log: Path
    api_key: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    servers: dict[int, tuple[subprocess.Popen, str]] = field(default_factory=dict)  # workers -> process, base URL


def build(served: Served, workdir: Path, data_dir: Path) -> None:
    """`elt run` of the generated data into the served target's fresh warehouse (exits if it fails)."""
    started = time.perf_counter()
    cli(
        ["run", "--data-dir", str(data_dir), "--target", served.target],
        served.env,
        workdir / f"{served.target}-run.log",
    )
    print(f"  {served.target}: warehouse built in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)


def tear_down(served: Served) -> None:
    """Stop the servers, drop the Postgres database, and show the first traceback of the server log if any."""
    for proc, _ in served.servers.values():
        stop_server(proc)
    if served.database:
        drop_database(served.env)
    text = served.log.read_text(errors="replace") if served.log.exists() else ""
    if exceptions := text.count("Traceback"):
        first = text[text.index("Traceback") :].splitlines()[:60]
        print(f"  {served.target}: {exceptions} traceback(s) in the server log; the first:", file=sys.stderr)
        print("    " + "\n    ".join(first), file=sys.stderr, flush=True)


def measure(
    targets: list[str], workdir: Path, data_dir: Path, clients: list[int], seconds: float, workers: list[int]
) -> list[Result]:
    """Build and serve every target, then run each load level on each target in turn."""
    results: list[Result] = []
    built: list[Served] = []
    try:
        for target in targets:
            env, database = scratch_env(target, workdir)
            built.append(
                Served(target, {**env, "ELT_DATA_DIR": str(data_dir)}, database, workdir / f"{target}-server.log")
            )
            build(built[-1], workdir, data_dir)
        for served in built:
            for count in workers:
                env = {**served.env, "ELT_API_KEY": served.api_key}
                served.servers[count] = start_server(served.target, env, served.log, count)
        for count in workers:
            for n in clients:
                for served in built:
                    _, base = served.servers[count]
                    results.append(run_level(served.target, base, served.api_key, n, seconds))
                    results[-1].workers = count
    finally:
        for served in built:
            tear_down(served)
    return results


@dataclass
class Goal:
    """One goal of the API issue and how the run measured against it."""

    text: str
    measured: str
    met: bool | None  # None: not measured


def goals(results: list[Result]) -> list[Goal]:
    """The goals, per worker count measured: Postgres p95 <= GOAL_RATIO x DuckDB's at GOAL_RATIO_CLIENTS, and
    p95 < GOAL_P95_MS at GOAL_P95_CLIENTS on each target (a level with errors misses its goal)."""
    found: list[Goal] = []
    by_key = {(r.target, r.workers, r.clients): r for r in results}
    for count in sorted({r.workers for r in results}):
        where = f"{count} worker{'s' if count > 1 else ''}"
        duck = by_key.get(("duckdb", count, GOAL_RATIO_CLIENTS))
        pg = by_key.get(("postgres", count, GOAL_RATIO_CLIENTS))
        text = f"Postgres p95 <= {GOAL_RATIO:g}x DuckDB p95 at {GOAL_RATIO_CLIENTS} clients ({where})"
        if duck and pg and duck.percentile_ms(95) and pg.percentile_ms(95):
            ratio = pg.percentile_ms(95) / duck.percentile_ms(95)
            measured = f"{pg.percentile_ms(95):.1f} / {duck.percentile_ms(95):.1f} ms = {ratio:.2f}x"
            found.append(Goal(text, measured, ratio <= GOAL_RATIO and not (duck.error_count or pg.error_count)))
        else:
            found.append(Goal(text, "not measured", None))
        for target in ("duckdb", "postgres"):
            text = f"{target} p95 < {GOAL_P95_MS:g} ms at {GOAL_P95_CLIENTS} clients ({where})"
            r = by_key.get((target, count, GOAL_P95_CLIENTS))
            if r is None or r.percentile_ms(95) is None:
                found.append(Goal(text, "not measured", None))
            else:
                p95 = r.percentile_ms(95)
                found.append(Goal(text, f"{p95:.1f} ms", p95 < GOAL_P95_MS and not r.error_count))
    return found


def machine() -> str:
    """The machine the figures come from: host, CPU model and cores, memory, Python."""
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{platform.node()}: {os.cpu_count()} cores ({cpu}), {memory:.0f} GiB RAM, {platform.system()}"
        f" {platform.release()}, Python {platform.python_version()}"
    )


def main() -> int:
    """Print latency and throughput per target and client count; exit 1 on errors or a missed goal."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--targets", nargs="+", choices=("duckdb", "postgres"), default=["duckdb", "postgres"])
    parser.add_argument("--clients", type=int, nargs="+", default=[GOAL_P95_CLIENTS, GOAL_RATIO_CLIENTS])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--workers", type=int, nargs="+", default=[2], help="uvicorn processes (elt serve --workers)")
    parser.add_argument("--json", type=Path, help="write the results here too")
    args = parser.parse_args()

    cpus = os.cpu_count()
    where = machine()
    print(f"machine: {where} (the load generator and the servers share these {cpus} cores)")
    print(f"GET {PATH}, {args.seconds:g} s per level, closed loop, targets in turn", flush=True)
    with tempfile.TemporaryDirectory(prefix="elt-bench-api-") as tmp:
        workdir = Path(tmp)
        data_dir = workdir / "data"
        cli(["generate", "--out", str(data_dir)], {**os.environ, "DO_NOT_TRACK": "1"}, workdir / "generate.log")
        results = measure(args.targets, workdir, data_dir, args.clients, args.seconds, args.workers)
    header = f"{'target':<9} {'workers':>7} {'clients':>7} {'requests':>8} {'req/s':>8}"
    header += f" {'p50 ms':>8} {'p95 ms':>8} {'errors':>6}"
    print(header)
    print("-" * len(header))
    failed = False
    for r in results:
        p50, p95 = r.percentile_ms(50), r.percentile_ms(95)
        print(
            f"{r.target:<9} {r.workers:>7} {r.clients:>7} {r.requests:>8} {r.requests / r.elapsed:>8.1f}"
            f" {_ms(p50):>8} {_ms(p95):>8} {r.error_count:>6}"
        )
        if r.errors:
            failed = True
            print(f"{'':<9} errors: {', '.join(f'{k} x{v}' for k, v in r.errors.most_common())}")
    checked = goals(results)
    for goal in checked:
        verdict = {True: "met", False: "missed", None: "not measured"}[goal.met]
        print(f"goal: {goal.text}: {verdict} ({goal.measured})")
        failed |= goal.met is False
    print(f"note: the load generator's threads run on the same {cpus} cores as the servers, so latencies include")
    print("      client-side contention; p50/p95 are over the 200 responses, errors are any other outcome.")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        rows = [
            {
                "target": r.target,
                "workers": r.workers,
                "clients": r.clients,
                "seconds": r.elapsed,
                "requests": r.requests,
                "p50_ms": r.percentile_ms(50),
                "p95_ms": r.percentile_ms(95),
                "errors": r.error_count,
                "error_kinds": dict(r.errors),
            }
            for r in results
        ]
        document = {
            "path": PATH,
            "machine": where,
            "measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "seconds_per_level": args.seconds,
            "results": rows,
            "goals": [{"text": g.text, "measured": g.measured, "met": g.met} for g in checked],
        }
        args.json.write_text(json.dumps(document, indent=1))
    return 1 if failed else 0


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


if __name__ == "__main__":
    sys.exit(main())
