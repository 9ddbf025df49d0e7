"""The API's settings, read from the environment once (SPEC section 2)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ingestion.errors import EltError
from ingestion.warehouse import Warehouse
from orchestration.dbt import target_path


class ConfigError(EltError):
    """The API cannot start with this configuration (exit code 2)."""

    exit_code = 2


@dataclass(frozen=True)
class Settings:
    """What the API serves and how it guards it."""

    api_key: str
    warehouse: Warehouse
    dbt_target_path: Path  # the target's manifest.json, run_results.json, catalog.json, docs site
    generated_key: bool = False  # True when --dev made the key up (it is printed once)
    pool_size: int = 8  # Postgres connections kept for requests
    statement_timeout_ms: int = 15_000  # a Postgres query of a request is cancelled after this
    stale_after_seconds: float = 36 * 3600  # a raw table whose last load is older is `stale` (daily loads)
    session_secret: str = ""  # ELT_API_SESSION_SECRET: mixed into the key signing login sessions (api.routes.session)
    session_seconds: int = 8 * 3600  # a login session ends this long after the login

    @classmethod
    def from_env(
        cls, target: str | None = None, dev: bool = False, environ: Mapping[str, str] | None = None
    ) -> Settings:
        """Settings from ELT_API_KEY, ELT_API_SESSION_SECRET, ELT_TARGET and the warehouse variables.

        Without ELT_API_KEY the API refuses to start, unless `dev` (then a random key is made up).
        """
        env = os.environ if environ is None else environ
        key = env.get("ELT_API_KEY", "")
        generated = False
        if not key:
            if not dev:
                raise ConfigError("ELT_API_KEY is not set: set it, or start with --dev for a random key")
            key, generated = secrets.token_urlsafe(24), True
        warehouse = Warehouse.from_env(target, environ=env)
        try:
            stale_hours = float(env.get("ELT_SOURCE_STALE_AFTER_HOURS") or 36)
        except ValueError:
            raise ConfigError("ELT_SOURCE_STALE_AFTER_HOURS must be a number of hours") from None
        return cls(
            api_key=key,
            warehouse=warehouse,
            dbt_target_path=target_path(warehouse),
            generated_key=generated,
            stale_after_seconds=stale_hours * 3600,
            session_secret=env.get("ELT_API_SESSION_SECRET", ""),
        )
