"""The `elt` command line: generate sample data, load it (then its Data Docs), build, run, export, serve the API."""

from __future__ import annotations

import argparse
import contextlib
import errno
import re
import sys
from collections.abc import Callable
from pathlib import Path

from core.data_docs import DataDocs
from core.errors import ConfigError, EltError, as_warehouse_error, one_line
from core.settings import Settings
from core.warehouse import TARGETS, Warehouse
from orchestration.pipeline import RunResult


def cmd_generate(args: argparse.Namespace, settings: Settings) -> int:
    """`elt generate`: write the deterministic sample CSVs and expected.json."""
    from ingestion.generator import generate
    from orchestration.export import check_folder

    out = Path(args.out) if args.out else settings.data_dir
    check_folder(out.resolve())
    expected = generate(
        out, scale=args.scale, seed=args.seed, inject_orphans=args.inject_orphans, plant_anomalies=args.plant_anomalies
    )
    for name, info in expected["files"].items():
        print(f"  {name:<20} {info['rows']:>10,} rows {info['bytes'] / 1e6:>8.1f} MB")
    print(f"generated seed {args.seed}, scale {args.scale} into {out} (expected figures in {out / 'expected.json'})")
    return 0


def cmd_load(args: argparse.Namespace, settings: Settings) -> int:
    """`elt load`: bulk-load the five CSVs into the raw schema, then publish the load's Data Docs (also when
    a file was refused: its page says why; pages that cannot be written only warn). A data folder that does
    not exist: `no such folder: <path>`, exit code 2. On a terminal a spinner names the file being checked."""
    from core.audit import new_id
    from ingestion.loader import load
    from orchestration import progress
    from orchestration.lineage import LoadLineage
    from orchestration.run_audit import RunRecord

    warehouse = Warehouse.from_settings(settings)
    data_dir = Path(args.data_dir) if args.data_dir else settings.data_dir
    load_id = new_id()
    # Its OpenLineage events (file -> raw table) under the job `elt.load`, named by the load id.
    load_run = RunRecord(trigger="cli", command="load", target=warehouse.target, run_id=load_id)
    lineage = LoadLineage.start(warehouse, load_run, data_dir, args.only)
    try:
        with progress.showing(sys.stdout):
            loaded = load(warehouse, data_dir, sources=args.only, out=sys.stdout, load_id=load_id)
    except Exception as exc:
        lineage.fail(exc)
        with contextlib.suppress(Exception):  # the load's own error is the one to report
            _publish_data_docs(warehouse, load_id)
        raise
    lineage.complete(loaded)
    _publish_data_docs(warehouse, load_id)
    return 0


def _publish_data_docs(warehouse: Warehouse, load_id: str) -> None:
    """The Data Docs step after `elt load`: its index printed, or a warning if the pages cannot be written."""
    from ingestion.data_docs import publish_data_docs

    try:
        published = publish_data_docs(warehouse, load_id)
    except Exception as exc:
        print(f"warning: data docs not written to {DataDocs.of(warehouse).site}: {exc}", flush=True)
        return
    if published.entries:
        print(f"data docs of the contract: {published.index} ({published.seconds:.2f} s)", flush=True)


def cmd_build(args: argparse.Namespace, settings: Settings) -> int:
    """`elt build`: `dbt build` via dbtRunner into the build schemas, published if it passed, recorded in audit;
    exit 1 if a model or an error test failed (then nothing is published). On a fresh warehouse (the raw
    tables not loaded): one line saying to load first, exit code 2, the run recorded as failed with that line.
    On a terminal, a progress line shows the nodes done out of the nodes selected and the node running."""
    from orchestration import progress
    from orchestration.pipeline import build_and_record

    warehouse = Warehouse.from_settings(settings)
    with progress.showing(sys.stdout):
        result = build_and_record(
            warehouse, select=args.select, full_refresh=args.full_refresh, trigger=args.trigger, run_id=args.run_id
        )
    return _exit_code(result, "build failed")


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    """`elt run`: (with --sample: generate the sample data if the data folder is missing or empty), load,
    build, export the reports, dbt docs; then a summary table. Only what changed since the published build
    is reloaded and rebuilt (all of it with --force; orchestration/changes.py).

    Without --sample a data folder that does not exist, or holds none of the five files, is an error before
    anything runs (`no such folder: <path>`, exit code 2), and so is a data or reports folder that is a
    file. On a terminal the long steps show their progress (orchestration/progress.py)."""
    from orchestration import progress
    from orchestration.export import check_folder
    from orchestration.pipeline import has_any_data, run_pipeline
    from orchestration.summary import print_summary

    warehouse = Warehouse.from_settings(settings)
    data_dir = Path(args.data_dir) if args.data_dir else settings.data_dir
    reports_dir = Path(args.reports_dir) if args.reports_dir else settings.reports_dir
    check_folder(data_dir.resolve())
    check_folder(reports_dir.resolve())
    if args.sample:  # made before the run is recorded: a folder that cannot be made is bad input, not a run
        try:
            data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"cannot make the data folder {data_dir}: {exc.strerror or exc}") from None
    if not args.sample and not data_dir.is_dir():
        raise ConfigError(f"no such folder: {data_dir} (--sample generates the sample data there)")
    if not args.sample and not has_any_data(data_dir):
        raise ConfigError(f"none of the five CSV files in {data_dir} (--sample generates the sample data there)")
    with progress.showing(sys.stdout):
        result = run_pipeline(warehouse, data_dir, reports_dir, out=sys.stdout, sample=args.sample, force=args.force)
    print_summary(result, sys.stdout)
    return _exit_code(result, "run failed")


def _exit_code(result: RunResult, failed: str) -> int:
    """0 for a build or run that succeeded; else 1, its error (or `failed`) printed on stderr."""
    if result.success:
        return 0
    print(f"error: {one_line(result.run.error or failed)}", file=sys.stderr)
    return 1


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    """`elt export`: every report (models/reports/ in the manifest) as a CSV file."""
    from orchestration.export import export_reports

    warehouse = Warehouse.from_settings(settings)
    out = Path(args.out) if args.out else settings.reports_dir
    written = export_reports(warehouse, out)
    for name, rows in written.items():
        print(f"  {name + '.csv':<28} {rows:>10,} rows")
    print(f"exported {len(written)} reports into {out}")
    return 0


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    """`elt serve`: the API on uvicorn, each request bounded in size and time (api.server); refuses to start
    without $ELT_API_KEY unless --dev."""
    import os

    from api.config import ApiConfig
    from api.main import create_app
    from api.metrics import multiprocess_directory
    from api.server import HttpLimits, serve

    config = ApiConfig.from_settings(settings, dev=args.dev)
    given = {name: getattr(args, name) for name in ("max_header_bytes", "request_timeout", "keep_alive_timeout")}
    limits = HttpLimits(**{name: value for name, value in given.items() if value is not None})  # else the default
    if config.generated_key:
        print(f"dev mode: X-API-Key for this server is {config.api_key}", flush=True)
    sites = "dashboard /ui/, OpenAPI UI /docs, dbt docs /dbt-docs/, data contract docs /gx-docs/, metrics /metrics"
    print(f"API on http://{args.host}:{args.port}  ({sites})", flush=True)
    # Several workers count their requests in files of one folder, which /metrics adds up (api.metrics).
    with multiprocess_directory(args.workers):
        if args.workers == 1:
            serve(create_app(config), host=args.host, port=args.port, limits=limits)
            return 0
        # Several processes: each worker builds the app from the environment, so hand it what was decided here.
        os.environ.update({"ELT_API_KEY": config.api_key, "ELT_TARGET": config.warehouse.target})
        serve("api.main:create_app", host=args.host, port=args.port, workers=args.workers, limits=limits)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `elt` and its subcommands."""
    parser = argparse.ArgumentParser(prog="elt", description="Retail ELT warehouse: raw CSV -> raw -> dbt -> marts.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in (_add_generate, _add_load, _add_build, _add_run, _add_export, _add_serve):
        add(sub)
    return parser


_Subcommands = argparse._SubParsersAction  # what `add_subparsers` returns


def _command(
    sub: _Subcommands,
    name: str,
    func: Callable[[argparse.Namespace, Settings], int],
    *,
    target: bool = True,
    **texts: str,
) -> argparse.ArgumentParser:
    """The subcommand `name` (its `help` and `description` in `texts`) running `func`, with --target if `target`."""
    p = sub.add_parser(name, **texts)
    if target:
        p.add_argument("--target", choices=TARGETS, help="warehouse (default: $ELT_TARGET or duckdb)")
    p.set_defaults(func=func)
    return p


def _add_generate(sub: _Subcommands) -> None:
    p = _command(
        sub, "generate", cmd_generate, target=False, help="write deterministic sample data (five CSVs + expected.json)"
    )
    p.add_argument("--scale", type=_positive_int, default=1, help="multiply customers and sales (default 1)")
    p.add_argument("--seed", type=int, default=42, help="random seed; same seed, same bytes (default 42)")
    p.add_argument("--out", help="output directory (default: $ELT_DATA_DIR or data/sample)")
    p.add_argument(
        "--inject-orphans", action="store_true", help="add sales lines whose customer/product/store is unknown"
    )
    p.add_argument(
        "--plant-anomalies", action="store_true", help="add one order of outlier lines (for anomaly_detection)"
    )


def _add_load(sub: _Subcommands) -> None:
    p = _command(sub, "load", cmd_load, help="load the five CSVs into the raw schema (atomic, audited)")
    p.add_argument("--data-dir", help="directory with the CSVs (default: $ELT_DATA_DIR or data/sample)")
    p.add_argument("--only", nargs="+", metavar="SOURCE", help="load only these sources (e.g. sales customers)")


def _add_build(sub: _Subcommands) -> None:
    p = _command(
        sub,
        "build",
        cmd_build,
        help="dbt build: models and tests, published only if every model and error-severity test passed",
        description=(
            "dbt build into the build schemas (marts__build, ...) and, if every model and error-severity test"
            " passed, publish them in one transaction; until then readers keep the last good build. A failed"
            " build publishes nothing and stays in the build schemas until the next build (docs/publishing.md)."
        ),
    )
    p.add_argument("--full-refresh", action="store_true", help="rebuild incremental models from scratch")
    p.add_argument(
        "--select",
        nargs="+",
        metavar="SELECTOR",
        help="dbt node selection; the build starts from a copy of every published relation, so what is"
        " published is the whole set: the selected nodes new, the others as they were",
    )
    p.add_argument("--run-id", type=_run_id, help="record the run under this id (default: a new one)")
    p.add_argument("--trigger", choices=("cli", "api"), default="cli", help="who started it, for audit.runs")


def _add_run(sub: _Subcommands) -> None:
    p = _command(sub, "run", cmd_run, help="the whole pipeline: (--sample: generate), load, build, export, docs")
    p.add_argument("--data-dir", help="directory with the CSVs; it must exist (default: $ELT_DATA_DIR or data/sample)")
    p.add_argument(
        "--sample",
        action="store_true",
        help="generate the sample data (seed 42, scale 1) into the data directory first if it is missing or"
        " holds none of the five files (files already there are never replaced)",
    )
    p.add_argument("--reports-dir", help="where the report CSVs go (default: $ELT_REPORTS_DIR or data/reports)")
    p.add_argument(
        "--force",
        action="store_true",
        help="reload every file and rebuild everything, even what has not changed since the published build"
        " (by default a file whose sha256 raw already holds is not reloaded, and dbt rebuilds only what"
        " depends on what changed)",
    )


def _add_export(sub: _Subcommands) -> None:
    p = _command(sub, "export", cmd_export, help="write the reports as CSV files")
    p.add_argument("--out", help="output directory (default: $ELT_REPORTS_DIR or data/reports)")


def _add_serve(sub: _Subcommands) -> None:
    p = _command(sub, "serve", cmd_serve, help="the REST API (FastAPI + uvicorn); needs $ELT_API_KEY unless --dev")
    p.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=_positive_int, default=8000, help="port (default 8000)")
    p.add_argument("--dev", action="store_true", help="without $ELT_API_KEY: make a random key and print it once")
    p.add_argument("--workers", type=_positive_int, default=1, help="server processes (default 1)")
    p.add_argument(
        "--max-header-bytes",
        type=_positive_int,
        metavar="BYTES",
        help="largest request line and headers; a larger head gets 400 and the connection closed (default 32768)",
    )
    p.add_argument(
        "--request-timeout",
        type=_positive_seconds,
        metavar="SECONDS",
        help="time a client has to send a whole request, from when the server waits for it; a slower one is"
        " disconnected (default 20)",
    )
    p.add_argument(
        "--keep-alive-timeout",
        type=_positive_int,
        metavar="SECONDS",
        help="an open connection with no request under way is closed after this (default 5)",
    )


def _run_id(text: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9._:-]{1,80}", text):
        raise argparse.ArgumentTypeError("letters, digits and . _ : - only (at most 80)")
    return text


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be a positive integer")
    return value


def _positive_seconds(text: str) -> float:
    value = float(text)
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError("must be a positive number of seconds")
    return value


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `elt` console script; expected errors print one line, no traceback.

    Besides our own errors, that covers the warehouse failing under us (a DuckDB or Postgres driver error:
    disk full, server restarted mid-run): `error: warehouse error on <warehouse>: <what the driver said>`,
    exit code 1.
    """
    args = build_parser().parse_args(argv)
    try:
        return args.func(args, Settings.from_env(target=getattr(args, "target", None)))
    except EltError as exc:
        print(f"error: {one_line(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        error = as_warehouse_error(exc, _where(args)) or _path_error(exc)
        if error is None:
            raise
        print(f"error: {one_line(str(error))}", file=sys.stderr)
        return error.exit_code


# What the system says when a path given (an option, a setting) cannot be used as such: exit code 2.
_PATH_ERRORS = {
    errno.EEXIST: "not a folder",  # making a folder where a file is
    errno.ENOTDIR: "not a folder",  # a file where a folder of the path should be
    errno.EISDIR: "a folder, not a file",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EROFS: "read-only file system",
    errno.ENAMETOOLONG: "file name too long",
    errno.ENOSPC: "no space left on device",
    errno.ELOOP: "too many levels of symbolic links",
}


def _path_error(exc: BaseException) -> ConfigError | None:
    """An OSError about a path given to the command (`not a folder: <path>`, `permission denied: <path>`)
    as the ConfigError the CLI prints in one line; None for anything else."""
    if isinstance(exc, RuntimeError) and str(exc).startswith("Symlink loop from "):  # pathlib's resolve()
        return ConfigError(f"{_PATH_ERRORS[errno.ELOOP]}: {str(exc).removeprefix('Symlink loop from ').strip(chr(39))}")
    if not isinstance(exc, OSError) or exc.errno not in _PATH_ERRORS or not exc.filename:
        return None
    path = Path(str(exc.filename))
    if exc.errno in (errno.EEXIST, errno.ENOTDIR):  # name the file that stands in the way
        path = next((p for p in (path, *path.parents) if p.exists() and not p.is_dir()), path)
    return ConfigError(f"{_PATH_ERRORS[exc.errno]}: {path}")


def _where(args: argparse.Namespace) -> str | None:
    """The warehouse a command works on, for error messages (None if it cannot be told)."""
    if not hasattr(args, "target"):
        return None
    try:
        return Warehouse.from_env(args.target).describe()
    except EltError:
        return None


if __name__ == "__main__":
    sys.exit(main())
