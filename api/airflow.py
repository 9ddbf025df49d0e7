"""The API's client of Airflow's REST API (Airflow 3, `/api/v2`): trigger `elt_pipeline` for a run id the API
chose, and ask how that DAG run is doing.

Airflow 3's API server hands out JWTs: `POST {ELT_AIRFLOW_URL}/auth/token` with the user's name and password
(the simple auth manager of `airflow standalone` and of the compose file; other auth managers that issue
tokens there work alike) answers `{"access_token": ...}`, sent as `Authorization: Bearer ...` afterwards.
The token is kept and fetched anew when Airflow answers 401 (it expired).

The DAG run gets the API's run id twice: as its `dag_run_id` (`api__<run id>`), so the API finds it again
without keeping anything (an API restart loses nothing), and in its `conf` (`{"run_id": ...}`), from which
the DAG's tasks take the id they record the run under in audit.runs (orchestration/airflow_tasks.run_id_of).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx

from core.errors import EltError
from core.settings import Settings

DAG_ID = "elt_pipeline"
DAG_RUN_PREFIX = "api__"  # the Airflow run id of a run triggered here: api__<the API's run id>
TIMEOUT = httpx.Timeout(15.0, connect=5.0)  # seconds per request to Airflow
# A run id `POST /runs` chose (core.audit.new_id): only such ids can be DAG runs triggered here.
API_RUN_ID = re.compile(r"\d{8}T\d{6}\.\d{6}Z-[0-9a-f]{6}")


class AirflowError(EltError):
    """Airflow cannot trigger or report a run: not configured, unreachable, or it refused."""


class AirflowNotConfigured(AirflowError):
    """ELT_AIRFLOW_URL, ELT_AIRFLOW_USERNAME or ELT_AIRFLOW_PASSWORD is not set (the message names which)."""


class AirflowUnreachable(AirflowError):
    """No answer from Airflow at ELT_AIRFLOW_URL (refused connection, unknown host, timeout)."""


class AirflowRefused(AirflowError):
    """Airflow answered with an error: the credentials refused, no DAG elt_pipeline, an internal error."""


class DagPaused(AirflowError):
    """elt_pipeline is paused in Airflow: a run triggered now would wait, queued, until it is unpaused."""


@dataclass(frozen=True)
class DagRunState:
    """A DAG run of elt_pipeline as Airflow reports it."""

    dag_run_id: str
    state: str  # queued, running, success or failed
    queued_at: datetime | None
    start_date: datetime | None  # None while queued
    end_date: datetime | None  # None until it ended

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> DagRunState:
        """From Airflow's DAGRunResponse (`dag_run_id`, `state`, ISO 8601 times or null)."""

        def when(key: str) -> datetime | None:
            value = body.get(key)
            return datetime.fromisoformat(value) if value else None

        return cls(body["dag_run_id"], body["state"], when("queued_at"), when("start_date"), when("end_date"))


def dag_run_id(run_id: str) -> str:
    """The Airflow run id of the run `run_id` triggered through the API."""
    return f"{DAG_RUN_PREFIX}{run_id}"


def missing_settings(settings: Settings) -> list[str]:
    """The settings triggering through Airflow needs that are empty, by variable name ([] when it can)."""
    needed = {
        "ELT_AIRFLOW_URL (or ELT_AIRFLOW_API_URL)": settings.airflow_api_url or settings.airflow_url,
        "ELT_AIRFLOW_USERNAME": settings.airflow_username,
        "ELT_AIRFLOW_PASSWORD": settings.airflow_password,
    }
    return [name for name, value in needed.items() if not value]


class AirflowClient:
    """Airflow's REST API at one URL, as one user. Safe to share between threads (one token, locked)."""

    def __init__(self, url: str, username: str, password: str, timeout: httpx.Timeout = TIMEOUT):
        self.url = url.rstrip("/")
        self.username = username
        self._password = password
        self._timeout = timeout
        self._token: str | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> AirflowClient:
        """The client of ELT_AIRFLOW_API_URL (else ELT_AIRFLOW_URL) as ELT_AIRFLOW_USERNAME; AirflowNotConfigured
        naming what is unset."""
        missing = missing_settings(settings)
        if missing:
            raise AirflowNotConfigured(
                f"triggering through Airflow needs ELT_AIRFLOW_URL, ELT_AIRFLOW_USERNAME and ELT_AIRFLOW_PASSWORD:"
                f" {', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set"
            )
        url = settings.airflow_api_url or settings.airflow_url
        return cls(url, settings.airflow_username, settings.airflow_password)

    def trigger(self, run_id: str) -> DagRunState:
        """Trigger elt_pipeline as DAG run `api__<run_id>` with conf `{"run_id": run_id}`: its state (queued).

        Raises DagPaused when the DAG is paused (the run would never start), AirflowRefused when Airflow has no
        such DAG or refuses, AirflowUnreachable when it does not answer."""
        dag = self._json("GET", f"/api/v2/dags/{DAG_ID}", missing=f"Airflow at {self.url} has no DAG {DAG_ID}")
        if dag.get("is_paused"):
            raise DagPaused(
                f"{DAG_ID} is paused in Airflow at {self.url}: unpause it (the toggle in the UI, or"
                f" `airflow dags unpause {DAG_ID}`), then trigger again"
            )
        body = {
            "dag_run_id": dag_run_id(run_id),
            "logical_date": None,
            "conf": {"run_id": run_id},
            "note": "triggered by POST /runs of the elt API",
        }
        run = self._json("POST", f"/api/v2/dags/{DAG_ID}/dagRuns", body=body)
        return DagRunState.from_json(run)

    def dag_run(self, run_id: str) -> DagRunState | None:
        """The DAG run triggered for `run_id`, None when Airflow has none (AirflowUnreachable/Refused)."""
        path = f"/api/v2/dags/{DAG_ID}/dagRuns/{quote(dag_run_id(run_id), safe='')}"
        response = self._request("GET", path)
        if response.status_code == 404:
            return None
        return DagRunState.from_json(self._checked(response))

    def _json(self, method: str, path: str, body: dict | None = None, missing: str | None = None) -> dict[str, Any]:
        response = self._request(method, path, body)
        if response.status_code == 404 and missing:
            raise AirflowRefused(f"{missing} (is its DAGs folder this project's orchestration/dags?)")
        return self._checked(response)

    def _checked(self, response: httpx.Response) -> dict[str, Any]:
        if response.status_code in (401, 403):
            raise AirflowRefused(
                f"Airflow at {self.url} refused user {self.username!r} ({response.status_code}): {_detail(response)}"
            )
        if response.is_error:
            raise AirflowRefused(
                f"Airflow at {self.url} answered {response.status_code} to {response.request.method}"
                f" {response.request.url.path}: {_detail(response)}"
            )
        return response.json()

    def _request(self, method: str, path: str, body: dict | None = None) -> httpx.Response:
        """One request with the token (fetched first if none, and once more if Airflow says it expired)."""
        token = self._current_token()
        response = self._send(method, path, body, token)
        if response.status_code == 401:
            response = self._send(method, path, body, self._current_token(stale=token))
        return response

    def _send(self, method: str, path: str, body: dict | None, token: str) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        try:
            with httpx.Client(base_url=self.url, timeout=self._timeout) as http:
                return http.request(method, path, json=body, headers=headers)
        except httpx.HTTPError as exc:
            raise AirflowUnreachable(f"Airflow at {self.url} cannot be reached: {_reason(exc)}") from None

    def _current_token(self, stale: str | None = None) -> str:
        """The kept token, or a new one when there is none or it is `stale` (Airflow refused it)."""
        with self._lock:
            if self._token is None or self._token == stale:
                self._token = self._login()
            return self._token

    def _login(self) -> str:
        credentials = {"username": self.username, "password": self._password}
        try:
            with httpx.Client(base_url=self.url, timeout=self._timeout) as http:
                response = http.post("/auth/token", json=credentials)
        except httpx.HTTPError as exc:
            raise AirflowUnreachable(f"Airflow at {self.url} cannot be reached: {_reason(exc)}") from None
        if response.status_code in (400, 401, 403):
            raise AirflowRefused(
                f"Airflow at {self.url} refused the login of user {self.username!r}"
                f" (ELT_AIRFLOW_USERNAME, ELT_AIRFLOW_PASSWORD): {_detail(response)}"
            )
        token = self._checked(response).get("access_token")
        if not isinstance(token, str) or not token:
            raise AirflowRefused(f"Airflow at {self.url} answered POST /auth/token without an access_token")
        return token


def _detail(response: httpx.Response) -> str:
    """Airflow's error message (`detail` of its JSON error body), else the start of the body."""
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        detail = None
    text = detail if isinstance(detail, str) else (str(detail) if detail else response.text)
    return " ".join(text.split())[:300] or response.reason_phrase


def _reason(exc: httpx.HTTPError) -> str:
    return str(exc).strip() or type(exc).__name__
