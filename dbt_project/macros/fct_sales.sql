{#
  How fct_sales (models/marts/fct_sales.sql) builds incrementally on each target.

  DuckDB and Postgres (strategy `merge`, dbt_project.yml): the model selects the lines of the latest Sales
  file that are new or changed (by line_hash); dbt merges them on (order_number, line_item); four
  post-hook deletes then remove the lines that must not stay (fct_sales_removed).

  Spark (strategy `insert_overwrite`): its parquet tables take neither MERGE nor DELETE (those need Delta
  or Iceberg, which this project does not ship), and a query that reads the table it overwrites fails
  (UNSUPPORTED_OVERWRITE.TABLE). So a pre-hook copies the table to `fct_sales__prev`, the model selects
  the whole new table from that copy (new and changed lines, the previous lines they do not replace,
  then the four deletes as filters), dbt overwrites the table with it, and a post-hook drops the copy.
  No partitions: the table is one partition; a dynamic partition overwrite would never empty a partition
  whose lines all went away, and a partition column would be a column the other targets do not have.
#}

{# The copy of the previous fct_sales on Spark (same schema, `<name>__prev`). #}
{% macro fct_sales_previous_relation() -%}
    {{ return(this.incorporate(path={"identifier": this.identifier ~ '__prev'})) }}
{%- endmacro %}


{#
  True for a line of `line` (an alias of fct_sales rows) that an incremental build must remove:
    rejected           the latest Sales file has the line but rejects it (orphan, bad quantity, ...), so a
                       rejected line is never also a fact
    orphan_customer    its customer is no longer in dim_customers
    orphan_product     its product is no longer in dim_products
    orphan_store       its store is no longer in dim_stores
#}
{% macro fct_sales_removed(reason, line) -%}
    {%- if reason == 'rejected' -%}
    exists (
        select 1 from {{ ref('int_sales_classified') }} as latest
        where latest.order_number = {{ line }}.order_number and latest.line_item = {{ line }}.line_item
    )
    and not exists (
        select 1 from {{ ref('int_sales_deduplicated') }} as clean
        where clean.order_number = {{ line }}.order_number and clean.line_item = {{ line }}.line_item
    )
    {%- elif reason == 'orphan_customer' -%}
    not exists (select 1 from {{ ref('dim_customers') }} as d where d.customer_key = {{ line }}.customer_key)
    {%- elif reason == 'orphan_product' -%}
    not exists (select 1 from {{ ref('dim_products') }} as d where d.product_key = {{ line }}.product_key)
    {%- elif reason == 'orphan_store' -%}
    not exists (select 1 from {{ ref('dim_stores') }} as d where d.store_key = {{ line }}.store_key)
    {%- else -%}
    {{ exceptions.raise_compiler_error("fct_sales_removed: unknown reason " ~ reason) }}
    {%- endif -%}
{%- endmacro %}

{#
  Post-hook: delete the lines removed for `reason` after an incremental merge. One delete per reason: each
  (NOT) EXISTS then stands alone in its WHERE, which Postgres plans as a hash semi- or anti-join; joined by
  OR in one statement, they were correlated subqueries run once per fact line (quadratic: a changed-file
  run at scale 10 spent over 11 minutes in that one delete). Spark: nothing (the model filters instead).
#}
{% macro fct_sales_prune(reason) -%}
    {{ adapter.dispatch('fct_sales_prune', 'retail_elt')(reason) }}
{%- endmacro %}

{% macro default__fct_sales_prune(reason) -%}
    {%- if is_incremental() -%}
    delete from {{ this }} as target
    where {{ fct_sales_removed(reason, 'target') }}
    {%- endif -%}
{%- endmacro %}

{% macro spark__fct_sales_prune(reason) -%}
    {%- if fct_sales_merges() -%}{{ default__fct_sales_prune(reason) }}{%- endif -%}
{%- endmacro %}


{#
  True when fct_sales is merged (its strategy in dbt_project.yml): always on DuckDB and Postgres; on Spark
  only with a table format that merges (Delta on a cluster: `+incremental_strategy: merge`,
  `+file_format: delta`), where the steps of the merge path then apply as on the other targets.
#}
{% macro fct_sales_merges() -%}
    {{ return(config.get('incremental_strategy', 'merge') == 'merge') }}
{%- endmacro %}


{#
  Hooks of the previous table's copy on Spark (nothing elsewhere): `drop` (before the copy, and after the
  build, so the copy is never published) and `copy` (a parquet copy of fct_sales before an incremental
  build, about 1.5 s for 63k lines).
#}
{% macro fct_sales_previous(step) -%}
    {{ adapter.dispatch('fct_sales_previous', 'retail_elt')(step) }}
{%- endmacro %}

{% macro default__fct_sales_previous(step) -%}{%- endmacro %}

{% macro spark__fct_sales_previous(step) -%}
    {%- if fct_sales_merges() -%}
    {%- elif step == 'drop' -%}
    drop table if exists {{ fct_sales_previous_relation() }}
    {%- elif step == 'copy' -%}
        {%- if is_incremental() -%}
    create table {{ fct_sales_previous_relation() }} using parquet as select * from {{ this }}
        {%- endif -%}
    {%- else -%}
    {{ exceptions.raise_compiler_error("fct_sales_previous: unknown step " ~ step) }}
    {%- endif -%}
{%- endmacro %}


{#
  The rows the model selects. `lines` is the name of the CTE of the latest file's priced lines (with
  line_hash), `lines_query` a query of those lines (their columns are read from it on Spark).
  Full refresh: every line. Incremental, DuckDB and Postgres: the new or changed lines, for dbt to merge.
#}
{% macro incremental_fact_lines(lines, lines_query) -%}
    {{ adapter.dispatch('incremental_fact_lines', 'retail_elt')(lines, lines_query) }}
{%- endmacro %}

{% macro default__incremental_fact_lines(lines, lines_query) -%}
    select * from {{ lines }}
    {%- if is_incremental() %}
    -- Merge only lines that are new or changed since the last build (by their content hash).
    where not exists (
        select 1
        from {{ this }} as existing
        where existing.order_number = {{ lines }}.order_number
            and existing.line_item = {{ lines }}.line_item
            and existing.line_hash = {{ lines }}.line_hash
    )
    {%- endif %}
{%- endmacro %}

{#
  Spark, incremental: the whole new table, equal to what merge and the deletes leave on the other targets.
  The new or changed lines, plus the previous lines that none of them replaces (unchanged lines keep their
  load_id; lines missing from the file stay), without the lines removed for any reason. A column the model
  gained (on_schema_change: dbt appends it to the table before the overwrite) is null in previous lines.
#}
{% macro spark__incremental_fact_lines(lines, lines_query) -%}
    {%- if fct_sales_merges() -%}
    {{ default__incremental_fact_lines(lines, lines_query) }}
    {%- elif not is_incremental() -%}
    select * from {{ lines }}
    {%- else -%}
        {%- set previous = fct_sales_previous_relation() -%}
        {%- set line_columns = get_columns_in_query(lines_query) if execute else [] -%}
        {%- set previous_columns = adapter.get_columns_in_relation(this) | map(attribute='name') | map('lower') | list -%}
    select * from (
        select * from {{ lines }}
        where not exists (
            select 1
            from {{ previous }} as previous
            where previous.order_number = {{ lines }}.order_number
                and previous.line_item = {{ lines }}.line_item
                and previous.line_hash = {{ lines }}.line_hash
        )
        union all
        select
        {%- for column in line_columns %}
            {{ 'previous.`' ~ column ~ '`' if column | lower in previous_columns else 'null' }} as `{{ column }}`
            {{- ',' if not loop.last }}
        {%- endfor %}
        from {{ previous }} as previous
        where not exists (
            select 1
            from {{ lines }}
            where {{ lines }}.order_number = previous.order_number
                and {{ lines }}.line_item = previous.line_item
                and {{ lines }}.line_hash <> previous.line_hash
        )
    ) as line
    where
        {%- for reason in ['rejected', 'orphan_customer', 'orphan_product', 'orphan_store'] %}
        not ({{ fct_sales_removed(reason, 'line') }}){{ ' and' if not loop.last }}
        {%- endfor %}
    {%- endif -%}
{%- endmacro %}
