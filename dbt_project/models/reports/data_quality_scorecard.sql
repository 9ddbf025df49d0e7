{#
  Per source: where its raw rows went, how clean the keys were, how the dbt tests on the
  source's own models (models whose name contains the source name) did in the latest recorded build,
  and how its latest file fared against the raw data contract (GX; a refused file shows here at once).
    score = 100 x (share of raw rows not rejected) x (share of those tests that passed), one decimal.
  A view, so it always shows the latest run recorded in audit (the run that built it included).
#}
{{ config(materialized='view') }}

{%- set sources = ['customers', 'products', 'stores', 'exchange_rates', 'sales'] -%}

with
{%- for source_name in sources %}

{{ source_name }}_rows as (

    select
        '{{ source_name }}' as source,
        count(*) as raw_rows,
        count(case when disposition = 'clean' then 1 end) as clean_rows,
        count(case when disposition = 'exact_duplicate' then 1 end) as exact_duplicates,
        count(case when {{ is_rejected() }} then 1 end) as rejected_rows,
        count(case when disposition = 'invalid_key' then 1 end) as invalid_keys
    from {{ ref('int_' ~ source_name ~ '_classified') }}

),
{%- endfor %}

row_counts as (
    {%- for source_name in sources %}
    select * from {{ source_name }}_rows
    {{ 'union all' if not loop.last }}
    {%- endfor %}
),

reasons as (

    select source, reason, count(*) as rejected
    from {{ ref('rejected_records') }}
    group by source, reason

),

reasons_text as (

    select
        source,
        {{ ordered_string_agg("reason || '=' || cast(rejected as " ~ dbt.type_string() ~ ")", "', '", 'reason') }} as rejected_by_reason
    from reasons
    group by source

),

node_results as (

    select * from {{ ref('stg_audit__node_results') }}

),

-- The latest run whose dbt results are recorded (during `elt run`, the run that built this view).
latest_run as (

    select max(run_id) as run_id from node_results

),

test_results as (

    select
        row_counts.source,
        count(case when node_results.status = 'pass' then 1 end) as tests_passed,
        count(case when node_results.status in ('fail', 'error') then 1 end) as tests_failed,
        count(case when node_results.status = 'warn' then 1 end) as tests_warned
    from row_counts
    left join node_results
        on node_results.run_id = (select run_id from latest_run)
        and node_results.resource_type = 'test'
        and node_results.attached_model like '%' || row_counts.source || '%'
    group by row_counts.source

),

-- Values flagged on the rows kept (docs/cleaning-rules.md): anything but valid or missing.
{%- set flagged_columns = {
    'customers': ('dim_customers', ['birthday_status', 'age_status', 'email_status']),
    'stores': ('dim_stores', ['square_meters_status', 'open_date_status']),
    'sales': ('fct_sales', ['delivery_date_status']),
} %}
flag_counts as (
    {%- for source_name, (model, columns) in flagged_columns.items() %}
    {%- set source_loop = loop %}
    {%- for column in columns %}
    select '{{ source_name }}' as source, '{{ column }}:' || {{ column }} as flag, count(*) as flagged
    from {{ ref(model) }}
    where {{ column }} not in ('valid', 'missing')
    group by {{ column }}
    {{ 'union all' if not (loop.last and source_loop.last) }}
    {%- endfor %}
    {%- endfor %}
),

flags as (

    select
        source,
        sum(flagged) as flagged_values,
        {{ ordered_string_agg("flag || '=' || cast(flagged as " ~ dbt.type_string() ~ ")", "', '", 'flag') }} as flags_by_status
    from flag_counts
    group by source

),

validations as (

    select * from {{ ref('stg_audit__validations') }}

),

-- Each source's latest checked file: the one in raw, or a newer one the contract refused.
latest_validation as (

    select source, max(load_id) as load_id from validations group by source

),

contract as (

    select
        validations.source,
        validations.load_id as contract_load_id,
        count(*) as contract_checked,
        count(case when not validations.success and validations.severity = 'critical' then 1 end) as contract_errors,
        count(case when not validations.success and validations.severity <> 'critical' then 1 end)
            as contract_warnings
    from validations
    inner join latest_validation
        on validations.source = latest_validation.source and validations.load_id = latest_validation.load_id
    group by validations.source, validations.load_id

),

final as (

    select
        row_counts.source,
        row_counts.raw_rows,
        row_counts.clean_rows,
        row_counts.exact_duplicates,
        row_counts.rejected_rows,
        coalesce(reasons_text.rejected_by_reason, '') as rejected_by_reason,
        cast(coalesce(flags.flagged_values, 0) as bigint) as flagged_values,
        coalesce(flags.flags_by_status, '') as flags_by_status,
        {{ ratio('row_counts.exact_duplicates', 'row_counts.raw_rows', 4) }} as duplicate_rate,
        {{ ratio('row_counts.rejected_rows', 'row_counts.raw_rows', 4) }} as rejected_rate,
        {{ ratio('row_counts.invalid_keys', 'row_counts.raw_rows', 4) }} as invalid_key_rate,
        (select run_id from latest_run) as tests_run_id,
        test_results.tests_passed,
        test_results.tests_failed,
        test_results.tests_warned,
        contract.contract_load_id,
        case
            when contract.contract_errors > 0 then 'failed'
            when contract.contract_warnings > 0 then 'warned'
            when contract.contract_checked > 0 then 'passed'
            else 'not_checked'
        end as contract_status,
        coalesce(contract.contract_errors, 0) as contract_errors,
        coalesce(contract.contract_warnings, 0) as contract_warnings,
        cast(round(
            100.0
            * (row_counts.raw_rows - row_counts.rejected_rows) / nullif(row_counts.raw_rows, 0)
            * coalesce(test_results.tests_passed * 1.0 / nullif(test_results.tests_passed + test_results.tests_failed, 0), 1)
        , 1) as numeric(4, 1)) as score
    from row_counts
    left join reasons_text on row_counts.source = reasons_text.source
    left join flags on row_counts.source = flags.source
    left join test_results on row_counts.source = test_results.source
    left join contract on row_counts.source = contract.source

)

select * from final
