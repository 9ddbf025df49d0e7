"""The API's configuration: the project's Settings (core/settings.py) plus what the API decides at its start."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from core.dbt_project import target_path
from core.errors import ConfigError
from core.settings import Settings
from core.warehouse import Warehouse

__all__ = ["ApiConfig", "ConfigError"]


@dataclass(frozen=True)
class ApiConfig:
    """What the API serves and how it guards it."""

    api_key: str
    warehouse: Warehouse
    dbt_target_path: Path  # the target's manifest.json, run_results.json, catalog.json, docs site
    generated_key: bool = False  # True when --dev made the key up (it is printed once)
    pool_size: int = 8  # Postgres connections kept for requests
    statement_timeout_ms: int = 15_000  # a Postgres query of a request is cancelled after this
    session_seconds: int = 8 * 3600  # a login session ends this long after the login

    @property
    def settings(self) -> Settings:
        """The project's settings this API was made from (ELT_API_SESSION_SECRET, folders, ...)."""
        return self.warehouse.settings

    @property
    def session_secret(self) -> str:
        """ELT_API_SESSION_SECRET: mixed into the key that signs login sessions (api.routes.session)."""
        return self.settings.api_session_secret

    @property
    def airflow_url(self) -> str:
        """ELT_AIRFLOW_URL: the Airflow UI the dashboard links to (empty: no link)."""
        return self.settings.airflow_url

    @classmethod
    def from_env(
        cls, target: str | None = None, dev: bool = False, environ: Mapping[str, str] | None = None
    ) -> ApiConfig:
        """The configuration of `Settings.from_env(environ)`; `target` overrides ELT_TARGET.

        Without ELT_API_KEY the API refuses to start (ConfigError, exit code 2), unless `dev` (then a random
        key is made up).
        """
        return cls.from_settings(Settings.from_env(environ, target=target), dev=dev)

    @classmethod
    def from_settings(cls, settings: Settings, dev: bool = False) -> ApiConfig:
        """The configuration of these settings; without an API key: ConfigError, unless `dev` (a random key).
        ConfigError too on the Spark target: its embedded catalog admits one process at a time, which the
        runs it would serve need (docs/scaling-out.md)."""
        if settings.target == "spark":
            raise ConfigError(
                "the API serves DuckDB and Postgres warehouses; a local Spark warehouse's catalog admits one process"
                " at a time (docs/scaling-out.md)"
            )
        key, generated = settings.api_key, False
        if not key:
            if not dev:
                raise ConfigError("ELT_API_KEY is not set: set it, or start with --dev for a random key")
            key, generated = secrets.token_urlsafe(24), True
        warehouse = Warehouse.from_settings(settings)
        return cls(key, warehouse, target_path(warehouse), generated_key=generated)
