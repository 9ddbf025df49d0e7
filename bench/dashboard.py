"""Dashboard page times: every page of /ui/ against a live `elt serve` at scale 1, DuckDB and Postgres.

In a temp dir:
  setup    `elt generate` (scale 1), then per target `elt run` into a fresh warehouse (DuckDB file / database
           elt_bench_<random>, dropped at the end) and `elt serve` (one worker) on a free port; a login through
           POST /login gives the session cookie a browser would send
  measure  per page: the first request (the server's caches cold for that page), then --warmup requests,
           then --repeat timed requests one after the other (one person clicking, not a load test); the
           targets take turns page by page
Prints, per target and page, the first request's time and p50 / p95 / max of the timed ones (full response
received, HTML included), and the goal of the dashboard issue: every page under 200 ms (p95) at scale 1.
Usage: python bench/dashboard.py [--targets duckdb postgres] [--repeat 30] [--warmup 3] [--json F]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from scratch import scratch_env

BENCH = Path(__file__).resolve().parent
GOAL_MS = 200.0
# The pages, by what a person opens: (label, path); {run} is the id of the run that built the warehouse.
PAGES = (
    ("overview", "/ui/"),
    ("run", "/ui/runs/{run}"),
    ("reports", "/ui/reports"),
    ("customer_summary", "/ui/reports/customer_summary"),
    ("customer_summary sorted p3", "/ui/reports/customer_summary?sort=-revenue_usd&page=3"),
    ("customer_summary filtered", "/ui/reports/customer_summary?filter=country:eq:Germany&sort=-revenue_usd"),
    ("customer_segmentation", "/ui/reports/customer_segmentation"),
    ("order_status", "/ui/reports/order_status"),
    ("sales_trends_daily", "/ui/reports/sales_trends_daily"),
    ("product_performance", "/ui/reports/product_performance"),
    ("store_performance", "/ui/reports/store_performance"),
    ("anomaly_detection", "/ui/reports/anomaly_detection"),
    ("data_quality_scorecard", "/ui/reports/data_quality_scorecard"),
    ("dag_execution_summary", "/ui/reports/dag_execution_summary"),
    ("quality", "/ui/quality"),
    ("quality filtered", "/ui/quality?source=customers&reason=superseded_duplicate"),
    ("start a build", "/ui/runs/new"),
)


def _bench_api():
    """bench/api.py (its server and CLI helpers), loaded under another name: as `api` it would hide the
    project's api package."""
    spec = importlib.util.spec_from_file_location("bench_api", BENCH / "api.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


bench_api = _bench_api()


@dataclass
class PageTimes:
    """One page on one target: the first request and the timed ones (seconds), and the response size."""

    target: str
    label: str
    path: str
    first: float = 0.0
    times: list[float] = field(default_factory=list)
    size: int = 0

    def percentile_ms(self, p: int) -> float:
        """The p-th percentile of the timed requests, in ms."""
        if len(self.times) == 1:
            return self.times[0] * 1000
        return statistics.quantiles(self.times, n=100, method="inclusive")[p - 1] * 1000


@dataclass
class Served:
    """A target's warehouse and its server, and a logged-in client of it."""

    target: str
    env: dict[str, str]
    database: str | None
    log: Path
    process: object = None
    client: httpx.Client | None = None
    run_id: str = ""


def timed_get(client: httpx.Client, path: str) -> tuple[float, int]:
    """Seconds until the whole answer of GET path arrived, and its size; exits on anything but 200."""
    start = time.perf_counter()
    response = client.get(path)
    elapsed = time.perf_counter() - start
    if response.status_code != 200:
        raise SystemExit(f"GET {path}: {response.status_code} {response.text[:300]}")
    return elapsed, len(response.content)


def serve(served: Served, workdir: Path, data_dir: Path) -> None:
    """Build the target's warehouse, start its server, log a client in, note the run id."""
    started = time.perf_counter()
    bench_api.cli(["run", "--data-dir", str(data_dir)], served.env, workdir / f"{served.target}-run.log")
    print(f"  {served.target}: built in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    key = "bench-dashboard-key"
    served.process, base = bench_api.start_server(served.target, {**served.env, "ELT_API_KEY": key}, served.log)
    served.client = httpx.Client(base_url=base, timeout=60)
    login = served.client.post("/login", data={"key": key, "next": "/ui/"})
    if login.status_code != 303 or "elt_session" not in served.client.cookies:
        raise SystemExit(f"{served.target}: login failed: {login.status_code}")
    served.run_id = served.client.get("/runs").json()["items"][0]["run_id"]


def measure(targets: list[str], workdir: Path, data_dir: Path, repeat: int, warmup: int) -> list[PageTimes]:
    """Every page on every target, the targets taking turns page by page."""
    served = []
    results = []
    try:
        for target in targets:
            env, database = scratch_env(target, workdir)
            served.append(Served(target, env, database, workdir / f"{target}-server.log"))
            serve(served[-1], workdir, data_dir)
        for label, template in PAGES:
            for s in served:
                path = template.format(run=s.run_id)
                page = PageTimes(s.target, label, path)
                page.first, page.size = timed_get(s.client, path)
                for _ in range(warmup):
                    timed_get(s.client, path)
                page.times = [timed_get(s.client, path)[0] for _ in range(repeat)]
                results.append(page)
    finally:
        for s in served:
            if s.client is not None:
                s.client.close()
            if s.process is not None:
                bench_api.stop_server(s.process)
            if s.database:
                bench_api.drop_database(s.env)
    return results


def main() -> int:
    """Print the page times and the goal; exit 1 if a page misses it."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--targets", nargs="+", choices=("duckdb", "postgres"), default=["duckdb", "postgres"])
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--json", type=Path, help="write the results here too")
    args = parser.parse_args()
    where = bench_api.machine()
    print(f"machine: {where}")
    with tempfile.TemporaryDirectory(prefix="elt-bench-dashboard-") as tmp:
        workdir = Path(tmp)
        data_dir = workdir / "data"
        bench_api.cli(["generate", "--out", str(data_dir)], scratch_env("duckdb", workdir)[0], workdir / "gen.log")
        results = measure(args.targets, workdir, data_dir, args.repeat, args.warmup)
    header = f"{'page':<28} {'target':<9} {'KiB':>6} {'first ms':>9} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7}"
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r.label:<28} {r.target:<9} {r.size / 1024:>6.0f} {r.first * 1000:>9.1f} {r.percentile_ms(50):>7.1f}"
            f" {r.percentile_ms(95):>7.1f} {max(r.times) * 1000:>7.1f}"
        )
    slow = [r for r in results if r.percentile_ms(95) >= GOAL_MS]
    worst = max(results, key=lambda r: r.percentile_ms(95))
    verdict = "met" if not slow else f"missed by {', '.join(f'{r.label} ({r.target})' for r in slow)}"
    print(
        f"goal: every page p95 < {GOAL_MS:g} ms: {verdict}; slowest {worst.label} on {worst.target},"
        f" p95 {worst.percentile_ms(95):.1f} ms"
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        document = {
            "machine": where,
            "measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "repeat": args.repeat,
            "goal_ms": GOAL_MS,
            "results": [
                {
                    "target": r.target,
                    "page": r.label,
                    "path": r.path,
                    "bytes": r.size,
                    "first_ms": r.first * 1000,
                    "p50_ms": r.percentile_ms(50),
                    "p95_ms": r.percentile_ms(95),
                    "max_ms": max(r.times) * 1000,
                }
                for r in results
            ],
        }
        args.json.write_text(json.dumps(document, indent=1))
    return 1 if slow else 0


if __name__ == "__main__":
    sys.exit(main())
