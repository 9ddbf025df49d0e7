"""Every setting of the project in one object, read from the environment (pydantic-settings).

`Settings.from_env()` reads the process environment once; the `elt` command, the API and the Airflow DAG
each read it at their start and hand the object (or the `Warehouse` made from it) down. dbt reads its own
connection variables through `env_var()` in dbt_project/profiles.yml (`Warehouse.dbt_env()` sets them).

An empty variable counts as unset. A value of the wrong kind raises ConfigError (exit code 2) naming the
variable: `error: PGPORT must be an integer, got 'x'`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict
from pydantic_settings.sources.utils import parse_env_vars

from core.errors import ConfigError

Target = Literal["duckdb", "postgres", "spark"]
# Every warehouse the project builds on. Spark (dbt-spark's session mode: the `spark` extra and Java) is the
# scale-out target: one process at a time, no API or dashboard on it (docs/scaling-out.md).
TARGETS: tuple[Target, ...] = ("duckdb", "postgres", "spark")
# The dbt project shipped with the code (ELT_DBT_PROJECT_DIR points elsewhere, e.g. a test's copy).
SHIPPED_DBT_PROJECT = Path(__file__).resolve().parents[1] / "dbt_project"


# The environment `Settings.from_env(environ)` reads instead of the process's (None: the process's).
_ENVIRON: ContextVar[Mapping[str, str] | None] = ContextVar("_ENVIRON", default=None)


class _MappingSource(EnvSettingsSource):
    """pydantic-settings' environment source over a given mapping instead of os.environ."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]):
        self._environ = environ
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(self._environ, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str)


def _var(name: str, **kwargs) -> object:
    """A field read from the environment variable `name` (also settable by that name in Python)."""
    return Field(validation_alias=name, **kwargs)


class Settings(BaseSettings):
    """The project's settings; each field names its environment variable. Times are in seconds."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore", env_ignore_empty=True, populate_by_name=True)

    # The warehouse (core.warehouse.Warehouse)
    target: Target = _var("ELT_TARGET", default="duckdb")
    duckdb_path: Path = _var("ELT_DUCKDB_PATH", default=Path("warehouse/warehouse.duckdb"))
    # DuckDB's memory for its data (its `memory_limit`; beyond it, it spills to disk), for `elt` and for dbt.
    # DuckDB's own default is 80% of RAM, which a large build takes; 2GB keeps `elt run` at scale 100 in 4 GB.
    duckdb_memory_limit: str = _var("ELT_DUCKDB_MEMORY_LIMIT", default="2GB")
    pghost: str = _var("PGHOST", default="127.0.0.1")
    pgport: int = _var("PGPORT", default=5432)
    pguser: str = _var("PGUSER", default="postgres")
    pgpassword: str = _var("PGPASSWORD", default="")
    pgdatabase: str = _var("PGDATABASE", default="warehouse")
    # Spark (core/spark.py): the folder of its tables (warehouse/), Hive catalog (metastore_db/) and lock; the
    # driver's memory (a JVM size such as 2g, fixed when the session starts).
    spark_dir: Path = _var("ELT_SPARK_DIR", default=Path("warehouse/spark"))
    spark_memory: str = _var("ELT_SPARK_MEMORY", default="2g")
    lock_timeout: float = _var("ELT_LOCK_TIMEOUT", default=600.0)  # seconds a load or build waits for the lock
    # `elt run` parses the dbt project for the build in a second process while it loads, when the build folder
    # has no partial-parse state yet (orchestration/dbt.py ParseAhead); false: never.
    parse_ahead: bool = _var("ELT_PARSE_AHEAD", default=True)

    # Files and folders
    data_dir: Path = _var("ELT_DATA_DIR", default=Path("data/sample"))  # the five CSV files
    reports_dir: Path = _var("ELT_REPORTS_DIR", default=Path("data/reports"))  # report CSVs
    data_docs_dir: Path = _var("ELT_DATA_DOCS_DIR", default=Path("data_docs"))  # GX Data Docs, per target
    dbt_project_dir: Path = _var("ELT_DBT_PROJECT_DIR", default=SHIPPED_DBT_PROJECT)
    dbt_target_root: Path | None = _var("ELT_DBT_TARGET_ROOT", default=None)  # None: <dbt project>/target

    # The API (api/)
    api_key: str = _var("ELT_API_KEY", default="")
    api_session_secret: str = _var("ELT_API_SESSION_SECRET", default="")

    # Airflow (orchestration/dags/elt_pipeline.py)
    cosmos_mode: Literal["watcher", "local"] = _var("ELT_COSMOS_MODE", default="watcher")
    airflow_retries: int = _var("ELT_AIRFLOW_RETRIES", default=2, ge=0)
    airflow_url: str = _var("ELT_AIRFLOW_URL", default="")  # the Airflow UI the dashboard links to (empty: none)
    # The API triggers `elt_pipeline` through Airflow's REST API at ELT_AIRFLOW_API_URL (empty: ELT_AIRFLOW_URL)
    # as this user (empty: it cannot). In compose the API reaches Airflow by its service name, not localhost.
    airflow_api_url: str = _var("ELT_AIRFLOW_API_URL", default="")
    airflow_username: str = _var("ELT_AIRFLOW_USERNAME", default="")
    airflow_password: str = _var("ELT_AIRFLOW_PASSWORD", default="")
    airflow_task_timeout: float = _var("ELT_AIRFLOW_TASK_TIMEOUT", default=7200.0, gt=0)  # seconds, every DAG task

    # Alerts (orchestration/notify.py): Apprise URLs, whitespace- or comma-separated, e.g.
    # `mailto://user:pass@smtp.example.com:587?to=team@example.com json://hooks.example.com/elt` (empty: off)
    notify_urls: str = _var("ELT_NOTIFY_URLS", default="")
    notify_on: Literal["failure", "always"] = _var("ELT_NOTIFY_ON", default="failure")  # always: good runs too

    # Lineage (orchestration/lineage.py): OpenLineage events of each load and dbt node, as JSON lines in
    # ELT_LINEAGE_DIR (per target); to an HTTP endpoint (e.g. Marquez) too when OPENLINEAGE_URL is set.
    lineage_dir: Path = _var("ELT_LINEAGE_DIR", default=Path("lineage"))
    openlineage_url: str = _var("OPENLINEAGE_URL", default="")
    openlineage_namespace: str = _var("OPENLINEAGE_NAMESPACE", default="retail_elt")  # the jobs' namespace

    @field_validator("target", "cosmos_mode", "notify_on", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @field_validator("duckdb_memory_limit")
    @classmethod
    def _size(cls, value: str) -> str:
        """A size as DuckDB takes it: `2GB`, `512MB`, `1.5GiB` (it goes into SQL, so nothing else)."""
        if not re.fullmatch(r"[0-9]+(\.[0-9]+)? ?[KMGT]i?B", value.strip(), re.IGNORECASE):
            raise ValueError("a size such as 2GB or 512MB")
        return value.strip()

    @field_validator("spark_memory")
    @classmethod
    def _jvm_size(cls, value: str) -> str:
        """A JVM memory size: `2g`, `512m` (it goes onto the Java command line, so nothing else)."""
        if not re.fullmatch(r"[0-9]+[kmgt]", value.strip(), re.IGNORECASE):
            raise ValueError("a JVM size such as 2g or 512m")
        return value.strip().lower()

    @field_validator("airflow_url", "airflow_api_url", "openlineage_url")
    @classmethod
    def _web_url(cls, value: str) -> str:
        """An http(s) URL or empty: it becomes a link on the dashboard (no `javascript:` or other scheme)."""
        if value and not value.lower().startswith(("http://", "https://")):
            raise ValueError("an http:// or https:// URL")
        return value

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """The settings of `environ` (default: the process environment), then `overrides` by field name
        (a None override is ignored: `target=args.target`). Raises ConfigError naming the variable."""
        chosen = {name: value for name, value in overrides.items() if value is not None}
        token = _ENVIRON.set(environ)
        try:
            return cls(**chosen)
        except ValidationError as exc:
            raise ConfigError(_first_problem(exc)) from None
        finally:
            _ENVIRON.reset(token)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Overrides, then the environment (the process's, or the mapping given to `from_env`); no .env file."""
        environ = _ENVIRON.get()
        return (init_settings, env_settings if environ is None else _MappingSource(settings_cls, environ))

    @property
    def target_root(self) -> Path:
        """The folder of the per-target dbt artifact folders (ELT_DBT_TARGET_ROOT or <dbt project>/target)."""
        return self.dbt_target_root or self.dbt_project_dir / "target"


def _first_problem(exc: ValidationError) -> str:
    """`PGPORT must be an integer, got 'x'`: the first error, named by its variable."""
    error = exc.errors()[0]
    where = str(error["loc"][0]) if error["loc"] else "settings"
    field = Settings.model_fields.get(where)
    name = field.validation_alias if field is not None and isinstance(field.validation_alias, str) else where
    message = error["msg"].removeprefix("Input should be ").removeprefix("Value error, ")
    return f"{name} must be {message}, got {error.get('input')!r}"
