"""Alerts: a finished run (`elt run`, `elt build`, a build the API started, an Airflow DAG run) sends one
notification to every URL of ELT_NOTIFY_URLS through Apprise (e-mail over SMTP, a JSON webhook, or any of
Apprise's other services), naming the run, its outcome, its failing dbt nodes and its error, and where to read
its log. Sent for failed runs, and for good ones too when ELT_NOTIFY_ON=always; no URL set means no alert.

An alert that cannot be delivered never fails the run: `notify_run` logs a warning (and a line in the run's
log, orchestration/run_log.py) naming the URL without its secrets, and returns.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import UTC
from functools import cache
from typing import TYPE_CHECKING

from core.audit import utc_now
from core.errors import one_line
from core.settings import Settings
from core.warehouse import Warehouse
from orchestration import run_log
from orchestration.run_audit import RunRecord, node_counts

if TYPE_CHECKING:
    import apprise

log = logging.getLogger(__name__)
MOST_NODES = 20  # failing nodes listed in one alert; the rest are counted
MAX_ERROR_CHARS = 2000  # of the run's error in the body (the whole error is in audit.runs and the run's log)
_SEPARATORS = re.compile(r"[\s,]+")


@cache
def _asset() -> apprise.AppriseAsset:
    """The asset naming us to Apprise. Apprise is imported where an alert is sent (about 0.4 s: most runs
    send none)."""
    import apprise

    return apprise.AppriseAsset(app_id="elt", app_desc="retail ELT pipeline alerts", app_url="")


@dataclass(frozen=True)
class Alert:
    """One notification of a finished run: `title` (the e-mail's subject, the webhook's `title`), `body`
    (plain text, the webhook's `message`) and whether it reports a failure."""

    title: str
    body: str
    failed: bool


@dataclass
class Delivery:
    """What `notify_run` did: the URLs it delivered to and the ones it could not (each with why), every URL
    shown without its secrets (Apprise's privacy form). Both empty when nothing was to be sent."""

    sent: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # `<url>: <why>`


def notify_urls(settings: Settings) -> list[str]:
    """The Apprise URLs of ELT_NOTIFY_URLS (whitespace- or comma-separated); empty: alerts are off."""
    return [url for url in _SEPARATORS.split(settings.notify_urls) if url]


def wanted(run: RunRecord, settings: Settings) -> bool:
    """True when the run's outcome is one to alert on: any run that did not succeed, a good one only with
    ELT_NOTIFY_ON=always; never when no URL is set."""
    if not notify_urls(settings):
        return False
    return run.status != "success" or settings.notify_on == "always"


def failing_nodes(warehouse: Warehouse, run: RunRecord) -> list[str]:
    """`<node>: <dbt's message>` of each dbt node of the run that failed or errored: from the run record when it
    holds them (a build in this process), else from audit.node_results (best effort: [] if unreadable)."""
    if run.counts is not None and run.counts.failures:
        return list(run.counts.failures)
    if run.status == "success":
        return []
    try:
        return node_counts(warehouse, run.run_id).failures
    except Exception as exc:  # the warehouse may be what failed; the alert goes out without the nodes
        log.warning("failing nodes of run %s not read: %s", run.run_id, one_line(str(exc)))
        return []


def compose(run: RunRecord, nodes: list[str]) -> Alert:
    """The alert of a finished run: title and plain-text body naming the run id, status, command, target,
    trigger, seconds, the failing nodes (at most MOST_NODES) and the error, and where to look."""
    failed = run.status != "success"
    outcome = run.status if failed else "succeeded"
    title = f"[elt] run {run.run_id} {outcome}: {run.trigger} {run.command} on {run.target}"
    lines = [
        f"Run {run.run_id} {outcome}.",
        "",
        f"run id:   {run.run_id}",
        f"status:   {run.status}",
        f"command:  {run.command}",
        f"target:   {run.target}",
        f"trigger:  {run.trigger}",
        f"started:  {run.started_at:%Y-%m-%d %H:%M:%S} UTC",
        f"seconds:  {_seconds(run):.1f}",
    ]
    if run.counts is not None:
        counts = run.counts
        lines.append(
            f"dbt:      {counts.models_built} models built, {counts.models_failed} failed; {counts.tests_passed}"
            f" tests passed, {counts.tests_failed} failed, {counts.tests_warned} warned"
        )
    if nodes:
        lines += ["", f"failing dbt nodes ({len(nodes)}):", *(f"  - {one_line(node)}" for node in nodes[:MOST_NODES])]
        if len(nodes) > MOST_NODES:
            lines.append(f"  ... and {len(nodes) - MOST_NODES} more (GET /runs/{run.run_id}/nodes?status=error)")
    if run.error:
        error = run.error if len(run.error) <= MAX_ERROR_CHARS else run.error[:MAX_ERROR_CHARS] + " ..."
        lines += ["", "error:", error]
    lines += [
        "",
        "Where to look (the API, `elt serve`):",
        f"  GET /runs/{run.run_id}/log    the run's whole log (dbt's lines and the steps')",
        f"  GET /runs/{run.run_id}/nodes  every dbt node of the run, with dbt's message",
        f"  /ui/runs/{run.run_id}         the run on the dashboard",
    ]
    return Alert(title, "\n".join(lines), failed)


def send(alert: Alert, urls: list[str]) -> Delivery:
    """Send `alert` to each URL on its own (one failing service does not stop the others); never raises."""
    import apprise

    delivery = Delivery()
    for url in urls:
        with apprise.LogCapture(level=logging.WARNING, fmt="%(message)s") as captured:
            shown, problem = _send_one(alert, url)
            said = one_line(captured.getvalue()).replace(url, _scheme_only(url))  # Apprise may quote it whole
        if problem is None:
            delivery.sent.append(shown)
        else:
            delivery.failed.append(f"{shown}: {problem or said or 'not delivered'}")
    return delivery


def _send_one(alert: Alert, url: str) -> tuple[str, str | None]:
    """The URL as shown (no secrets, no options), and None if Apprise delivered the alert there, else what
    went wrong ('' when only Apprise's log says it)."""
    import apprise

    service = apprise.Apprise(asset=_asset())
    if not service.add(url):
        return _scheme_only(url), ""
    shown = service[0].url(privacy=True).partition("?")[0]
    notify_type = apprise.NotifyType.FAILURE if alert.failed else apprise.NotifyType.SUCCESS
    try:
        sent = service.notify(
            body=alert.body, title=alert.title, notify_type=notify_type, body_format=apprise.NotifyFormat.TEXT
        )
    except Exception as exc:  # a service's own bug: still never the run's failure
        return shown, one_line(str(exc)) or type(exc).__name__
    return shown, None if sent else ""


def notify_run(warehouse: Warehouse, run: RunRecord, settings: Settings | None = None) -> Delivery:
    """Send the alert of a finished run to every URL of ELT_NOTIFY_URLS, if its outcome is one to alert on
    (`wanted`). Never raises: each URL that failed is logged as a warning and as a `warn` line of the current
    run's log (stored by the caller's next `run_log.flush`). Returns what was sent and what failed."""
    try:
        settings = settings or Settings.from_env()
        if not wanted(run, settings):
            return Delivery()
        delivery = send(compose(run, failing_nodes(warehouse, run)), notify_urls(settings))
    except Exception as exc:
        delivery = Delivery(failed=[f"alert not composed: {one_line(str(exc)) or type(exc).__name__}"])
    for failure in delivery.failed:
        log.warning("alert of run %s not sent to %s", run.run_id, failure)
        run_log.note(f"alert not sent to {failure}", "warn")
    if delivery.sent:
        run_log.note(f"alert sent to {', '.join(delivery.sent)}")
    return delivery


def _seconds(run: RunRecord) -> float:
    """Seconds from the run's start to now (the run has just finished), whatever the start's time zone."""
    started = run.started_at
    if started.tzinfo is not None:
        started = started.astimezone(UTC).replace(tzinfo=None)
    return max((utc_now() - started).total_seconds(), 0.0)


def _scheme_only(url: str) -> str:
    """A URL Apprise could not read, shown by its scheme alone (it may hold a password)."""
    scheme, found, _ = url.partition("://")
    return f"{scheme}://..." if found else "(a URL without a scheme)"
