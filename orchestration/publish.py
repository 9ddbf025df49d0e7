"""Write-audit-publish: dbt builds and tests in build schemas, and only a build that passed is published.

    prepare_build   drop leftover build schemas (`<schema>__build`), then copy into them what the build
                    must start from: each published incremental model (so a delta file keeps earlier
                    lines), or, for a build of selected nodes, every published relation
    (dbt build)     with ELT_BUILD_SCHEMA_SUFFIX=__build every custom schema but audit/raw/snapshots gets
                    the suffix (macros/generate_schema_name.sql); tests run on the build schemas
    publish         in one transaction: Postgres renames each build schema to the published name (the
                    old one is renamed away and dropped); DuckDB, which cannot rename schemas or move
                    tables between them, replaces each published relation from its build copy and drops
                    the build schemas. Readers see the old set or the new one, never a mix.
    publish_artifacts  the build's manifest.json and run_results.json, with the build schemas renamed to
                    the published ones, where the API and the docs site read them

A build that fails is not published: its schemas stay for inspection until the next build drops them.
See docs/publishing.md.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import WarehouseError
from core.warehouse import Connection, Warehouse

SUFFIX_ENV = "ELT_BUILD_SCHEMA_SUFFIX"
BUILD_SUFFIX = "__build"
RETIRED_SUFFIX = "__retired"  # Postgres: the published schema's name while it is swapped out and dropped
NEVER_SUFFIXED = frozenset({"audit", "raw", "snapshots"})  # as in macros/generate_schema_name.sql
ARTIFACTS = ("manifest.json", "run_results.json")  # what publish_artifacts moves to the published folder
RELATIONAL = ("model", "seed", "snapshot")
POSTGRES_DEADLOCK_RETRIES = 3


@dataclass(frozen=True, order=True)
class Relation:
    """A table or view of the warehouse."""

    schema: str
    name: str
    kind: str  # "table", "view" or (Postgres) "materialized view"

    @property
    def sql_name(self) -> str:
        """`"schema"."name"`, quoted."""
        return f"{quote(self.schema)}.{quote(self.name)}"


@dataclass
class Prepared:
    """What prepare_build did."""

    dropped: list[str] = field(default_factory=list)  # leftover build schemas dropped
    copied: list[Relation] = field(default_factory=list)  # published relations copied into the build schemas
    seconds: float = 0.0


@dataclass
class Published:
    """What publish did."""

    schemas: list[str] = field(default_factory=list)  # published schema names that were replaced
    relations: int = 0  # relations the published schemas hold now
    dropped: int = 0  # published relations the build no longer has (dropped)
    seconds: float = 0.0


def build_schema(schema: str) -> str:
    """The build schema of a published schema: `marts` -> `marts__build`."""
    return f"{schema}{BUILD_SUFFIX}"


def published_schema(schema: str) -> str:
    """The published schema of a build schema (a published name is returned as it is)."""
    return schema[: -len(BUILD_SUFFIX)] if schema.endswith(BUILD_SUFFIX) else schema


def build_env() -> dict[str, str]:
    """The environment that makes dbt build into the build schemas."""
    return {SUFFIX_ENV: BUILD_SUFFIX}


def quote(identifier: str) -> str:
    """A quoted SQL identifier (both warehouses)."""
    return '"' + identifier.replace('"', '""') + '"'


# --- the manifest ------------------------------------------------------------------------------------------


def _suffixed(node: Mapping[str, Any]) -> str | None:
    """The published schema of a node whose schema the build suffixes (the macro's rule), else None."""
    custom = (node.get("config") or {}).get("schema")
    if node.get("resource_type") not in RELATIONAL or node.get("resource_type") == "snapshot" or not custom:
        return None
    custom = str(custom).strip()
    return None if custom.lower() in NEVER_SUFFIXED else custom


def managed_schemas(manifest: Mapping[str, Any]) -> list[str]:
    """The published schemas that builds write through build schemas: the custom schemas of the project's
    models and seeds, except audit, raw and snapshots (read from a manifest, parsed with or without the suffix)."""
    found = {schema for node in manifest.get("nodes", {}).values() if (schema := _suffixed(node))}
    return sorted(found)


def incremental_relations(manifest: Mapping[str, Any]) -> list[Relation]:
    """The published relation of each incremental model that is built through a build schema."""
    found = []
    for node in manifest.get("nodes", {}).values():
        schema = _suffixed(node)
        if schema and (node.get("config") or {}).get("materialized") == "incremental":
            found.append(Relation(schema, node.get("alias") or node["name"], "table"))
    return sorted(found, key=lambda r: (r.schema, r.name))


# --- SQL text: schema names inside view definitions ------------------------------------------------------------

_TOKENS = re.compile(
    r"""'(?:[^']|'')*'|"(?:[^"]|"")*"|--[^\n]*|/\*.*?\*/|[A-Za-z_][A-Za-z0-9_$]*|\s+|.""",
    re.S,
)


def _identifier(token: str) -> str | None:
    """The name a token spells if it is an identifier (quoted or bare, bare ones in lower case), else None."""
    if token.startswith('"') and len(token) >= 2:
        return token[1:-1].replace('""', '"')
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_$]*", token):
        return token.lower()
    return None


def _qualified_names(tokens: list[str]) -> Iterator[tuple[int, str, str]]:
    """(index of the schema token, schema, relation) for each `schema.relation` in the token list."""
    for i in range(len(tokens) - 2):
        if tokens[i + 1] != ".":
            continue
        schema, name = _identifier(tokens[i]), _identifier(tokens[i + 2])
        if schema is not None and name is not None:
            yield i, schema, name


def retarget(sql: str, schemas: Mapping[str, str], relations: Iterable[tuple[str, str]]) -> str:
    """`sql` with each reference `old.rel` to one of `relations` (as (old schema, rel)) spelled `new.rel`,
    where `schemas` maps old schema names to new ones.

    Strings, comments and quoted identifiers are tokens of their own, so a schema name inside a literal
    is left alone, and only qualified names of the known relations are touched (an alias that happens to
    share a schema's name is not).
    """
    known = {(schema.lower(), name.lower()) for schema, name in relations}
    lowered = {old.lower(): new for old, new in schemas.items()}
    tokens = _TOKENS.findall(sql)
    for i, schema, name in list(_qualified_names(tokens)):
        if schema.lower() in lowered and (schema.lower(), name.lower()) in known:
            tokens[i] = quote(lowered[schema.lower()])
    return "".join(tokens)


def references(sql: str, relations: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which of `relations` ((schema, name), lower case) the SQL refers to by qualified name."""
    known = {(schema.lower(), name.lower()) for schema, name in relations}
    return {(s.lower(), n.lower()) for _, s, n in _qualified_names(_TOKENS.findall(sql))} & known


def _in_dependency_order(views: dict[Relation, str]) -> list[Relation]:
    """Views ordered so that each comes after the views of the set it selects from (both warehouses bind a
    view's references when it is created)."""
    keys = {(v.schema.lower(), v.name.lower()): v for v in views}
    needs = {v: {keys[ref] for ref in references(sql, keys) if keys[ref] != v} for v, sql in views.items()}
    ordered: list[Relation] = []
    done: set[Relation] = set()
    while len(ordered) < len(views):
        ready = sorted((v for v in views if v not in done and needs[v] <= done), key=lambda r: (r.schema, r.name))
        if not ready:  # a cycle cannot be created in SQL; keep going rather than loop
            ready = sorted((v for v in views if v not in done), key=lambda r: (r.schema, r.name))[:1]
        ordered += ready
        done |= set(ready)
    return ordered


# --- the warehouse's catalog --------------------------------------------------------------------------------


def schemas_of(conn: Connection) -> set[str]:
    """The schemas of the warehouse (DuckDB: of the warehouse file's own catalog)."""
    if conn.target == "duckdb":
        rows = conn.execute(
            "select schema_name from information_schema.schemata where catalog_name = current_database()"
        )
    else:
        rows = conn.execute("select nspname from pg_namespace")
    return {name for (name,) in rows}


def build_schemas_of(conn: Connection) -> list[str]:
    """The build schemas that exist (every schema whose name ends in `__build`)."""
    return sorted(name for name in schemas_of(conn) if name.endswith(BUILD_SUFFIX) and name != BUILD_SUFFIX)


def relations_of(conn: Connection, schemas: Iterable[str]) -> list[Relation]:
    """The tables and views of these schemas."""
    wanted = sorted(set(schemas))
    if not wanted:
        return []
    marks = ", ".join("?" for _ in wanted)
    if conn.target == "duckdb":
        rows = conn.execute(
            "select table_schema, table_name, case when table_type = 'VIEW' then 'view' else 'table' end"
            f" from information_schema.tables where table_catalog = current_database() and table_schema in ({marks})",
            wanted,
        )
    else:
        rows = conn.execute(
            "select n.nspname, c.relname, case c.relkind when 'v' then 'view' when 'm' then 'materialized view'"
            " else 'table' end from pg_class c join pg_namespace n on n.oid = c.relnamespace"
            f" where n.nspname in ({marks}) and c.relkind in ('r', 'p', 'v', 'm')",
            wanted,
        )
    return sorted(Relation(*row) for row in rows)


def view_definitions(conn: Connection, views: Iterable[Relation]) -> dict[Relation, str]:
    """Each view's SQL: DuckDB's whole `CREATE VIEW` statement, Postgres's query (pg_get_viewdef)."""
    views = list(views)
    if not views:
        return {}
    if conn.target == "duckdb":
        found = {
            (schema, name): sql
            for schema, name, sql in conn.execute(
                "select schema_name, view_name, sql from duckdb_views()"
                " where database_name = current_database() and not internal"
            )
        }
    else:
        # With only pg_catalog on the search path every other relation is written schema-qualified.
        conn.execute("set local search_path to pg_catalog")
        found = {
            (schema, name): sql
            for schema, name, sql in conn.execute(
                "select n.nspname, c.relname, pg_get_viewdef(c.oid) from pg_class c"
                " join pg_namespace n on n.oid = c.relnamespace where c.relkind in ('v', 'm')"
            )
        }
    return {view: found[(view.schema, view.name)] for view in views}


def _create_view_sql(conn: Connection, view: Relation, definition: str) -> str:
    """A statement that (re)creates `view` from a definition already retargeted at the view's schemas."""
    if conn.target == "duckdb":  # DuckDB's definition is the whole CREATE VIEW statement, name included
        statement, count = re.subn(
            r"^\s*create\s+(or\s+replace\s+)?view\b", "create or replace view", definition, count=1, flags=re.I
        )
        if not count:
            raise PublishError(f"unexpected definition of view {view.sql_name}: {definition[:80]}")
        return statement.rstrip().rstrip(";")
    body = definition.rstrip().rstrip(";")
    if view.kind == "materialized view":
        return f"create materialized view {view.sql_name} as {body}"
    return f"create or replace view {view.sql_name} as {body}"


# --- prepare ------------------------------------------------------------------------------------------------


def drop_build_schemas(conn: Connection) -> list[str]:
    """Drop every build schema (a failed or killed build's leftovers); returns their names."""
    dropped = build_schemas_of(conn)
    for schema in dropped:
        conn.execute(f"drop schema if exists {quote(schema)} cascade")
    return dropped


def prepare_build(
    warehouse: Warehouse, manifest: Mapping[str, Any], copy_incremental: bool = True, copy_all: bool = False
) -> Prepared:
    """Make the build schemas ready for a build of the project described by `manifest` (a manifest.json).

    Leftover build schemas are dropped. Then each published incremental model is copied into its build
    schema, so that dbt merges the new lines into the published ones exactly as it would in place.
    `copy_all` (a build of selected nodes) copies every published relation of the managed schemas, so
    the build schemas hold a complete set to test and publish: views are recreated on the copies.
    copy_incremental=False (a full refresh rebuilds them anyway) copies no incremental model.
    """
    started = time.perf_counter()
    prepared = Prepared()
    with warehouse.lock(purpose="build"):
        conn = warehouse.connect()
        try:
            with conn.transaction():
                prepared.dropped = drop_build_schemas(conn)
                managed = managed_schemas(manifest)
                existing = {(r.schema, r.name): r for r in relations_of(conn, managed)}
                if copy_all:
                    wanted = list(existing.values())
                elif not copy_incremental:
                    wanted = []
                else:
                    found = [existing.get((r.schema, r.name)) for r in incremental_relations(manifest)]
                    wanted = [r for r in found if r is not None and r.kind == "table"]
                prepared.copied = _copy_into_build(conn, wanted, set(existing))
        finally:
            conn.close()
    prepared.seconds = time.perf_counter() - started
    return prepared


def _copy_into_build(conn: Connection, relations: list[Relation], published: set[tuple[str, str]]) -> list[Relation]:
    """Copy published relations into their build schemas: tables by value, views by definition."""
    for schema in sorted({r.schema for r in relations}):
        conn.execute(f"create schema if not exists {quote(build_schema(schema))}")
    for table in (r for r in relations if r.kind == "table"):
        conn.execute(
            f"create table {quote(build_schema(table.schema))}.{quote(table.name)} as select * from {table.sql_name}"
        )
    views = [r for r in relations if r.kind != "table"]
    definitions = view_definitions(conn, views)
    to_build = {schema: build_schema(schema) for schema, _ in published}
    for view in _in_dependency_order(definitions):
        target = Relation(build_schema(view.schema), view.name, view.kind)
        conn.execute(_create_view_sql(conn, target, retarget(definitions[view], to_build, published)))
    return relations


# --- publish ------------------------------------------------------------------------------------------------


class PublishError(WarehouseError):
    """The build cannot be published as it stands (nothing was published)."""


class IncompleteBuild(PublishError):
    """A build of selected nodes lost a table it started from: publishing it would lose that table."""


def publish(warehouse: Warehouse, expected: Iterable[Relation] = ()) -> Published:
    """Publish every build schema in one transaction (see the module's docstring); a no-op when there is none.

    Call it only for a build whose models and error-severity tests all passed. `expected`: the published
    relations a build of selected nodes started from (prepare_build's copies); each must be in the build
    schemas. A view dbt dropped on the way (rebuilding a table drops its dependent views, cascade, on
    Postgres) is recreated from its published definition; a missing table raises IncompleteBuild and
    nothing is published.
    """
    started = time.perf_counter()
    expected = list(expected)
    with warehouse.lock(purpose="publish"):
        conn = warehouse.connect()
        try:
            if warehouse.target == "duckdb":
                published = _publish_duckdb(conn, expected)
            else:
                published = _publish_postgres(conn, expected)
        finally:
            conn.close()
    published.seconds = time.perf_counter() - started
    return published


def _complete(conn: Connection, expected: list[Relation]) -> None:
    """Recreate in the build schemas the expected views the build lost; raise if it lost a table."""
    if not expected:
        return
    built = {(published_schema(r.schema), r.name) for r in relations_of(conn, build_schemas_of(conn))}
    missing = [r for r in expected if (r.schema, r.name) not in built]
    tables = [r.sql_name for r in missing if r.kind == "table"]
    if tables:
        raise IncompleteBuild(f"the build no longer has {', '.join(tables)}: not published")
    definitions = view_definitions(conn, missing)
    published = {(r.schema, r.name) for r in expected}
    to_build = {schema: build_schema(schema) for schema, _ in published}
    for view in _in_dependency_order(definitions):
        target = Relation(build_schema(view.schema), view.name, view.kind)
        conn.execute(_create_view_sql(conn, target, retarget(definitions[view], to_build, published)))


def _publish_postgres(conn: Connection, expected: list[Relation]) -> Published:
    """Rename each build schema to its published name (views follow: Postgres binds them by OID)."""
    import psycopg2

    for attempt in range(POSTGRES_DEADLOCK_RETRIES):
        try:
            with conn.transaction():
                _complete(conn, expected)
                builds = build_schemas_of(conn)
                existing = schemas_of(conn)
                published = Published([published_schema(s) for s in builds])
                for build, schema in zip(builds, published.schemas, strict=True):
                    retired = f"{schema}{RETIRED_SUFFIX}"
                    conn.execute(f"drop schema if exists {quote(retired)} cascade")
                    if schema in existing:
                        conn.execute(f"alter schema {quote(schema)} rename to {quote(retired)}")
                    conn.execute(f"alter schema {quote(build)} rename to {quote(schema)}")
                old = relations_of(conn, [f"{s}{RETIRED_SUFFIX}" for s in published.schemas])
                now = relations_of(conn, published.schemas)
                kept = {(r.schema, r.name) for r in now}
                gone = {(published_schema_of_retired(r.schema), r.name) for r in old} - kept
                for schema in published.schemas:
                    conn.execute(f"drop schema if exists {quote(schema + RETIRED_SUFFIX)} cascade")
                published.relations, published.dropped = len(now), len(gone)
            return published
        except psycopg2.errors.DeadlockDetected:  # a reader locked an old table meanwhile: try again
            if attempt == POSTGRES_DEADLOCK_RETRIES - 1:
                raise
            time.sleep(0.5 * (attempt + 1))
    raise AssertionError("unreachable")


def published_schema_of_retired(schema: str) -> str:
    """`marts__retired` -> `marts`."""
    return schema[: -len(RETIRED_SUFFIX)] if schema.endswith(RETIRED_SUFFIX) else schema


def _publish_duckdb(conn: Connection, expected: list[Relation]) -> Published:
    """Replace each published relation from its build copy, drop what the build no longer has, drop the
    build schemas: one transaction (DuckDB can neither rename a schema nor move a table to another)."""
    with conn.transaction():
        _complete(conn, expected)
        builds = build_schemas_of(conn)
        published = Published([published_schema(s) for s in builds])
        if not builds:
            return published
        to_published = dict(zip(builds, published.schemas, strict=True))
        built = relations_of(conn, builds)
        current = {(r.schema, r.name): r for r in relations_of(conn, published.schemas)}
        for schema in published.schemas:
            conn.execute(f"create schema if not exists {quote(schema)}")
        for table in (r for r in built if r.kind == "table"):
            target = Relation(to_published[table.schema], table.name, "table")
            if (old := current.get((target.schema, target.name))) and old.kind != "table":
                conn.execute(f"drop view {old.sql_name}")
            conn.execute(f"create or replace table {target.sql_name} as select * from {table.sql_name}")
        definitions = view_definitions(conn, (r for r in built if r.kind == "view"))
        names = [(r.schema, r.name) for r in built]
        for view in _in_dependency_order(definitions):
            target = Relation(to_published[view.schema], view.name, "view")
            if (old := current.get((target.schema, target.name))) and old.kind != "view":
                conn.execute(f"drop table {old.sql_name}")
            sql = retarget(definitions[view], to_published, names)
            if references(sql, names):
                raise PublishError(f"view {target.sql_name} still refers to a build schema after rewriting")
            conn.execute(_create_view_sql(conn, target, sql))
        kept = {(to_published[r.schema], r.name) for r in built}
        gone = [r for key, r in current.items() if key not in kept]
        for old in sorted(gone, key=lambda r: r.kind != "view"):  # views first: they may select from the tables
            conn.execute(f"drop {'view' if old.kind == 'view' else 'table'} if exists {old.sql_name}")
        for build in builds:
            conn.execute(f"drop schema {quote(build)} cascade")
        published.relations, published.dropped = len(built), len(gone)
    return published


# --- artifacts ----------------------------------------------------------------------------------------------


_BUILD_QUALIFIER = re.compile(r'"((?:[^"]|"")+)' + re.escape(BUILD_SUFFIX) + r'"\.')


def _renamed(value: Any) -> Any:
    """A JSON value with every build schema renamed to its published name: `schema` fields, and quoted
    qualifiers (`"marts__build".`) in strings such as relation names and compiled SQL."""
    if isinstance(value, dict):
        return {
            key: published_schema(item) if key == "schema" and isinstance(item, str) else _renamed(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_renamed(item) for item in value]
    if isinstance(value, str) and BUILD_SUFFIX in value:
        return _BUILD_QUALIFIER.sub(lambda m: f'"{m.group(1)}".', value)
    return value


def publish_artifacts(build_path: Path, published_path: Path) -> list[Path]:
    """Copy the build's manifest.json and run_results.json to the published artifacts folder, every build
    schema renamed to its published name; each file is replaced atomically, so a reader (the API, the docs
    site) never sees half of one. Returns the files written."""
    written = []
    published_path.mkdir(parents=True, exist_ok=True)
    for name in ARTIFACTS:
        source = build_path / name
        if not source.is_file():
            continue
        data = _renamed(json.loads(source.read_text(encoding="utf-8")))
        destination = published_path / name
        partial = destination.with_name(f".{name}.{os.getpid()}.tmp")
        partial.write_text(json.dumps(data), encoding="utf-8")
        os.replace(partial, destination)
        written.append(destination)
    return written
