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
                    Spark (no transactions, no schema rename, no rename across schemas) copies each table
                    next to the published one as `<table>__publishing`, then swaps them by drop and rename,
                    then recreates the views; one process at a time opens a Spark warehouse, so no reader
                    sees the swap (see _publish_spark for what a crash in the middle leaves)
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
PUBLISHING_SUFFIX = "__publishing"  # Spark: a build table's copy in the published schema, before the swap
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
        """`"schema"."name"`, quoted (DuckDB, Postgres; for messages on every target)."""
        return f"{quote(self.schema)}.{quote(self.name)}"

    def quoted(self, target: str) -> str:
        """The qualified name quoted for `target`'s SQL: `"schema"."name"`, or on Spark `` `schema`.`name` ``."""
        return f"{quote(self.schema, target)}.{quote(self.name, target)}"


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


def quote(identifier: str, target: str = "duckdb") -> str:
    """A quoted SQL identifier: `"name"` (DuckDB, Postgres), or `` `name` `` on Spark, where `"name"` is a string."""
    if target == "spark":
        return "`" + identifier.replace("`", "``") + "`"
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

# DuckDB and Postgres: 'string' ('' inside), "identifier" ("" inside), comments, words, anything else.
_TOKENS = re.compile(
    r"""'(?:[^']|'')*'|"(?:[^"]|"")*"|--[^\n]*|/\*.*?\*/|[A-Za-z_][A-Za-z0-9_$]*|\s+|.""",
    re.S,
)
# Spark: 'string' and "string" (backslash escapes inside), `identifier` (`` inside), comments, words, anything else.
_SPARK_TOKENS = re.compile(
    r"""'(?:\\.|[^'\\])*'|"(?:\\.|[^"\\])*"|`(?:``|[^`])*`|--[^\n]*|/\*.*?\*/|[A-Za-z_][A-Za-z0-9_$]*|\s+|.""",
    re.S,
)


def _tokens(sql: str, target: str) -> list[str]:
    return (_SPARK_TOKENS if target == "spark" else _TOKENS).findall(sql)


def _identifier(token: str, target: str = "duckdb") -> str | None:
    """The name a token spells if it is an identifier (quoted or bare, bare ones in lower case), else None.
    On Spark a quoted identifier is in backticks (a double-quoted token is a string)."""
    if target == "spark":
        if token.startswith("`") and len(token) >= 2:
            return token[1:-1].replace("``", "`")
    elif token.startswith('"') and len(token) >= 2:
        return token[1:-1].replace('""', '"')
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_$]*", token):
        return token.lower()
    return None


def _qualified_names(tokens: list[str], target: str = "duckdb") -> Iterator[tuple[int, str, str]]:
    """(index of the schema token, schema, relation) for each `schema.relation` in the token list."""
    for i in range(len(tokens) - 2):
        if tokens[i + 1] != ".":
            continue
        schema, name = _identifier(tokens[i], target), _identifier(tokens[i + 2], target)
        if schema is not None and name is not None:
            yield i, schema, name


def retarget(sql: str, schemas: Mapping[str, str], relations: Iterable[tuple[str, str]], target: str = "duckdb") -> str:
    """`sql` with each reference `old.rel` to one of `relations` (as (old schema, rel)) spelled `new.rel`,
    where `schemas` maps old schema names to new ones; `target` is the SQL dialect (the new schema names
    are quoted as it quotes: backticks on Spark, double quotes on DuckDB and Postgres).

    Strings, comments and quoted identifiers are tokens of their own, so a schema name inside a literal
    is left alone, and only qualified names of the known relations are touched (an alias that happens to
    share a schema's name is not).
    """
    known = {(schema.lower(), name.lower()) for schema, name in relations}
    lowered = {old.lower(): new for old, new in schemas.items()}
    tokens = _tokens(sql, target)
    for i, schema, name in list(_qualified_names(tokens, target)):
        if schema.lower() in lowered and (schema.lower(), name.lower()) in known:
            tokens[i] = quote(lowered[schema.lower()], target)
    return "".join(tokens)


def references(sql: str, relations: Iterable[tuple[str, str]], target: str = "duckdb") -> set[tuple[str, str]]:
    """Which of `relations` ((schema, name), lower case) the SQL (of dialect `target`) refers to by qualified name."""
    known = {(schema.lower(), name.lower()) for schema, name in relations}
    return {(s.lower(), n.lower()) for _, s, n in _qualified_names(_tokens(sql, target), target)} & known


def _in_dependency_order(views: dict[Relation, str], target: str = "duckdb") -> list[Relation]:
    """Views ordered so that each comes after the views of the set it selects from (DuckDB and Postgres bind
    a view's references when it is created)."""
    keys = {(v.schema.lower(), v.name.lower()): v for v in views}
    needs = {v: {keys[ref] for ref in references(sql, keys, target) if keys[ref] != v} for v, sql in views.items()}
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
    """The schemas of the warehouse (DuckDB: of the warehouse file's own catalog; Spark: its databases)."""
    if conn.target == "spark":
        return {name for (name,) in conn.execute("show databases")}
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
    if conn.target == "spark":  # the catalog's listing: `show tables` lists views too
        from core import spark

        found = []
        for schema in wanted:
            views = spark.views(conn.raw, schema)
            found += [
                Relation(schema, name, "view" if name in views else "table") for name in spark.tables(conn.raw, schema)
            ]
        return sorted(found)
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
    """Each view's SQL: DuckDB's whole `CREATE VIEW` statement, Postgres's query (pg_get_viewdef), Spark's
    query as it was written (the `View Text` of `describe table extended`). KeyError for a view that does
    not exist (DuckDB, Postgres); Spark raises its AnalysisException."""
    views = list(views)
    if not views:
        return {}
    if conn.target == "spark":
        return {view: _spark_view_text(conn, view) for view in views}
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


def _spark_view_text(conn: Connection, view: Relation) -> str:
    """The query a Spark view was created with, as written (the text after `AS` of its CREATE VIEW)."""
    for name, value, _ in conn.execute(f"describe table extended {view.quoted('spark')}"):
        if name == "View Text":
            return value
    raise PublishError(f"no view text for {view.sql_name} in Spark's catalog")


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
    name = view.quoted(conn.target)
    if view.kind == "materialized view":
        return f"create materialized view {name} as {body}"
    return f"create or replace view {name} as {body}"


# --- prepare ------------------------------------------------------------------------------------------------


def drop_build_schemas(conn: Connection) -> list[str]:
    """Drop every build schema (a failed or killed build's leftovers); returns their names."""
    dropped = build_schemas_of(conn)
    for schema in dropped:
        conn.execute(f"drop schema if exists {quote(schema, conn.target)} cascade")
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
    Spark (no transactions) first finishes what an interrupted publish left (_finish_spark_publish); a
    crash here leaves build schemas, which the next build drops.
    """
    started = time.perf_counter()
    prepared = Prepared()
    with warehouse.lock(purpose="build"):
        conn = warehouse.connect()
        try:
            with conn.transaction():
                prepared.dropped = drop_build_schemas(conn)
                managed = managed_schemas(manifest)
                if conn.target == "spark":
                    _finish_spark_publish(conn, managed)
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
    dialect = conn.target
    using = " using parquet" if dialect == "spark" else ""
    for schema in sorted({r.schema for r in relations}):
        conn.execute(f"create schema if not exists {quote(build_schema(schema), dialect)}")
    for table in (r for r in relations if r.kind == "table"):
        copy = Relation(build_schema(table.schema), table.name, "table")
        conn.execute(f"create table {copy.quoted(dialect)}{using} as select * from {table.quoted(dialect)}")
    views = [r for r in relations if r.kind != "table"]
    definitions = view_definitions(conn, views)
    to_build = {schema: build_schema(schema) for schema, _ in published}
    for view in _in_dependency_order(definitions, dialect):
        target = Relation(build_schema(view.schema), view.name, view.kind)
        conn.execute(_create_view_sql(conn, target, retarget(definitions[view], to_build, published, dialect)))
    return relations


def _finish_spark_publish(conn: Connection, schemas: Iterable[str]) -> list[Relation]:
    """Tidy what a Spark publish that was interrupted (a crash between its statements) left in the published
    `schemas`: a `<t>__publishing` copy whose `<t>` is gone (dropped for the swap, not renamed yet) becomes
    `<t>`; any other `__publishing` copy is dropped. Returns the copies found."""
    found = relations_of(conn, schemas)
    names = {(r.schema, r.name) for r in found}
    leftovers = [r for r in found if _is_copy(r)]
    for copy in leftovers:
        final = Relation(copy.schema, copy.name[: -len(PUBLISHING_SUFFIX)], "table")
        if (final.schema, final.name) in names:
            conn.execute(f"drop table if exists {copy.quoted('spark')}")
        else:
            conn.execute(f"alter table {copy.quoted('spark')} rename to {final.quoted('spark')}")
    return leftovers


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
            elif warehouse.target == "spark":
                published = _publish_spark(conn, expected)
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
    for view in _in_dependency_order(definitions, conn.target):
        target = Relation(build_schema(view.schema), view.name, view.kind)
        conn.execute(_create_view_sql(conn, target, retarget(definitions[view], to_build, published, conn.target)))


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


def _publish_spark(conn: Connection, expected: list[Relation]) -> Published:
    """Publish on Spark, which has no transactions, no schema rename and no table rename across schemas:

    1. copy each table of the build next to its published name (`create table marts.t__publishing using
       parquet as select * from marts__build.t`);
    2. swap: drop each published `t` and rename `t__publishing` to `t`;
    3. recreate each view from its build definition, retargeted at the published schemas (a Spark view
       refers to its tables by name, so the views would otherwise keep reading the build schemas);
    4. drop the published relations the build no longer has, then the build schemas.

    No reader sees the steps: one process at a time opens a Spark warehouse, and this one holds its lock.
    A crash during step 1 leaves the published set as it was, plus `__publishing` copies; during steps 2-4,
    a set of which some tables (and views) are new and some old, and at most one table only as its
    `__publishing` copy. The build schemas stay until the next build, whose prepare_build renames such a
    copy into place and drops the others (_finish_spark_publish); its publish then replaces every relation.
    """
    _complete(conn, expected)
    builds = build_schemas_of(conn)
    published = Published([published_schema(s) for s in builds])
    if not builds:
        return published
    to_published = dict(zip(builds, published.schemas, strict=True))
    built = relations_of(conn, builds)
    current = {(r.schema, r.name): r for r in relations_of(conn, published.schemas)}
    for schema in published.schemas:
        conn.execute(f"create schema if not exists {quote(schema, 'spark')}")
    tables = [r for r in built if r.kind == "table"]
    for table in tables:
        copy = Relation(to_published[table.schema], table.name + PUBLISHING_SUFFIX, "table")
        conn.execute(f"drop table if exists {copy.quoted('spark')}")
        conn.execute(f"create table {copy.quoted('spark')} using parquet as select * from {table.quoted('spark')}")
    for table in tables:
        target = Relation(to_published[table.schema], table.name, "table")
        if old := current.get((target.schema, target.name)):
            conn.execute(f"drop {'view' if old.kind == 'view' else 'table'} if exists {old.quoted('spark')}")
        copy = Relation(target.schema, target.name + PUBLISHING_SUFFIX, "table")
        conn.execute(f"alter table {copy.quoted('spark')} rename to {target.quoted('spark')}")
    definitions = view_definitions(conn, (r for r in built if r.kind == "view"))
    names = [(r.schema, r.name) for r in built]
    for view in _in_dependency_order(definitions, "spark"):
        target = Relation(to_published[view.schema], view.name, "view")
        if (old := current.get((target.schema, target.name))) and old.kind != "view":
            conn.execute(f"drop table if exists {old.quoted('spark')}")
        sql = retarget(definitions[view], to_published, names, "spark")
        if references(sql, names, "spark"):
            raise PublishError(f"view {target.sql_name} still refers to a build schema after rewriting")
        conn.execute(_create_view_sql(conn, target, sql))
    kept = {(to_published[r.schema], r.name) for r in built}
    gone = [r for key, r in current.items() if key not in kept]
    for old in sorted(gone, key=lambda r: r.kind != "view"):
        conn.execute(f"drop {'view' if old.kind == 'view' else 'table'} if exists {old.quoted('spark')}")
    for build in builds:
        conn.execute(f"drop schema {quote(build, 'spark')} cascade")
    published.relations, published.dropped = len(built), len([r for r in gone if not _is_copy(r)])
    return published


def _is_copy(relation: Relation) -> bool:
    """A `<t>__publishing` copy an interrupted Spark publish left."""
    return relation.kind == "table" and relation.name.endswith(PUBLISHING_SUFFIX)


# --- artifacts ----------------------------------------------------------------------------------------------


# A build schema qualifying a name: `"marts__build".` (DuckDB, Postgres), `` `marts__build`. `` or a bare
# `marts__build.` (dbt-spark quotes no relation name), never inside a word or a quoted name.
_BUILD_QUALIFIER = re.compile(
    r'"((?:[^"]|"")+)' + re.escape(BUILD_SUFFIX) + r'"\.'
    r"|`((?:[^`]|``)+)" + re.escape(BUILD_SUFFIX) + r"`\."
    r"|(?<![\w$\"`'./])([A-Za-z_][A-Za-z0-9_$]*?)" + re.escape(BUILD_SUFFIX) + r"\.(?=[A-Za-z_`])"
)


def _published_qualifier(match: re.Match) -> str:
    quoted, backticked, bare = match.groups()
    if quoted is not None:
        return f'"{quoted}".'
    if backticked is not None:
        return f"`{backticked}`."
    return f"{bare}."


def _renamed(value: Any) -> Any:
    """A JSON value with every build schema renamed to its published name: `schema` fields, and qualifiers
    (`"marts__build".`, `` `marts__build`. ``, bare `marts__build.` as dbt-spark writes them) in strings such
    as relation names and compiled SQL."""
    if isinstance(value, dict):
        return {
            key: published_schema(item) if key == "schema" and isinstance(item, str) else _renamed(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_renamed(item) for item in value]
    if isinstance(value, str) and BUILD_SUFFIX in value:
        return _BUILD_QUALIFIER.sub(_published_qualifier, value)
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
