{#
  The post-hook of every report (models/reports/, set in dbt_project.yml). A report's key is the
  `meta.key` of its YAML config (`config: {meta: {key: [column, ...]}}`): the order of its rows in the
  CSVs and the API's pages. A report without one is an error, on every target.

  Postgres, tables only: an index on the key, so each page read in key order is an index scan, then
  ANALYZE, so the planner has the table's statistics at once (autovacuum comes a minute or more later).
  DuckDB sorts without an index: nothing runs there; nor on a view.

  The index has no name of its own: Postgres picks one that is free in the schema. While the hook runs,
  the table's previous version (renamed to <name>__dbt_backup until the commit) still holds its index in
  the same schema when dbt builds in place; under write-audit-publish the build schema is new, and the
  published schema is swapped whole with its indexes (orchestration/publish.py), so names never collide.
#}
{% macro report_post_hook() -%}
    {%- set key = (model.config.get('meta') or {}).get('key') -%}
    {%- if execute and not key -%}  {#- not while parsing: the YAML's config is applied after the SQL's -#}
        {{ exceptions.raise_compiler_error(
            "report " ~ model.name ~ " has no key: give it `config: {meta: {key: [column, ...]}}` in its YAML") }}
    {%- endif -%}
    {%- set columns = [key] if key is string else (key or []) -%}
    {%- if target.type == 'postgres' and model.config.materialized == 'table' -%}
        create index on {{ this }} (
            {%- for column in columns %}{{ adapter.quote(column) }}{{ ", " if not loop.last }}{% endfor -%}
        );
        analyze {{ this }}
    {%- endif -%}
{%- endmacro %}
