{#
  Record-level helpers shared by the staging and intermediate models.
#}

{#
  The raw record as compact JSON text, keys in file order, identical on every target
  (`{"customer_key":"301","gender":"Male",...}`); null fields stay JSON null.
  `relation_alias` is the CTE or table alias the columns are read from.
#}
{% macro record_json(relation_alias, columns) -%}
    {{ adapter.dispatch('record_json', 'retail_elt')(relation_alias, columns) }}
{%- endmacro %}

{% macro duckdb__record_json(relation_alias, columns) -%}
    cast(to_json(struct_pack({% for c in columns %}"{{ c }}" := {{ relation_alias }}."{{ c }}"{{ ', ' if not loop.last }}{% endfor %})) as varchar)
{%- endmacro %}

{% macro postgres__record_json(relation_alias, columns) -%}
    (select cast(row_to_json(record) as text) from (select {% for c in columns %}{{ relation_alias }}."{{ c }}"{{ ', ' if not loop.last }}{% endfor %}) as record)
{%- endmacro %}

{# Spark: `ignoreNullFields` off, or null fields would be left out. Same text as DuckDB's (escapes included). #}
{% macro spark__record_json(relation_alias, columns) -%}
    to_json(named_struct({% for c in columns %}'{{ c }}', {{ relation_alias }}.`{{ c }}`{{ ', ' if not loop.last }}{% endfor %}), map('ignoreNullFields', 'false'))
{%- endmacro %}


{#
  Every row of `relation` with its disposition, the single column that tells where a raw row went:
    exact_duplicate       a later, byte-identical copy of an earlier row (counted, kept once)
    <reject_reason>       the row's own defect (invalid_key, orphan_customer, ...), from the model
    clean                 the best record of its natural key
    superseded_duplicate  another record of the same key that lost to the best one
  `relation` must have `source_row`, `raw_record` and `reject_reason` (null when the row is fine);
  `best_record_order` ranks the records of one key, best first.
#}
{% macro classify_records(relation, key_columns, best_record_order) -%}
    select
        *,
        case
            when copy_number > 1 then 'exact_duplicate'
            when reject_reason is not null then reject_reason
            when preference_rank = 1 then 'clean'
            else 'superseded_duplicate'
        end as disposition
    from (
        select
            *,
            row_number() over (
                partition by {{ key_columns | join(', ') }}, (copy_number > 1 or reject_reason is not null)
                order by {{ best_record_order }}
            ) as preference_rank
        from (
            select
                *,
                row_number() over (partition by raw_record order by source_row) as copy_number
            from {{ relation }}
        ) as copies
    ) as ranked
{%- endmacro %}


{# The dispositions that send a row to rejected_records (everything but clean rows and exact copies). #}
{% macro is_rejected(disposition_column='disposition') -%}
    {{ disposition_column }} not in ('clean', 'exact_duplicate')
{%- endmacro %}


{#
  The first step of every staging model: the raw row's line and load, the raw record as JSON (the row
  exactly as it was in the file), and each raw column trimmed, with empty text and the null spellings
  (var `null_spellings`, compared ignoring case) as null. Same column names as in raw.
#}
{% macro select_trimmed_raw(relation_alias, columns) -%}
    select
        source_row,
        load_id,
        raw_record,
        {%- for column in columns %}
        {{ null_if_spelled_null(column) }} as {{ column }}{{ ',' if not loop.last }}
        {%- endfor %}
    from (
        select
            _source_row as source_row,
            _load_id as load_id,
            {{ record_json(relation_alias, columns) }} as raw_record,
            {%- for column in columns %}
            {{ trimmed_text(column) }} as {{ column }}{{ ',' if not loop.last }}
            {%- endfor %}
        from {{ relation_alias }}
    ) as trimmed_cells
{%- endmacro %}



{#
  The deduplicated records of one source: the rows of `staging_model` whose disposition in
  `classified_model` (see classify_records) is `clean`, so one row per natural key. Selects the staging
  `columns`, then the `classified_columns` the classification added (e.g. the sales line's rate), then
  `source_row` and `load_id` for lineage back to the raw row.
#}
{% macro clean_records(staging_model, classified_model, columns, classified_columns=[]) -%}
with staged as (

    select * from {{ ref(staging_model) }}

),

classified as (

    select * from {{ ref(classified_model) }}

),

final as (

    select
    {%- for column in columns %}
        staged.{{ column }},
    {%- endfor %}
    {%- for column in classified_columns %}
        classified.{{ column }},
    {%- endfor %}
        staged.source_row,
        staged.load_id
    from staged
    inner join classified on staged.source_row = classified.source_row
    where classified.disposition = 'clean'

)

select * from final
{%- endmacro %}
