"""Alerts (orchestration/notify.py, docs/alerts.md): a finished `elt` run sends one notification through
Apprise to every URL of ELT_NOTIFY_URLS, here a real SMTP server and a real webhook receiver on loopback
(tests/orchestration/notify_support.py). A failed run always; a good one only with ELT_NOTIFY_ON=always. An
alert that cannot be delivered is a warning and a line of the run's log, never the run's failure.

Two builds of one model on a private copy of the session's good warehouse (tests/faults/conftest.py), the
second after a raw row of Stores.csv was doubled, so that the model's unique test of `source_row` fails
(both in one test: the second parses the project partially). The Airflow DAG's alert is tested with its failing run in
test_airflow_dag_failure.py. A build started by `POST /runs` is `elt build --trigger api`, closed and alerted
by the same code (orchestration.pipeline._run) as the builds here.
"""

from __future__ import annotations

from pathlib import Path

from core.settings import Settings
from core.warehouse import Warehouse
from orchestration.notify import Delivery, notify_run
from orchestration.run_audit import fetch_run
from tests.dbt.conftest import rows
from tests.faults.conftest import Built, built, golden, run_elt  # noqa: F401 - fixtures: a copy of one good `elt run`
from tests.orchestration.notify_support import (  # noqa: F401 - alert_receivers: a fixture
    MAIL_TO,
    AlertReceivers,
    alert_receivers,
    free_port,
    mail_text,
)

MODEL = "stg_stores"  # one row per raw line of Stores.csv
FAILING_TEST = "unique_stg_stores_source_row"


def _last_run(warehouse: Warehouse) -> dict:
    *_, run = rows(warehouse, "select * from audit.runs order by started_at")
    return run


def _log(warehouse: Warehouse, run_id: str) -> list[tuple[str, str]]:
    query = f"select level, message from audit.run_logs where run_id = '{run_id}' order by line_no"
    return [(line["level"], line["message"]) for line in rows(warehouse, query)]


def _double_a_raw_row(warehouse: Warehouse) -> None:
    conn = warehouse.connect()
    try:
        conn.execute("insert into raw.stores select * from raw.stores where _source_row = 1")
    finally:
        conn.close()


def test_a_good_build_alerts_only_if_asked_and_a_failed_one_once(
    built: Built,  # noqa: F811 - the fixture imported above
    alert_receivers: AlertReceivers,  # noqa: F811
    tmp_path: Path,
) -> None:
    target = built.warehouse.target
    dead_hook = f"json://127.0.0.1:{free_port()}/nobody-listens"
    env = {**built.env, "ELT_DBT_TARGET_ROOT": str(tmp_path / "target"), "ELT_LINEAGE_DIR": str(tmp_path / "lineage")}

    # A good build, ELT_NOTIFY_ON=always, and a URL nobody listens on besides the two receivers.
    urls = f"{alert_receivers.mail.url},{dead_hook}, {alert_receivers.webhook.url}"
    done = run_elt("build", "--select", MODEL, env={**env, "ELT_NOTIFY_URLS": urls, "ELT_NOTIFY_ON": "always"})
    assert done.returncode == 0, done.stderr[-3000:]
    good = _last_run(built.warehouse)
    assert (good["status"], good["models_built"], good["error"]) == ("success", 1, None)
    (mail,), (hook,) = alert_receivers.received()
    title = f"[elt] run {good['run_id']} succeeded: cli build on {target}"
    assert (mail["Subject"], hook["title"], hook["type"]) == (title, title, "success")
    body = mail_text(mail)
    assert body == hook["message"]  # the same text on both services
    assert body.splitlines()[:4] == [
        f"Run {good['run_id']} succeeded.",
        "",
        f"run id:   {good['run_id']}",
        "status:   success",
    ]
    assert "failing dbt nodes" not in body and "error:" not in body.splitlines()
    # The dead URL: a warning and a line of the run's log; the run and the other alerts went on.
    dead_shown = dead_hook.partition("?")[0]
    warned = [message for level, message in _log(built.warehouse, good["run_id"]) if level == "warn"]
    why = "A Connection error occurred sending JSON notification to 127.0.0.1."
    assert warned == [f"elt: alert not sent to {dead_shown}: {why}"]
    assert f"alert of run {good['run_id']} not sent to {dead_shown}: {why}" in done.stderr
    # With ELT_NOTIFY_ON unset (failures only), the same good run sends nothing.
    failures_only = Settings.from_env(environ={"ELT_NOTIFY_URLS": alert_receivers.urls})
    assert notify_run(built.warehouse, fetch_run(built.warehouse, good["run_id"]), failures_only) == Delivery()
    assert [len(received) for received in alert_receivers.received()] == [1, 1]

    # A failed build (a raw line twice: a test fails), ELT_NOTIFY_ON unset: one e-mail and one webhook more.
    _double_a_raw_row(built.warehouse)
    done = run_elt("build", "--select", MODEL, env={**env, "ELT_NOTIFY_URLS": alert_receivers.urls})
    assert done.returncode == 1, done.stderr[-3000:]
    run = _last_run(built.warehouse)
    run_id = run["run_id"]
    assert (run["status"], run["trigger"], run["models_built"], run["tests_failed"]) == ("failed", "cli", 1, 1)
    mails, hooks = alert_receivers.received()
    assert len(mails) == len(hooks) == 2, (mails, hooks)
    mail, hook = mails[-1], hooks[-1]
    title = f"[elt] run {run_id} failed: cli build on {target}"
    assert mail["Subject"] == title and mail["To"] == MAIL_TO and alert_receivers.mail.recipients[-1] == [MAIL_TO]
    assert (hook["title"], hook["type"]) == (title, "failure")
    body = mail_text(mail)
    assert body == hook["message"]
    lines = body.splitlines()
    assert lines[:8] == [
        f"Run {run_id} failed.",
        "",
        f"run id:   {run_id}",
        "status:   failed",
        "command:  build",
        f"target:   {target}",
        "trigger:  cli",
        f"started:  {run['started_at']:%Y-%m-%d %H:%M:%S} UTC",
    ]
    counts = f"{run['tests_passed']} tests passed, 1 failed, {run['tests_warned']} warned"
    assert f"dbt:      1 models built, {run['models_failed']} failed; {counts}" in lines
    failing = lines[lines.index("failing dbt nodes (1):") + 1]
    assert failing.startswith(f"  - {FAILING_TEST}: ")
    assert f"\nerror:\n{run['error']}\n" in body
    assert f"  GET /runs/{run_id}/log    the run's whole log (dbt's lines and the steps')" in lines
    # The run's log says where the alert went.
    mail_shown = f"mailto://127.0.0.1:{alert_receivers.mail.controller.port}/{MAIL_TO.replace('@', '%40')}"
    assert ("info", f"elt: alert sent to {mail_shown}, {alert_receivers.webhook.url}") in _log(built.warehouse, run_id)
